"""Storing triage requests and results (every call is kept: later features and evals use them)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import new_id, utcnow
from app.db.models import TriageRecord
from app.schemas import TicketIn
from app.triage.schemas import TriageResult

if TYPE_CHECKING:
    from app.services import Services

log = logging.getLogger("replydesk.triage")


def record_for(ticket: TicketIn, result: TriageResult, api_key_id: str | None) -> dict[str, object]:
    return {
        "id": result.id,
        "created_at": utcnow(),
        "external_id": ticket.external_id,
        "channel": ticket.channel.value,
        "message": ticket.message,
        "subject": ticket.subject,
        "request": msgspec.to_builtins(ticket),
        "result": msgspec.to_builtins(result),
        "intent": result.intent.label,
        "urgency": result.urgency.level,
        "sentiment": result.sentiment.label,
        "language": result.language.code,
        "escalate": result.escalation.escalate,
        "model_version": result.model_version,
        "latency_ms": result.timings.total_ms,
        "api_key_id": api_key_id,
    }


def assign_ids(results: list[TriageResult]) -> None:
    for result in results:
        result.id = result.id or new_id()


async def save(session: AsyncSession, pairs: list[tuple[TicketIn, TriageResult]], api_key_id: str | None) -> None:
    """Store the pairs in one transaction (one multi-row INSERT) and set each result's ``id``.

    A Core insert with ids made here, not ORM objects: triage is the hottest write path, and the
    unit-of-work bookkeeping cost more than the insert itself."""
    assign_ids([result for _, result in pairs])
    await session.execute(insert(TriageRecord), [record_for(ticket, result, api_key_id) for ticket, result in pairs])
    await session.commit()


async def save_later(services: Services, pairs: list[tuple[TicketIn, TriageResult]], api_key_id: str | None) -> None:
    """``save`` in a session of its own, after the response has gone out."""
    try:
        async with services.sessions() as session:
            await save(session, pairs, api_key_id)
    except Exception as exc:  # the answer is already sent: record the failure, do not raise
        log.error("triage record %s not stored: %s", pairs[0][1].id if pairs else "-", type(exc).__name__)
