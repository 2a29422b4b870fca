"""Storing triage requests and results (every call is kept: later features and evals use them)."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import TriageRecord
from app.schemas import TicketIn
from app.triage.schemas import TriageResult


def record_for(ticket: TicketIn, result: TriageResult, api_key_id: str | None) -> TriageRecord:
    return TriageRecord(
        external_id=ticket.external_id,
        channel=ticket.channel.value,
        message=ticket.message,
        subject=ticket.subject,
        request=msgspec.to_builtins(ticket),
        result=msgspec.to_builtins(result),
        intent=result.intent.label,
        urgency=result.urgency.level,
        sentiment=result.sentiment.label,
        language=result.language.code,
        escalate=result.escalation.escalate,
        model_version=result.model_version,
        latency_ms=result.timings.total_ms,
        api_key_id=api_key_id,
    )


async def save(session: AsyncSession, pairs: list[tuple[TicketIn, TriageResult]], api_key_id: str | None) -> None:
    """Store the pairs in one transaction and set each result's ``id``."""
    records = [record_for(ticket, result, api_key_id) for ticket, result in pairs]
    session.add_all(records)
    await session.flush()
    for record, (_, result) in zip(records, pairs, strict=True):
        result.id = record.id
    await session.commit()
