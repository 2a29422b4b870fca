"""QA reads eval reports over HTTP: `GET /v1/evals`, `GET /v1/evals/{id}` (scope `evals`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.db.models import EvalReportRecord
from app.lib.errors import NotFound


class EvalSummary(msgspec.Struct, kw_only=True):
    id: str
    created_at: datetime
    name: str
    dataset: str
    generator: str | None
    n_tickets: int
    summary: dict[str, Any]


class EvalReport(EvalSummary, kw_only=True):
    report: dict[str, Any]
    directory: str | None


class EvalsController(Controller):
    path = "/v1/evals"
    tags = ["evals"]
    guards = [requires("evals")]

    @get("/", summary="Eval runs, newest first.")
    async def list_reports(
        self, db_session: NamedDependency[AsyncSession], limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50
    ) -> list[EvalSummary]:
        rows = (
            await db_session.scalars(select(EvalReportRecord).order_by(EvalReportRecord.created_at.desc()).limit(limit))
        ).all()
        return [msgspec.convert(r, EvalSummary, from_attributes=True) for r in rows]

    @get("/{report_id:str}", summary="One eval report (the report.json of the run).")
    async def read(self, report_id: FromPath[str], db_session: NamedDependency[AsyncSession]) -> EvalReport:
        r = await db_session.get(EvalReportRecord, report_id)
        if r is None:
            raise NotFound(f"no eval report {report_id}")
        return msgspec.convert(r, EvalReport, from_attributes=True)
