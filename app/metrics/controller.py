"""`GET /v1/metrics/summary` (JSON, for team leads) and `GET /metrics` (Prometheus)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.db.models import Draft, Ticket
from app.lib.errors import Unprocessable
from app.metrics.registry import METRICS, LabelKey

GroupBy = Literal["intent", "language", "generator"]


class Summary(msgspec.Struct, kw_only=True):
    drafts_created: int
    reviewed: int
    acceptance_rate: float | None
    edit_rate: float | None
    rejection_rate: float | None
    mean_edit_distance: float | None
    rejection_reasons: dict[str, int]
    sent: int
    median_first_response_minutes: float | None
    sla_adherence: float | None
    sla_tickets: int
    llm_fallbacks: int
    cost_usd: float


class SummaryOut(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    overall: Summary
    group_by: str | None = None
    groups: dict[str, Summary] = msgspec.field(default_factory=dict)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(drafts: list[Draft], tickets: dict[str, Ticket], now: datetime) -> Summary:
    reviewed = [d for d in drafts if d.state != "suggested" or d.reviewed_at is not None]
    reviewed = [d for d in reviewed if d.reviewed_at is not None]
    approved_unchanged = [d for d in reviewed if d.final_body is not None and (d.edit_distance or 0.0) == 0.0]
    edited = [d for d in reviewed if d.edit_distance is not None and d.edit_distance > 0]
    rejected = [d for d in reviewed if d.reject_reason is not None]
    # First response: the first approved (or edited) draft of each ticket.
    first_ok: dict[str, datetime] = {}
    for d in drafts:
        if d.ticket_id and d.final_body is not None and d.reviewed_at is not None:
            first_ok[d.ticket_id] = min(first_ok.get(d.ticket_id, d.reviewed_at), d.reviewed_at)
    waits = [
        (at - tickets[t].received_at).total_seconds() / 60
        for t, at in first_ok.items()
        if t in tickets and tickets[t].received_at
    ]
    sla_total = sla_met = 0
    for ticket_id in {d.ticket_id for d in drafts if d.ticket_id}:
        ticket = tickets.get(ticket_id)
        if ticket is None or ticket.sla_due_at is None:
            continue
        answered = first_ok.get(ticket_id)
        if answered is None and ticket.sla_due_at > now:
            continue  # still open and not yet due: neither met nor missed
        sla_total += 1
        sla_met += int(answered is not None and answered <= ticket.sla_due_at)
    return Summary(
        drafts_created=len(drafts),
        reviewed=len(reviewed),
        acceptance_rate=_ratio(len(approved_unchanged), len(reviewed)),
        edit_rate=_ratio(len(edited), len(reviewed)),
        rejection_rate=_ratio(len(rejected), len(reviewed)),
        mean_edit_distance=round(statistics.fmean(d.edit_distance or 0.0 for d in edited), 4) if edited else None,
        rejection_reasons=dict(sorted(Counter(d.reject_reason for d in rejected if d.reject_reason).items())),
        sent=sum(1 for d in drafts if d.state == "sent"),
        median_first_response_minutes=round(statistics.median(waits), 2) if waits else None,
        sla_adherence=_ratio(sla_met, sla_total),
        sla_tickets=sla_total,
        llm_fallbacks=sum(1 for d in drafts if d.fallback_reason),
        cost_usd=round(sum(d.cost_usd or 0.0 for d in drafts), 6),
    )


def _group_key(draft: Draft, group_by: GroupBy) -> str:
    if group_by == "intent":
        return draft.intent or "unknown"
    if group_by == "language":
        return draft.language
    return "template" if draft.generator.startswith("template") else draft.generator


class MetricsController(Controller):
    tags = ["metrics"]

    @get(
        "/v1/metrics/summary",
        guards=[requires("admin", "evals")],
        summary="Acceptance, edits, rejections, first response, SLA, fallbacks, cost.",
    )
    async def summary(
        self,
        db_session: NamedDependency[AsyncSession],
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to")] = None,
        group_by: FromQuery[GroupBy | None] = None,
    ) -> SummaryOut:
        now = datetime.now(UTC)
        end = (end or now).astimezone(UTC) if (end or now).tzinfo else (end or now).replace(tzinfo=UTC)
        start = start or end - timedelta(days=30)
        start = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
        if start >= end:
            raise Unprocessable("`from` must be earlier than `to`")
        drafts = list(
            (await db_session.scalars(select(Draft).where(Draft.created_at >= start, Draft.created_at < end))).all()
        )
        ticket_ids = {d.ticket_id for d in drafts if d.ticket_id}
        tickets = (
            {t.id: t for t in (await db_session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))).all()}
            if ticket_ids
            else {}
        )
        out = SummaryOut(start=start, end=end, overall=summarise(drafts, tickets, now), group_by=group_by)
        if group_by:
            grouped: dict[str, list[Draft]] = defaultdict(list)
            for draft in drafts:
                grouped[_group_key(draft, group_by)].append(draft)
            out.groups = {k: summarise(v, tickets, now) for k, v in sorted(grouped.items())}
        return out

    @get("/metrics", media_type=MediaType.TEXT, summary="Prometheus metrics.", include_in_schema=False)
    async def prometheus(self, db_session: NamedDependency[AsyncSession]) -> Response[str]:
        rows = (await db_session.execute(select(Draft.state, func.count()).group_by(Draft.state))).all()
        gauges: dict[str, dict[LabelKey, float]] = {
            "replydesk_drafts_by_state": {(("state", str(state)),): float(count) for state, count in rows}
        }
        return Response(METRICS.render(gauges), media_type="text/plain; version=0.0.4")
