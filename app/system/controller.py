"""Liveness, readiness and version."""

from __future__ import annotations

import time

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from app import __version__
from app.db.migrate import current_revision, head_revision
from app.services import Services


class Health(msgspec.Struct):
    status: str
    version: str


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str


class Readiness(msgspec.Struct):
    ready: bool
    checks: list[Check]
    version: str


class SystemController(Controller):
    tags = ["system"]

    @get("/health", summary="Liveness: the process answers.")
    async def health(self) -> Health:
        return Health(status="ok", version=__version__)

    @get("/ready", summary="Readiness: database reachable and migrated, models loaded, Chroma reachable.")
    async def ready(self, services: NamedDependency[Services]) -> Response[Readiness]:
        checks: list[Check] = []
        started = time.perf_counter()
        try:
            async with services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(services.settings.resolved_database_url)
            head = head_revision()
            if revision == head:
                checks.append(Check(name="database", ok=True, detail=f"reachable, at migration {revision}"))
            else:
                checks.append(
                    Check(
                        name="database",
                        ok=False,
                        detail=f"at migration {revision}, expected {head}: run `replydesk db upgrade`",
                    )
                )
        except Exception as exc:
            checks.append(Check(name="database", ok=False, detail=f"unreachable: {type(exc).__name__}"))
        if services.triager is not None:
            checks.append(Check(name="triage_model", ok=True, detail=services.triager.version))
        else:
            checks.append(Check(name="triage_model", ok=False, detail=services.problems.get("triage", "not loaded")))
        if services.kb is not None:
            ok, detail = await services.kb.health()
            checks.append(Check(name="knowledge_base", ok=ok, detail=detail))
        else:
            checks.append(Check(name="knowledge_base", ok=False, detail=services.problems.get("kb", "not loaded")))
        llm = services.drafter.llm_status() if services.drafter is not None else "drafting unavailable"
        checks.append(Check(name="llm", ok=True, detail=llm))
        ready = all(c.ok for c in checks)
        checks.append(Check(name="elapsed", ok=True, detail=f"{(time.perf_counter() - started) * 1000:.1f} ms"))
        return Response(Readiness(ready=ready, checks=checks, version=__version__), status_code=200 if ready else 503)
