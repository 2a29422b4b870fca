"""Typed triage results. Every decision carries a confidence and short reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from app.schemas import MAX_BATCH_ITEMS, Strict, TicketIn


class LabelScore(msgspec.Struct, kw_only=True):
    label: str
    confidence: float


class IntentResult(msgspec.Struct, kw_only=True):
    label: str
    confidence: float
    alternatives: list[LabelScore]
    reasons: list[str]


class UrgencyResult(msgspec.Struct, kw_only=True):
    level: str
    score: float
    confidence: float
    sla_due_at: datetime
    reasons: list[str]


class SentimentResult(msgspec.Struct, kw_only=True):
    label: str
    score: float
    confidence: float
    reasons: list[str]


class LanguageResult(msgspec.Struct, kw_only=True):
    code: str
    confidence: float
    reasons: list[str]


class EscalationSignal(msgspec.Struct, kw_only=True):
    flag: str
    evidence: str
    confidence: float
    reason: str


class EscalationResult(msgspec.Struct, kw_only=True):
    escalate: bool
    flags: list[EscalationSignal]
    confidence: float
    reasons: list[str]


class PartyResult(msgspec.Struct, kw_only=True):
    party: str
    confidence: float
    reasons: list[str]


class QueueResult(msgspec.Struct, kw_only=True):
    name: str
    confidence: float
    reasons: list[str]


class Timings(msgspec.Struct, kw_only=True):
    language_ms: float
    model_ms: float
    rules_ms: float
    total_ms: float


class TriageResult(msgspec.Struct, kw_only=True):
    intent: IntentResult
    urgency: UrgencyResult
    sentiment: SentimentResult
    language: LanguageResult
    escalation: EscalationResult
    responsible_party: PartyResult
    queue: QueueResult
    model_version: str
    timings: Timings
    id: str | None = None
    external_id: str | None = None


class TriageBatchIn(Strict):
    items: Annotated[list[TicketIn], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]


class TriageBatchOut(msgspec.Struct, kw_only=True):
    items: list[TriageResult]
    count: int
    elapsed_ms: float
