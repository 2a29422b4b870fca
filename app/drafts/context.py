"""What a generator receives and what it returns. Both generators share these types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.drafts.facts import PolicyFacts
from app.schemas import TicketIn
from app.triage.schemas import TriageResult


@dataclass(frozen=True, slots=True)
class PassageRef:
    """A retrieved passage as the generator sees it. ``ref`` (P1, P2…) is what an LLM cites."""

    ref: str
    chunk_id: str
    doc_id: str
    anchor: str
    title: str
    heading: str
    locale: str
    text: str
    score: float
    policy_type: str
    scope: str
    version: int = 1
    intents: tuple[str, ...] = ()


_INSTRUCTION_PATTERNS: dict[str, re.Pattern[str]] = {
    "shorter": re.compile(r"short|brief|concise|kürzer|knapp|court|corto|breve|kort|krót|簡潔|短", re.I),
    "formal": re.compile(r"formal|förmlich|formel|formale|formeel|formaln|丁寧", re.I),
    "offer_replacement": re.compile(
        r"replac|exchange|ersatz|austausch|remplac|reemplaz|sostitu|substitu|vervang|wymian|交換", re.I
    ),
    "apologise": re.compile(
        r"apolog|sorry|empath|entschuldig|excus|disculp|scus|desculp|excuses|przeprasz|お詫び", re.I
    ),
}


@dataclass(slots=True)
class Instructions:
    """Agent instructions, parsed into the switches the template generator understands."""

    raw: list[str]
    shorter: bool = False
    formal: bool = False
    offer_replacement: bool = False
    apologise: bool = False
    unknown: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, items: list[str]) -> Instructions:
        result = cls(raw=list(items))
        for item in items:
            matched = False
            for name, pattern in _INSTRUCTION_PATTERNS.items():
                if pattern.search(item):
                    setattr(result, name, True)
                    matched = True
            if not matched:
                result.unknown.append(item)
        return result


@dataclass(slots=True)
class DraftContext:
    ticket: TicketIn
    triage: TriageResult
    language: str
    passages: list[PassageRef]
    facts: PolicyFacts
    instructions: Instructions
    account_takeover: bool = False
    style_guide: str | None = None

    @property
    def customer_name(self) -> str | None:
        customer = self.ticket.customer
        return customer.name.strip() if customer and customer.name and customer.name.strip() else None

    def passage_by_ref(self) -> dict[str, PassageRef]:
        return {p.ref: p for p in self.passages}

    def passage_by_chunk(self) -> dict[str, PassageRef]:
        return {p.chunk_id: p for p in self.passages}


@dataclass(slots=True)
class Sentence:
    text: str
    chunk_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Generation:
    """A generator's output before checks."""

    body: str
    sentences: list[Sentence]
    language: str
    generator: str
    prompt_id: str
    prompt_version: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)
