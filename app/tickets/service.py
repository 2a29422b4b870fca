"""Tickets, stored drafts, the review state machine and its audit trail.

State machine (anything else is a 409)::

    suggested ──approve──► approved ──sent──► sent
        │     ──edit─────► edited   ──sent──► sent
        └─────reject─────► rejected

A transition is one conditional UPDATE (``WHERE version = :expected AND state IN :allowed``)
plus its audit event, in one transaction: of many agents acting on one draft at once exactly
one wins, and there is never a state change without its audit event.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from rapidfuzz.distance import Levenshtein
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEvent, Draft, Ticket
from app.drafts.guardrails import Finding
from app.drafts.schemas import Citation, DraftOut, PromptRef, TokenUsage, Translation
from app.drafts.service import DraftOutcome
from app.kb.schemas import Passage
from app.lib.errors import Conflict, NotFound
from app.schemas import TicketIn
from app.taxonomy import DraftState
from app.triage.schemas import TriageResult

TRANSITIONS: dict[str, tuple[set[DraftState], DraftState]] = {
    "approve": ({DraftState.SUGGESTED}, DraftState.APPROVED),
    "edit": ({DraftState.SUGGESTED}, DraftState.EDITED),
    "reject": ({DraftState.SUGGESTED}, DraftState.REJECTED),
    "sent": ({DraftState.APPROVED, DraftState.EDITED}, DraftState.SENT),
}


def edit_distance(before: str, after: str) -> float:
    """Normalised character edit distance: 0 = unchanged, 1 = completely rewritten."""
    return round(float(Levenshtein.normalized_distance(before, after)), 4)


def unified_diff(before: str, after: str) -> str:
    return "\n".join(
        difflib.unified_diff(before.splitlines(), after.splitlines(), "suggested", "final", lineterm="", n=1)
    )


# ---------------------------------------------------------------- tickets
async def find_ticket(session: AsyncSession, source: str, external_id: str) -> Ticket | None:
    return await session.scalar(select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id))


def _ticket_row(data: TicketIn, source: str, triage: TriageResult | None) -> Ticket:
    return Ticket(
        source=source,
        external_id=data.external_id,
        channel=data.channel.value,
        subject=data.subject,
        message=data.message,
        customer=msgspec.to_builtins(data.customer) if data.customer else None,
        order=msgspec.to_builtins(data.order) if data.order else None,
        history=[msgspec.to_builtins(h) for h in data.history],
        received_at=data.received_at or datetime.now(UTC),
        language=triage.language.code if triage else None,
        intent=triage.intent.label if triage else None,
        urgency=triage.urgency.level if triage else None,
        sla_due_at=triage.urgency.sla_due_at if triage else None,
        triage=msgspec.to_builtins(triage) if triage else None,
        triage_id=triage.id if triage else None,
    )


async def upsert_ticket(
    session: AsyncSession, data: TicketIn, *, source: str = "api", triage: TriageResult | None = None
) -> tuple[Ticket, bool]:
    """The ticket for ``data.external_id`` (created if new). Returns (ticket, created)."""
    if data.external_id:
        existing = await find_ticket(session, source, data.external_id)
        if existing is not None:
            return existing, False
    ticket = _ticket_row(data, source, triage)
    session.add(ticket)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent request created the same external id first: use theirs.
        await session.rollback()
        if data.external_id:
            existing = await find_ticket(session, source, data.external_id)
            if existing is not None:
                return existing, False
        raise
    return ticket, True


async def get_ticket(session: AsyncSession, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    return ticket


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
    """The stored ticket's input fields as JSON values, the empty ones left out."""
    received = ticket.received_at.astimezone(UTC).isoformat().replace("+00:00", "Z") if ticket.received_at else None
    data: dict[str, Any] = {
        "message": ticket.message,
        "subject": ticket.subject,
        "channel": ticket.channel,
        "customer": ticket.customer,
        "order": ticket.order,
        "history": ticket.history or [],
        "received_at": received,
    }
    return {k: v for k, v in data.items() if v is not None}


def ticket_in(ticket: Ticket) -> TicketIn:
    """The stored ticket as the input type the drafter takes."""
    extra = {"external_id": ticket.external_id} if ticket.external_id is not None else {}
    return msgspec.convert({**ticket_fields(ticket), **extra}, TicketIn)


# ---------------------------------------------------------------- drafts
async def store_draft(session: AsyncSession, ticket: Ticket | None, outcome: DraftOutcome, actor: str) -> Draft:
    generation = outcome.generation
    ctx = outcome.ctx
    by_chunk = ctx.passage_by_chunk()
    citations = [
        {
            "sentence_index": i,
            "sentence": s.text,
            "chunk_id": c,
            "anchor": by_chunk[c].anchor,
            "document_id": by_chunk[c].doc_id,
            "title": by_chunk[c].title,
        }
        for i, s in enumerate(generation.sentences)
        for c in s.chunk_ids
        if c in by_chunk
    ]
    draft = Draft(
        ticket_id=ticket.id if ticket else None,
        state=DraftState.SUGGESTED.value,
        version=1,
        body=generation.body,
        language=generation.language,
        intent=ctx.triage.intent.label,
        instructions=list(ctx.instructions.raw),
        citations=citations,
        passages=[
            {
                "chunk_id": p.chunk_id,
                "document_id": p.doc_id,
                "title": p.title,
                "heading_path": [p.title, *([p.heading] if p.heading != p.title else [])],
                "locale": p.locale,
                "text": p.text,
                "score": p.score,
                "anchor": p.anchor,
                "policy_type": p.policy_type,
                "scope": p.scope,
                "version": p.version,
            }
            for p in ctx.passages
        ],
        facts=ctx.facts.as_dict(),
        findings=[msgspec.to_builtins(f) for f in outcome.findings],
        translation=msgspec.to_builtins(outcome.translation) if outcome.translation else None,
        prompt_id=generation.prompt_id,
        prompt_version=generation.prompt_version,
        generator=generation.generator,
        fallback_reason=outcome.fallback_reason,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        cost_usd=outcome.cost_usd,
        latency={**outcome.latency_ms, "notes": outcome.notes},
        triage=msgspec.to_builtins(ctx.triage),
    )
    session.add(draft)
    await session.flush()
    session.add(
        AuditEvent(
            draft_id=draft.id,
            ticket_id=draft.ticket_id,
            actor=actor,
            action="create",
            from_state=None,
            to_state=DraftState.SUGGESTED.value,
            draft_version=1,
            after_body=draft.body,
            prompt_version=f"{draft.prompt_id}@{draft.prompt_version}",
            model=draft.generator,
        )
    )
    if ticket is not None and ticket.triage is None:
        ticket.triage = msgspec.to_builtins(ctx.triage)
        ticket.intent = ctx.triage.intent.label
        ticket.language = ctx.triage.language.code
        ticket.urgency = ctx.triage.urgency.level
        ticket.sla_due_at = ctx.triage.urgency.sla_due_at
    await session.commit()
    return draft


async def get_draft(session: AsyncSession, draft_id: str) -> Draft:
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    return draft


def draft_out(draft: Draft) -> DraftOut:
    latency = dict(draft.latency or {})
    notes: Any = latency.pop("notes", [])
    return DraftOut(
        id=draft.id,
        ticket_id=draft.ticket_id,
        state=draft.state,
        version=draft.version,
        body=draft.body,
        language=draft.language,
        citations=[msgspec.convert(c, Citation) for c in draft.citations],
        passages=[msgspec.convert(p, Passage) for p in draft.passages],
        facts=draft.facts,
        findings=[msgspec.convert(f, Finding) for f in draft.findings],
        prompt=PromptRef(id=draft.prompt_id, version=draft.prompt_version),
        generator=draft.generator,
        fallback_reason=draft.fallback_reason,
        tokens=TokenUsage(prompt=draft.prompt_tokens, completion=draft.completion_tokens, cost_usd=draft.cost_usd),
        latency_ms={k: float(v) for k, v in latency.items() if isinstance(v, int | float)},
        triage=msgspec.convert(draft.triage, TriageResult) if draft.triage else None,
        instructions=list(draft.instructions or []),
        translation=msgspec.convert(draft.translation, Translation) if draft.translation else None,
        notes=list(notes) if isinstance(notes, list) else [],
        created_at=draft.created_at,
        final_body=draft.final_body,
        edit_distance=draft.edit_distance,
        reject_reason=draft.reject_reason,
        reject_comment=draft.reject_comment,
        reviewed_by=draft.reviewed_by,
        reviewed_at=draft.reviewed_at,
        sent_at=draft.sent_at,
    )


@dataclass(frozen=True, slots=True)
class Review:
    action: str
    actor: str
    expected_version: int | None = None
    body: str | None = None
    reason: str | None = None
    comment: str | None = None


async def transition(session: AsyncSession, draft_id: str, review: Review) -> Draft:
    """Apply a review action atomically with its audit event; 404/409 on failure."""
    allowed, target = TRANSITIONS[review.action]
    current = await session.get(Draft, draft_id)
    if current is None:
        raise NotFound(f"no draft {draft_id}")
    before_state, before_version, before_body = current.state, current.version, current.body
    expected = review.expected_version if review.expected_version is not None else before_version
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": target, "version": Draft.version + 1, "updated_at": now}
    distance: float | None = None
    diff: str | None = None
    after_body: str | None = None
    if review.action in ("approve", "edit", "reject"):
        values.update(reviewed_by=review.actor, reviewed_at=now)
    if review.action == "approve":
        after_body, distance = before_body, 0.0
        values.update(final_body=before_body, edit_distance=0.0)
    elif review.action == "edit":
        after_body = review.body or ""
        distance = edit_distance(before_body, after_body)
        diff = unified_diff(before_body, after_body)
        values.update(final_body=after_body, edit_distance=distance)
    elif review.action == "reject":
        values.update(reject_reason=review.reason, reject_comment=review.comment)
    elif review.action == "sent":
        values.update(sent_at=now)
        after_body = current.final_body

    result = await session.execute(
        update(Draft)
        .where(Draft.id == draft_id, Draft.version == expected, Draft.state.in_([s.value for s in allowed]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        fresh = await session.get(Draft, draft_id, populate_existing=True)
        if fresh is None:
            raise NotFound(f"no draft {draft_id}")
        if fresh.state not in {s.value for s in allowed}:
            raise Conflict(
                f"cannot {review.action} a draft that is '{fresh.state}' (allowed from: {', '.join(sorted(s.value for s in allowed))})"
            )
        raise Conflict(
            f"draft {draft_id} changed: you sent version {expected}, it is now version {fresh.version}; reload and retry"
        )
    session.add(
        AuditEvent(
            at=now,
            draft_id=draft_id,
            ticket_id=current.ticket_id,
            actor=review.actor,
            action=review.action,
            from_state=before_state,
            to_state=target,
            draft_version=expected + 1,
            before_body=before_body,
            after_body=after_body,
            diff=diff,
            edit_distance=distance,
            reason=review.reason,
            comment=review.comment,
            prompt_version=f"{current.prompt_id}@{current.prompt_version}",
            model=current.generator,
        )
    )
    await session.commit()
    return await session.get(Draft, draft_id, populate_existing=True)  # type: ignore[return-value]


async def audit_events(session: AsyncSession, draft_id: str) -> list[AuditEvent]:
    return list(
        (await session.scalars(select(AuditEvent).where(AuditEvent.draft_id == draft_id).order_by(AuditEvent.id))).all()
    )


async def count_drafts(session: AsyncSession, ticket_id: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Draft).where(Draft.ticket_id == ticket_id)) or 0)
