"""Tickets over HTTP.

POST /v1/tickets                 create (idempotent on external_id and on Idempotency-Key)
GET  /v1/tickets                 list, newest first
GET  /v1/tickets/{id}            one ticket with its drafts
POST /v1/tickets/{id}/drafts     (re)generate a draft, with agent instructions
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.db.models import Draft, IdempotencyRecord, Ticket
from app.drafts.controller import actor_of, create_draft, with_etag
from app.drafts.schemas import DraftIn, DraftOut, RegenerateIn
from app.lib.errors import Conflict, Unprocessable
from app.schemas import TicketIn
from app.services import Services
from app.tickets import service as tickets
from app.triage import records
from app.triage.schemas import TriageResult

# An Idempotency-Key is reserved (status 0) while its first request runs; a reservation older than
# this belongs to a request that died, and the next retry takes it over.
_PENDING = 0
_ABANDONED = timedelta(minutes=2)
_RETRY_SOON = {"Retry-After": "1"}


def _record(idem_key: str, key_id: str, *, pending_only: bool = False) -> tuple[Any, ...]:
    where = (IdempotencyRecord.key == idem_key, IdempotencyRecord.api_key_id == key_id)
    return (*where, IdempotencyRecord.status_code == _PENDING) if pending_only else where


class TicketCreate(TicketIn, kw_only=True, forbid_unknown_fields=True):
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[\w.:-]+$")] = "api"


class DraftSummary(msgspec.Struct, kw_only=True):
    id: str
    state: str
    version: int
    generator: str
    created_at: datetime


class TicketOut(msgspec.Struct, kw_only=True):
    id: str
    source: str
    external_id: str | None
    channel: str
    subject: str | None
    message: str
    customer: dict[str, Any] | None
    order: dict[str, Any] | None
    history: list[dict[str, Any]]
    received_at: datetime
    language: str | None
    intent: str | None
    urgency: str | None
    sla_due_at: datetime | None
    triage: dict[str, Any] | None
    drafts: list[DraftSummary]
    created_at: datetime


def ticket_out(ticket: Ticket, drafts: list[Draft]) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        source=ticket.source,
        external_id=ticket.external_id,
        channel=ticket.channel,
        subject=ticket.subject,
        message=ticket.message,
        customer=ticket.customer,
        order=ticket.order,
        history=ticket.history or [],
        received_at=ticket.received_at,
        language=ticket.language,
        intent=ticket.intent,
        urgency=ticket.urgency,
        sla_due_at=ticket.sla_due_at,
        triage=ticket.triage,
        created_at=ticket.created_at,
        drafts=[
            DraftSummary(id=d.id, state=d.state, version=d.version, generator=d.generator, created_at=d.created_at)
            for d in drafts
        ],
    )


async def _drafts_of(session: AsyncSession, ticket_id: FromPath[str]) -> list[Draft]:
    return list(
        (await session.scalars(select(Draft).where(Draft.ticket_id == ticket_id).order_by(Draft.created_at))).all()
    )


class TicketsController(Controller):
    path = "/v1/tickets"
    tags = ["tickets"]

    @post("/", guards=[requires("drafts:write")], summary="Store a ticket (idempotent) and triage it.")
    async def create(
        self,
        data: JSONBody[TicketCreate],
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[TicketOut]:
        key_id = str(request.scope.get("api_key_id", ""))
        idem_key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
        if not idem_key:
            out, status = await self._store(data, services, db_session, key_id)
            return Response(out, status_code=status)
        if len(idem_key) > 200:
            raise Unprocessable("Idempotency-Key is longer than 200 characters")
        replay = await self._claim(db_session, idem_key, key_id, digest)
        if replay is not None:
            return replay
        try:
            out, status = await self._store(data, services, db_session, key_id)
        except Exception:
            with contextlib.suppress(Exception):  # failing that, the reservation expires (_ABANDONED)
                await self._release(db_session, idem_key, key_id)
            raise
        answer = {"status_code": status, "response": msgspec.to_builtins(out)}
        await db_session.execute(update(IdempotencyRecord).where(*_record(idem_key, key_id)).values(**answer))
        await db_session.commit()
        return Response(out, status_code=status)

    @staticmethod
    async def _store(
        data: TicketCreate, services: Services, db_session: AsyncSession, key_id: str
    ) -> tuple[TicketOut, int]:
        existing = await tickets.find_ticket(db_session, data.source, data.external_id) if data.external_id else None
        if existing is not None:
            return ticket_out(existing, await _drafts_of(db_session, existing.id)), 200
        triager = services.require_triager()
        result = triager.triage(data)
        await records.save(db_session, [(data, result)], key_id or None)
        ticket, created = await tickets.upsert_ticket(db_session, data, source=data.source, triage=result)
        await db_session.commit()
        return ticket_out(ticket, await _drafts_of(db_session, ticket.id)), 201 if created else 200

    async def _claim(
        self, session: AsyncSession, idem_key: str, key_id: str, digest: str
    ) -> Response[TicketOut] | None:
        """Reserve the key before doing the work (None), or answer from an earlier request.

        Checking first and storing the answer afterwards let simultaneous retries all do the work
        (twin tickets); the reservation's primary key lets exactly one of them through.
        """
        record = await session.get(IdempotencyRecord, (idem_key, key_id))
        if record is None:
            session.add(
                IdempotencyRecord(
                    key=idem_key,
                    api_key_id=key_id,
                    route="POST /v1/tickets",
                    request_hash=digest,
                    status_code=_PENDING,
                    response={},
                )
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            record = await session.get(IdempotencyRecord, (idem_key, key_id), populate_existing=True)
            if record is None:  # the holder failed and released the key just now
                raise Conflict("a request with this Idempotency-Key just failed; retry", headers=_RETRY_SOON)
        abandoned = record.created_at < datetime.now(UTC) - _ABANDONED
        if record.status_code == _PENDING and record.request_hash == digest and abandoned:
            # Its holder died mid-request: take the reservation over (one taker wins the update).
            taken = await session.execute(
                update(IdempotencyRecord)
                .where(*_record(idem_key, key_id, pending_only=True))
                .where(IdempotencyRecord.created_at == record.created_at)
                .values(created_at=datetime.now(UTC))
            )
            await session.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return None
        return self._replay(record, digest)

    @staticmethod
    async def _release(session: AsyncSession, idem_key: str, key_id: str) -> None:
        """Drop an unfinished reservation so the client's retry can do the work."""
        await session.rollback()
        await session.execute(delete(IdempotencyRecord).where(*_record(idem_key, key_id, pending_only=True)))
        await session.commit()

    @staticmethod
    def _replay(record: IdempotencyRecord, digest: str) -> Response[TicketOut]:
        if record.request_hash != digest:
            raise Conflict("this Idempotency-Key was already used with a different request body")
        if record.status_code == _PENDING:
            raise Conflict("the first request with this Idempotency-Key is still running", headers=_RETRY_SOON)
        replayed = msgspec.convert(record.response, TicketOut)
        return Response(replayed, status_code=record.status_code, headers={"Idempotent-Replayed": "true"})

    @get("/", guards=[requires("drafts:read")], summary="Tickets, newest first.")
    async def list_tickets(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        intent: FromQuery[str | None] = None,
    ) -> list[TicketOut]:
        query = select(Ticket).order_by(Ticket.created_at.desc()).limit(limit)
        if intent:
            query = query.where(Ticket.intent == intent)
        rows = list((await db_session.scalars(query)).all())
        return [ticket_out(t, await _drafts_of(db_session, t.id)) for t in rows]

    @get("/{ticket_id:str}", guards=[requires("drafts:read")], summary="One ticket with its drafts.")
    async def read(self, ticket_id: FromPath[str], db_session: NamedDependency[AsyncSession]) -> TicketOut:
        ticket = await tickets.get_ticket(db_session, ticket_id)
        return ticket_out(ticket, await _drafts_of(db_session, ticket.id))

    @post(
        "/{ticket_id:str}/drafts",
        status_code=201,
        guards=[requires("drafts:write")],
        summary="Generate another draft, with instructions.",
    )
    async def regenerate(
        self,
        ticket_id: FromPath[str],
        data: JSONBody[RegenerateIn],
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[DraftOut]:
        ticket = await tickets.get_ticket(db_session, ticket_id)
        base = tickets.ticket_in(ticket)
        triage = msgspec.convert(ticket.triage, TriageResult) if ticket.triage else None
        request_data = DraftIn(
            **{f: getattr(base, f) for f in base.__struct_fields__},
            triage=triage,
            instructions=data.instructions,
            translate_for_agent=data.translate_for_agent,
            agent_language=data.agent_language,
            generator=data.generator,
            ticket_id=ticket.id,
        )
        return with_etag(await create_draft(services, db_session, request_data, actor_of(request)), 201)
