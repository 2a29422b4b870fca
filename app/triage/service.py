"""Triage: from one buyer message (and its context) to a typed, explained decision.

The local model proposes intent, urgency and sentiment; explicit rules add what a model cannot
learn from a few hundred examples (escalation signals, urgency floors, responsibility, SLA).
Everything here is synchronous CPU work with no I/O, so the web layer, the CLI and the evals
call it the same way.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from app.schemas import TicketIn
from app.settings import Settings
from app.taxonomy import (
    SENTIMENT_SCORES,
    URGENCY_ORDER,
    CustomerTier,
    EscalationFlag,
    Intent,
    Sentiment,
    Urgency,
)
from app.triage.language import LanguageIdentifier
from app.triage.model import TriageModel
from app.triage.routing import responsible_party, route
from app.triage.rules import find_escalations
from app.triage.schemas import (
    EscalationResult,
    EscalationSignal,
    IntentResult,
    LabelScore,
    LanguageResult,
    PartyResult,
    QueueResult,
    SentimentResult,
    Timings,
    TriageResult,
    UrgencyResult,
)
from app.triage.text import classifier_text, normalise, strip_quotes_and_signature
from retrieval.embeddings import Embedder

RULES_VERSION = "rules-1"

# Urgency floors: a ticket with one of these signals is at least this urgent.
_URGENCY_FLOORS: dict[EscalationFlag, Urgency] = {
    EscalationFlag.SAFETY_ISSUE: Urgency.URGENT,
    EscalationFlag.LEGAL_THREAT: Urgency.URGENT,
    EscalationFlag.CHARGEBACK_THREAT: Urgency.URGENT,
    EscalationFlag.ABUSIVE: Urgency.HIGH,
    EscalationFlag.HUMAN_REQUESTED: Urgency.HIGH,
    EscalationFlag.REPEAT_CONTACT: Urgency.HIGH,
    EscalationFlag.VIP: Urgency.HIGH,
}
ACCOUNT_TAKEOVER = re.compile(
    r"\b(?:hacked|someone (?:else )?(?:logged|got) in|unauthori[sz]ed (?:order|login|purchase)s?|account (?:was )?(?:taken over|compromised)|"
    r"gehackt|fremde bestellung\w*|hackead[oa]|pirat[ée]|hackerat[oa]|hackead[oa]|invadid[oa]|gehackt|zhakowan\w*|"
    r"hacklendi|взломал\w*)\b|乗っ取|不正(?:ログイン|アクセス)|被盗|被黑|해킹|تم اختراق",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Prepared:
    ticket: TicketIn
    body: str  # the new part of the message: language ID reads it
    text: str  # subject + body: the classifiers read it

    @classmethod
    def of(cls, ticket: TicketIn) -> _Prepared:
        body = strip_quotes_and_signature(normalise(ticket.message))
        return cls(ticket, body, classifier_text(ticket.message, ticket.subject, body=body))


class Triager:
    """Holds the loaded model and identifiers; thread-safe, no per-call state."""

    def __init__(
        self, settings: Settings, model: TriageModel, embedder: Embedder, languages: LanguageIdentifier
    ) -> None:
        self.settings = settings
        self.model = model
        self.embedder = embedder
        self.languages = languages

    @property
    def version(self) -> str:
        return f"{self.model.version}+{RULES_VERSION}"

    @property
    def labels(self) -> dict[str, list[str]]:
        return {name: list(head.labels) for name, head in self.model.heads.items()}

    def intent_prior(self, text: str, top: int = 4, vector: npt.NDArray[np.float32] | None = None) -> dict[str, float]:
        """The most likely intents of a short text (a search query), for retrieval's intent prior.

        ``vector``: the text's embedding by this triager's embedder, when the caller has it (the
        search embeds the same query): the text is then not embedded twice."""
        if "intent" not in self.model.heads:
            return {}
        vectors = vector.reshape(1, -1) if vector is not None else None
        probs = self.model.predict([classifier_text(text)], self.embedder, vectors)["intent"][0]
        labels = self.model.heads["intent"].labels
        order = np.argsort(-probs)[:top]
        return {labels[i]: float(probs[i]) for i in order}

    def triage(self, ticket: TicketIn, *, now: datetime | None = None) -> TriageResult:
        return self.triage_many([ticket], now=now)[0]

    def triage_many(self, tickets: list[TicketIn], *, now: datetime | None = None) -> list[TriageResult]:
        if not tickets:
            return []
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        prepared = [_Prepared.of(t) for t in tickets]
        model_started = time.perf_counter()
        probabilities = self.model.predict([p.text for p in prepared], self.embedder)
        model_ms = (time.perf_counter() - model_started) * 1000 / len(tickets)
        setup_ms = (model_started - started) * 1000 / len(tickets)
        results = []
        for i, item in enumerate(prepared):
            t0 = time.perf_counter()
            language = self._language(item)
            t1 = time.perf_counter()
            result = self._decide(item, {k: v[i] for k, v in probabilities.items()}, language, now)
            t2 = time.perf_counter()
            result.timings = Timings(
                language_ms=round((t1 - t0) * 1000, 3),
                model_ms=round(model_ms, 3),
                rules_ms=round((t2 - t1) * 1000, 3),
                total_ms=round(setup_ms + model_ms + (t2 - t0) * 1000, 3),
            )
            results.append(result)
        return results

    # ---- the parts ----
    def _language(self, item: _Prepared) -> LanguageResult:
        ticket = item.ticket
        hint = ticket.language_hint or (ticket.customer.locale if ticket.customer else None)
        guess = self.languages.identify(item.body, hint=hint)
        return LanguageResult(code=guess.code, confidence=round(guess.confidence, 4), reasons=guess.reasons)

    def _head(self, name: str, probs: dict[str, np.ndarray]) -> list[tuple[str, float]]:
        if name not in probs:
            return []
        labels = self.model.heads[name].labels
        order = np.argsort(-probs[name])
        return [(labels[j], float(probs[name][j])) for j in order]

    def _decide(
        self, item: _Prepared, probs: dict[str, np.ndarray], language: LanguageResult, now: datetime
    ) -> TriageResult:
        ticket = item.ticket
        # --- intent ---
        ranked = self._head("intent", probs) or [(Intent.OTHER.value, 0.0)]
        top_label, top_p = ranked[0]
        intent_reasons = [f"local classifier: {top_label} {top_p:.2f}"]
        if len(ranked) > 1:
            intent_reasons.append(f"runner-up {ranked[1][0]} {ranked[1][1]:.2f}")
        intent = IntentResult(
            label=top_label,
            confidence=round(top_p, 4),
            alternatives=[LabelScore(label=lbl, confidence=round(p, 4)) for lbl, p in ranked[1:4]],
            reasons=intent_reasons,
        )

        # --- escalation ---
        signals: list[EscalationSignal] = []
        scan = f"{ticket.subject or ''}\n{item.text}"
        for hit in find_escalations(scan):
            signals.append(
                EscalationSignal(flag=hit.flag.value, evidence=hit.evidence, confidence=0.85, reason=hit.reason)
            )
        flagged = {s.flag for s in signals}
        earlier = [h for h in ticket.history if h.role == "buyer" and h.text.strip()]
        if earlier and EscalationFlag.REPEAT_CONTACT not in flagged:
            signals.append(
                EscalationSignal(
                    flag=EscalationFlag.REPEAT_CONTACT.value,
                    evidence=f"{len(earlier)} earlier buyer message(s) in history",
                    confidence=0.95,
                    reason="history shows earlier contact",
                )
            )
        if ticket.customer and ticket.customer.tier == CustomerTier.VIP:
            signals.append(
                EscalationSignal(
                    flag=EscalationFlag.VIP.value, evidence="customer.tier = vip", confidence=1.0, reason="VIP customer"
                )
            )
        flags = [s.flag for s in signals]
        hard = {
            EscalationFlag.LEGAL_THREAT,
            EscalationFlag.CHARGEBACK_THREAT,
            EscalationFlag.SAFETY_ISSUE,
            EscalationFlag.HUMAN_REQUESTED,
            EscalationFlag.ABUSIVE,
        }
        escalate = any(f in hard for f in flags)
        escalation = EscalationResult(
            escalate=escalate,
            flags=signals,
            confidence=round(max((s.confidence for s in signals), default=0.8), 4),
            reasons=[f"{s.flag}: {s.reason}" for s in signals] or ["no escalation signal found"],
        )

        # --- sentiment ---
        sent_ranked = self._head("sentiment", probs)
        if sent_ranked:
            sent_label, sent_p = sent_ranked[0]
            dist = dict(sent_ranked)
            score = sum(SENTIMENT_SCORES.get(Sentiment(k), 0.0) * p for k, p in dist.items() if k in SENTIMENT_SCORES)
            sent_reasons = [f"local classifier: {sent_label} {sent_p:.2f}"]
        else:
            sent_label, sent_p, score, sent_reasons = Sentiment.NEUTRAL.value, 0.0, 0.0, ["no sentiment model"]
        if EscalationFlag.ABUSIVE in flags and sent_label not in (Sentiment.VERY_NEGATIVE, Sentiment.NEGATIVE):
            sent_label, score = Sentiment.VERY_NEGATIVE.value, min(score, -0.75)
            sent_reasons.append("abusive wording")
        sentiment = SentimentResult(
            label=sent_label,
            score=round(float(np.clip(score, -1, 1)), 4),
            confidence=round(sent_p, 4),
            reasons=sent_reasons,
        )

        # --- urgency ---
        urgency = self._urgency(ticket, probs, flags, sentiment, item.text, now)

        # --- responsibility and queue ---
        decision = responsible_party(intent.label, ticket.order)
        party = PartyResult(
            party=decision.party.value,
            confidence=round(decision.certainty * max(intent.confidence, 0.3) ** 0.5, 4),
            reasons=[decision.reason],
        )
        queue_ranked = self._head("queue", probs)
        if queue_ranked and not any(f in self.settings.escalation_queues for f in flags):
            queue = QueueResult(
                name=queue_ranked[0][0],
                confidence=round(queue_ranked[0][1], 4),
                reasons=[f"local classifier: {queue_ranked[0][0]} {queue_ranked[0][1]:.2f}"],
            )
        else:
            name, why = route(intent.label, flags, self.settings.queues, self.settings.escalation_queues)
            queue = QueueResult(name=name, confidence=intent.confidence if "intent" in why else 0.9, reasons=[why])

        return TriageResult(
            intent=intent,
            urgency=urgency,
            sentiment=sentiment,
            language=language,
            escalation=escalation,
            responsible_party=party,
            queue=queue,
            model_version=self.version,
            timings=Timings(language_ms=0, model_ms=0, rules_ms=0, total_ms=0),
            external_id=ticket.external_id,
        )

    def _urgency(
        self,
        ticket: TicketIn,
        probs: dict[str, np.ndarray],
        flags: list[str],
        sentiment: SentimentResult,
        text: str,
        now: datetime,
    ) -> UrgencyResult:
        ranked = self._head("urgency", probs)
        levels = [u.value for u in URGENCY_ORDER]
        if ranked:
            dist = dict(ranked)
            model_level, model_p = ranked[0]
            if model_level not in levels:  # a custom urgency taxonomy: report it as is
                expected = 0.5
            else:
                expected = sum(levels.index(k) * p for k, p in dist.items() if k in levels) / 3
            reasons = [f"local classifier: {model_level} {model_p:.2f}"]
        else:
            model_level, model_p, expected, reasons = Urgency.NORMAL.value, 0.5, 1 / 3, ["no urgency model"]

        level = model_level
        confidence = model_p
        floors: list[tuple[Urgency, str]] = [
            (_URGENCY_FLOORS[EscalationFlag(f)], f"{f} signal") for f in flags if EscalationFlag(f) in _URGENCY_FLOORS
        ]
        if ACCOUNT_TAKEOVER.search(text):
            floors.append((Urgency.URGENT, "possible account takeover"))
        if sentiment.label == Sentiment.VERY_NEGATIVE and sentiment.confidence >= 0.6:
            floors.append((Urgency.HIGH, "very negative tone"))
        if level in levels:
            for floor, why in floors:
                if levels.index(floor.value) > levels.index(level):
                    level = floor.value
                    confidence = max(confidence, 0.8)
                    reasons.append(f"raised to {floor.value}: {why}")
            expected = max(expected, levels.index(level) / 3)
        channel_table = self.settings.sla_minutes.get(level) or self.settings.sla_minutes.get(Urgency.NORMAL.value, {})
        minutes = channel_table.get(ticket.channel.value, max(channel_table.values(), default=1440))
        received = ticket.received_at or now
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        due = received + timedelta(minutes=minutes)
        reasons.append(f"SLA {minutes} min for {level} on {ticket.channel.value}")
        return UrgencyResult(
            level=level,
            score=round(float(expected), 4),
            confidence=round(confidence, 4),
            sla_due_at=due,
            reasons=reasons,
        )
