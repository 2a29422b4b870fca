"""Draft API types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from app.drafts.guardrails import Finding
from app.kb.schemas import Passage
from app.schemas import TicketIn
from app.triage.schemas import TriageResult

Instruction = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class DraftIn(TicketIn, kw_only=True, forbid_unknown_fields=True):
    """A ticket to draft a reply for, with optional triage and agent instructions."""

    triage: TriageResult | None = None
    instructions: Annotated[list[Instruction], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    translate_for_agent: bool = False
    agent_language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None
    generator: Literal["auto", "template", "llm"] = "auto"
    ticket_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class RegenerateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    instructions: Annotated[list[Instruction], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    translate_for_agent: bool = False
    agent_language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None
    generator: Literal["auto", "template", "llm"] = "auto"


class Citation(msgspec.Struct, kw_only=True):
    sentence_index: int
    sentence: str
    chunk_id: str
    anchor: str
    document_id: str
    title: str


class PromptRef(msgspec.Struct, kw_only=True):
    id: str
    version: str


class TokenUsage(msgspec.Struct, kw_only=True):
    prompt: int
    completion: int
    cost_usd: float


class Translation(msgspec.Struct, kw_only=True):
    language: str
    body: str
    generator: str


class DraftOut(msgspec.Struct, kw_only=True):
    id: str
    ticket_id: str | None
    state: str
    version: int
    body: str
    language: str
    citations: list[Citation]
    passages: list[Passage]
    facts: dict[str, Any]
    findings: list[Finding]
    prompt: PromptRef
    generator: str
    fallback_reason: str | None
    tokens: TokenUsage
    latency_ms: dict[str, float]
    triage: TriageResult | None
    instructions: list[str]
    translation: Translation | None
    notes: list[str]
    created_at: datetime
    final_body: str | None = None
    edit_distance: float | None = None
    reject_reason: str | None = None
    reject_comment: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    sent_at: datetime | None = None
