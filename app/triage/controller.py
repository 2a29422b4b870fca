"""`POST /v1/triage` and `POST /v1/triage/batch`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.schemas import TicketIn
from app.services import Services
from app.triage import records
from app.triage.schemas import TriageBatchIn, TriageBatchOut, TriageResult

# Batches above this size run in a worker thread so one big batch does not stall other requests.
_THREAD_ABOVE = 8


def _key_id(request: Request[Any, Any, Any]) -> str | None:
    value = request.scope.get("api_key_id")
    return str(value) if value else None


class TriageController(Controller):
    path = "/v1/triage"
    tags = ["triage"]
    guards = [requires("triage")]

    @post("/", status_code=200, summary="Triage one message.")
    async def triage_one(
        self, data: JSONBody[TicketIn], services: NamedDependency[Services], request: Request[Any, Any, Any]
    ) -> Response[TriageResult]:
        result = services.require_triager().triage(data)
        records.assign_ids([result])
        # The record is written right after the answer is sent: a helpdesk waiting on triage
        # should not wait for the database too (a failed write is logged, never silent).
        return Response(
            result, background=BackgroundTask(records.save_later, services, [(data, result)], _key_id(request))
        )

    @post("/batch", status_code=200, summary="Triage up to 256 messages in one call.")
    async def triage_batch(
        self,
        data: JSONBody[TriageBatchIn],
        services: NamedDependency[Services],
        db_session: NamedDependency[AsyncSession],
        request: Request[Any, Any, Any],
    ) -> TriageBatchOut:
        triager = services.require_triager()
        started = time.perf_counter()
        if len(data.items) > _THREAD_ABOVE:
            results = await asyncio.to_thread(triager.triage_many, data.items)
        else:
            results = triager.triage_many(data.items)
        await records.save(db_session, list(zip(data.items, results, strict=True)), _key_id(request))
        return TriageBatchOut(
            items=results, count=len(results), elapsed_ms=round((time.perf_counter() - started) * 1000, 2)
        )
