"""Drafts over HTTP: create (plain and streamed), read, and the review actions.

POST /v1/drafts               create a draft for a ticket (201, ETag = version)
POST /v1/drafts/stream        the same as server-sent events: stage, token…, draft
GET  /v1/drafts/{id}          one draft
GET  /v1/drafts/{id}/audit    its audit trail
POST /v1/drafts/{id}/approve  | /edit | /reject | /sent   (If-Match: version)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.drafts.schemas import DraftIn, DraftOut
from app.lib.errors import ApiError, Unprocessable
from app.metrics.registry import METRICS
from app.services import Services
from app.taxonomy import RejectReason
from app.tickets import service as tickets

log = logging.getLogger("replydesk.drafts")


class EditIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
    version: int | None = None

    def __post_init__(self) -> None:
        if not self.body.strip():
            raise ValueError("body must contain text")


class RejectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: RejectReason
    comment: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    version: int | None = None


class VersionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    version: int | None = None


class AuditEventOut(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    draft_version: int
    before_body: str | None
    after_body: str | None
    diff: str | None
    edit_distance: float | None
    reason: str | None
    comment: str | None
    prompt_version: str | None
    model: str | None


def actor_of(request: Request[Any, Any, Any]) -> str:
    """The key's name, plus the helpdesk agent id when the integration sends one."""
    key = str(request.scope.get("api_key_name", "unknown"))
    agent = request.headers.get("x-agent-id")
    return f"{key}:{agent[:80]}" if agent else key


def expected_version(request: Request[Any, Any, Any], body_version: int | None) -> int | None:
    header = request.headers.get("if-match")
    if header:
        raw = header.strip().removeprefix("W/").strip('"')
        try:
            return int(raw)
        except ValueError as exc:
            raise Unprocessable(f'If-Match must be a draft version such as "3", not {header!r}') from exc
    return body_version


def with_etag(out: DraftOut, status: int = 200) -> Response[DraftOut]:
    return Response(out, status_code=status, headers={"ETag": f'"{out.version}"'})


def record_draft_metrics(out: DraftOut) -> None:
    METRICS.inc(
        "replydesk_drafts_created_total", {"generator": "template" if out.generator.startswith("template") else "llm"}
    )
    if out.fallback_reason:
        METRICS.inc("replydesk_llm_fallbacks_total", {})


async def create_draft(services: Services, session: AsyncSession, data: DraftIn, actor: str) -> DraftOut:
    drafter = services.require_drafter()
    if data.ticket_id:
        ticket = await tickets.get_ticket(session, data.ticket_id)
    else:
        ticket, _ = await tickets.upsert_ticket(session, data, triage=data.triage)
    outcome = await drafter.draft(data)
    draft = await tickets.store_draft(session, ticket, outcome, actor)
    out = tickets.draft_out(draft)
    record_draft_metrics(out)
    return out


class DraftsController(Controller):
    path = "/v1/drafts"
    tags = ["drafts"]

    @post("/", status_code=201, guards=[requires("drafts:write")], summary="Draft a grounded reply for a ticket.")
    async def create(
        self,
        data: JSONBody[DraftIn],
        services: NamedDependency[Services],
        db_session: NamedDependency[AsyncSession],
        request: Request[Any, Any, Any],
    ) -> Response[DraftOut]:
        return with_etag(await create_draft(services, db_session, data, actor_of(request)), 201)

    @post(
        "/stream",
        status_code=200,
        guards=[requires("drafts:write")],
        summary="Draft as server-sent events: stage, token…, draft.",
    )
    async def stream(
        self, data: JSONBody[DraftIn], services: NamedDependency[Services], request: Request[Any, Any, Any]
    ) -> ServerSentEvent:
        drafter = services.require_drafter()
        actor = actor_of(request)
        queue: asyncio.Queue[ServerSentEventMessage | None] = asyncio.Queue()

        async def on_token(text: str) -> None:
            await queue.put(ServerSentEventMessage(data=msgspec.json.encode({"text": text}).decode(), event="token"))
            await asyncio.sleep(0)  # let the response loop send it now, not in one burst at the end

        async def on_stage(name: str, info: dict[str, object]) -> None:
            await queue.put(
                ServerSentEventMessage(data=msgspec.json.encode({"stage": name, **info}).decode(), event="stage")
            )
            await asyncio.sleep(0)

        async def work() -> None:
            try:
                async with services.sessions() as session:
                    if data.ticket_id:
                        ticket = await tickets.get_ticket(session, data.ticket_id)
                    else:
                        ticket, _ = await tickets.upsert_ticket(session, data, triage=data.triage)
                    outcome = await drafter.draft(data, on_token=on_token, on_stage=on_stage)
                    draft = await tickets.store_draft(session, ticket, outcome, actor)
                    out = tickets.draft_out(draft)
                    record_draft_metrics(out)
                await queue.put(ServerSentEventMessage(data=msgspec.json.encode(out).decode(), event="draft"))
            except ApiError as exc:
                await queue.put(
                    ServerSentEventMessage(
                        data=msgspec.json.encode(
                            {"error": {"status": exc.status, "code": exc.code, "message": exc.message}}
                        ).decode(),
                        event="error",
                    )
                )
            except Exception as exc:
                log.error("streamed draft failed: %s", type(exc).__name__)
                await queue.put(
                    ServerSentEventMessage(
                        data='{"error": {"status": 500, "code": "internal_error", "message": "drafting failed"}}',
                        event="error",
                    )
                )
            finally:
                await queue.put(None)

        async def events() -> AsyncGenerator[ServerSentEventMessage, None]:
            task = asyncio.create_task(work())
            try:
                while True:
                    item = await queue.get()
                    if item is None:
                        break
                    yield item
            finally:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        return ServerSentEvent(events())

    @get(
        "/{draft_id:str}", guards=[requires("drafts:read")], summary="One draft with its citations, facts and findings."
    )
    async def read(self, draft_id: FromPath[str], db_session: NamedDependency[AsyncSession]) -> Response[DraftOut]:
        return with_etag(tickets.draft_out(await tickets.get_draft(db_session, draft_id)))

    @get("/{draft_id:str}/audit", guards=[requires("drafts:read")], summary="The draft's append-only audit trail.")
    async def audit(self, draft_id: FromPath[str], db_session: NamedDependency[AsyncSession]) -> list[AuditEventOut]:
        await tickets.get_draft(db_session, draft_id)
        events = await tickets.audit_events(db_session, draft_id)
        return [msgspec.convert(e, AuditEventOut, from_attributes=True) for e in events]

    async def _review(
        self, draft_id: FromPath[str], review: tickets.Review, db_session: NamedDependency[AsyncSession]
    ) -> Response[DraftOut]:
        draft = await tickets.transition(db_session, draft_id, review)
        METRICS.inc("replydesk_review_actions_total", {"action": review.action})
        return with_etag(tickets.draft_out(draft))

    @post("/{draft_id:str}/approve", status_code=200, guards=[requires("drafts:write")], summary="Approve as is.")
    async def approve(
        self,
        draft_id: FromPath[str],
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[VersionIn | None] = None,
    ) -> Response[DraftOut]:
        version = expected_version(request, data.version if data else None)
        return await self._review(draft_id, tickets.Review("approve", actor_of(request), version), db_session)

    @post(
        "/{draft_id:str}/edit",
        status_code=200,
        guards=[requires("drafts:write")],
        summary="Approve with changes (the edit is kept).",
    )
    async def edit(
        self,
        draft_id: FromPath[str],
        data: JSONBody[EditIn],
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[DraftOut]:
        version = expected_version(request, data.version)
        return await self._review(
            draft_id, tickets.Review("edit", actor_of(request), version, body=data.body), db_session
        )

    @post(
        "/{draft_id:str}/reject",
        status_code=200,
        guards=[requires("drafts:write")],
        summary="Reject with a reason code.",
    )
    async def reject(
        self,
        draft_id: FromPath[str],
        data: JSONBody[RejectIn],
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[DraftOut]:
        version = expected_version(request, data.version)
        review = tickets.Review("reject", actor_of(request), version, reason=data.reason.value, comment=data.comment)
        return await self._review(draft_id, review, db_session)

    @post(
        "/{draft_id:str}/sent",
        status_code=200,
        guards=[requires("drafts:write")],
        summary="The helpdesk confirms the reply went out.",
    )
    async def sent(
        self,
        draft_id: FromPath[str],
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[VersionIn | None] = None,
    ) -> Response[DraftOut]:
        version = expected_version(request, data.version if data else None)
        return await self._review(draft_id, tickets.Review("sent", actor_of(request), version), db_session)
