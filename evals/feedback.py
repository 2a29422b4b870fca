"""`replydesk feedback export`: reviewed drafts as labeled tickets (the format of evals/README.md).

Agents' corrections are the best eval data we get. Every draft a human edited or rejected (and
every edited draft that was later sent) becomes one row:

- ``id`` ``fb-<draft id>``; the ticket's message, subject, channel, customer, order, history and
  received_at;
- ``labels``: ``intent`` and ``language`` of the ticket, ``review`` (``edited`` | ``rejected``)
  and, for rejections, ``reject_reason``;
- ``reference_reply``: the text the agent actually approved (edits only; a rejection has none);
- ``draft``: what the assistant had suggested, for context (``LabeledTicket`` ignores it).

A rejection for ``wrong_intent`` says the triage intent was wrong, so that row carries no
``intent`` label: the export feeds training too, and a known-wrong label would poison it. The
predicted intent is still in ``draft.intent``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, or_, select

from app.db.base import create_engine, create_sessionmaker
from app.db.models import AuditEvent, Draft, Ticket
from app.settings import Settings
from app.taxonomy import DraftState, RejectReason
from app.tickets.service import ticket_fields
from evals.dataset import write_jsonl

__all__ = ["export_feedback", "feedback_row", "parse_since"]


def parse_since(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO timestamp (naive = UTC); None when not given."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--since must be an ISO date or timestamp (2026-11-01), not {value!r}") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def feedback_row(draft: Draft, ticket: Ticket) -> dict[str, Any]:
    """One labeled-ticket row for a reviewed draft."""
    rejected = draft.state == DraftState.REJECTED
    labels: dict[str, Any] = {}
    intent = ticket.intent or draft.intent
    if intent and not (rejected and draft.reject_reason == RejectReason.WRONG_INTENT):
        labels["intent"] = intent
    if ticket.language:
        labels["language"] = ticket.language
    labels["review"] = "rejected" if rejected else "edited"
    if rejected and draft.reject_reason:
        labels["reject_reason"] = draft.reject_reason

    row: dict[str, Any] = {"id": f"fb-{draft.id}", **ticket_fields(ticket), "labels": labels}
    if not rejected and draft.final_body is not None:
        row["reference_reply"] = draft.final_body
    row["draft"] = {
        "id": draft.id,
        "body": draft.body,
        "generator": draft.generator,
        "prompt_version": f"{draft.prompt_id}@{draft.prompt_version}",
        "edit_distance": draft.edit_distance,
        "intent": draft.intent,
        "language": draft.language,
        "reviewed_by": draft.reviewed_by,
        "reviewed_at": _iso(draft.reviewed_at),
    }
    return row


async def export_feedback(settings: Settings, out: Path, since: str | None) -> int:
    """Write the reviewed drafts (reviewed at or after ``since``) to ``out``; return the row count."""
    after = parse_since(since)
    # A sent draft was edited before if its audit trail has an edit: its state no longer says so.
    was_edited = exists().where(AuditEvent.draft_id == Draft.id, AuditEvent.action == "edit")
    query = (
        select(Draft, Ticket)
        .join(Ticket, Ticket.id == Draft.ticket_id)
        .where(
            or_(
                Draft.state.in_([DraftState.EDITED.value, DraftState.REJECTED.value]),
                and_(Draft.state == DraftState.SENT.value, was_edited),
            )
        )
        .order_by(Draft.reviewed_at, Draft.id)
    )
    if after is not None:
        query = query.where(Draft.reviewed_at >= after)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = [feedback_row(draft, ticket) for draft, ticket in (await session.execute(query)).all()]
    finally:
        await engine.dispose()
    return write_jsonl(out, rows)
