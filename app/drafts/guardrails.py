"""Checks every draft must pass before an agent sees it.

Each check returns findings with the sentence concerned and the reason. ``error`` findings make
an LLM draft go through one repair attempt and then fall back to the template generator;
``warning`` findings are shown to the agent. The checks assume the worst of the generator:
they are what stands between a prompt-injected model and a buyer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import msgspec

from app.drafts.context import DraftContext, Generation
from app.drafts.template_generator import split_sentences
from app.drafts.templates import load_phrasebook
from app.triage.language import LanguageIdentifier


class Finding(msgspec.Struct, kw_only=True):
    check: str
    severity: str  # "error" | "warning"
    message: str
    sentence: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    min_chars: int = 60
    max_chars: int = 2500


_PLACEHOLDER = re.compile(
    r"\{\{?\s*[A-Za-z_][\w .]*\}?\}|\[(?:EMAIL|PHONE|CARD|IBAN|ADDRESS|NAME)_\d+\]|\[(?i:name|customer name|order number|date|amount|seller)\]|<(?i:name|order_id|date)>|\bX{3,}\b|\bTODO\b|\bTBD\b",
)
# Things no reply of ours may ever say: prompt leakage, personas, markup, and promises an agent
# must authorise. Wording in the main languages; numbers and dates are checked separately.
_FORBIDDEN = [
    ("prompt_leak", re.compile(r"(?i:system prompt|my (?:instructions|prompt)|(?:previous|prior) instructions|as an ai\b|language model|jailbreak|developer mode|<\|im_start\|>|### ?(?:assistant|system))|\bDAN\b")),
    ("markup", re.compile(r"<\s*(?:script|img|iframe|svg|a\s|style|object)\b|javascript:|onerror\s*=|onload\s*=|\]\(https?://", re.I)),
    ("promise", re.compile(
        r"\b(?:i|we) (?:hereby )?(?:guarantee|promise|approve)\b|\bguaranteed (?:refund|compensation|replacement)\b|\brefund (?:is|has been) (?:guaranteed|approved)\b|"
        r"\b(?:voucher|coupon code|discount code|promo code|gift card code)\b|\bcompensation (?:of|payment)\b|\bfree (?:product|item|upgrade)\b|"
        r"\bwir garantieren\b|\bgutschein(?:code)?\b|\bentschädigung von\b|\bnous garantissons\b|\bbon d'achat\b|code promo|\bgarantizamos\b|\bcupón de\b|"
        r"\bgarantiamo\b|\bbuono sconto\b|\bgarantimos\b|\bvale[- ]presente\b|\bwij garanderen\b|\bkortingscode\b|\bgwarantujemy\b|\bkod rabatowy\b|保証いたします|クーポンコード",
        re.I,
    )),
    ("other_customer_data", re.compile(r"other (?:customers?|buyers?)'s? (?:e-?mail|address|order)|list of (?:customers|orders)", re.I)),
]
_DAYS = re.compile(
    r"(\d{1,3})\s*(?:-\s*)?(?:business |working |calendar )?(?:days?|hours?|months?|Tage?n?|Werktage?n?|Stunden|Monate?n?|jours?|heures?|mois|días|horas?|meses|giorni|ore|mesi|dias|dagen|dag|uur|maanden|dni|godzin\w*|miesi\w+|日|時間|か月|ヶ月|営業日)",
    re.I,
)
_MONEY = re.compile(r"(?:€\s*(\d+(?:[.,]\d{1,2})?))|(\d+(?:[.,]\d{1,2})?)\s*(?:€|EUR|euros?|ユーロ)", re.I)
_ISO_DATE = re.compile(r"\b(20\d{2})-(\d{2})-(\d{2})\b")


def _localized_dates(locale: str, text: str) -> list[tuple[date, tuple[int, int]]]:
    """Dates written the way the locale's phrase book writes them (and ISO), with their spans."""
    found: list[tuple[date, tuple[int, int]]] = []
    for match in _ISO_DATE.finditer(text):
        try:
            found.append((date(int(match.group(1)), int(match.group(2)), int(match.group(3))), match.span()))
        except ValueError:
            continue
    try:
        book = load_phrasebook(locale)
    except (FileNotFoundError, OSError):
        return found
    months: list[str] = book.data["months"]
    pattern = str(book.data["date_format"])
    month_alt = "|".join(re.escape(m) for m in sorted(months, key=len, reverse=True))
    regex = re.escape(pattern).replace(r"\{day\}", r"(?P<day>\d{1,2})").replace(r"\{month\}", f"(?P<month>{month_alt})").replace(r"\{year\}", r"(?P<year>20\d{2})")
    for match in re.finditer(regex, text, re.I):
        try:
            month = [m.lower() for m in months].index(match.group("month").lower()) + 1
            found.append((date(int(match.group("year")), month, int(match.group("day"))), match.span()))
        except (ValueError, IndexError):
            continue
    return found


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _sentence_of(body: str, fragment: str) -> str:
    for sentence in split_sentences(body):
        if fragment in sentence:
            return sentence
    return fragment


def _echoes_buyer(body: str, message: str, words: int = 9) -> str | None:
    """A run of ``words`` consecutive words copied from the buyer's message (a sign of injection)."""
    tokens = re.findall(r"\w+", message.lower())
    if len(tokens) < words:
        return None
    grams = {" ".join(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}
    body_tokens = re.findall(r"\w+", body.lower())
    for i in range(len(body_tokens) - words + 1):
        gram = " ".join(body_tokens[i : i + words])
        if gram in grams:
            return gram
    return None


class Guardrails:
    def __init__(self, languages: LanguageIdentifier, limits: Limits) -> None:
        self.languages = languages
        self.limits = limits

    def check(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        body = generation.body
        findings: list[Finding] = []
        findings += self._placeholders(body)
        findings += self._citations(ctx, generation)
        findings += self._language(ctx, generation)
        findings += self._length(body)
        findings += self._facts(ctx, generation)
        findings += self._forbidden(ctx, body)
        return findings

    @staticmethod
    def has_errors(findings: list[Finding]) -> bool:
        return any(f.severity == "error" for f in findings)

    def _placeholders(self, body: str) -> list[Finding]:
        return [
            Finding(check="placeholder", severity="error", message=f"unfilled placeholder {m.group(0)!r}", sentence=_sentence_of(body, m.group(0)))
            for m in _PLACEHOLDER.finditer(body)
        ]

    def _citations(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        known = {p.chunk_id for p in ctx.passages}
        findings = []
        for sentence in generation.sentences:
            for chunk_id in sentence.chunk_ids:
                if chunk_id not in known:
                    findings.append(Finding(check="citation", severity="error", message=f"cites {chunk_id!r}, which was not retrieved", sentence=sentence.text))
        if ctx.passages and not any(s.chunk_ids for s in generation.sentences):
            findings.append(Finding(check="citation", severity="warning", message="no sentence cites a passage"))
        return findings

    def _language(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        core = [s.text for s in generation.sentences[1:-2]] or [generation.body]
        guess = self.languages.identify(" ".join(core))
        expected = generation.language
        if guess.code in ("und", expected):
            return []
        severity = "error" if guess.confidence >= 0.6 else "warning"
        return [Finding(check="language", severity=severity, message=f"draft reads as '{guess.code}' ({guess.confidence:.2f}), expected '{expected}'")]

    def _length(self, body: str) -> list[Finding]:
        if len(body) < self.limits.min_chars:
            return [Finding(check="length", severity="error", message=f"draft has {len(body)} characters; at least {self.limits.min_chars} expected")]
        if len(body) > self.limits.max_chars:
            return [Finding(check="length", severity="error", message=f"draft has {len(body)} characters; at most {self.limits.max_chars} allowed")]
        return []

    def _facts(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        body = generation.body
        findings: list[Finding] = []
        allowed_dates = set(ctx.facts.dates())
        order = ctx.ticket.order
        if order:
            for name in ("placed_at", "shipped_at", "estimated_delivery", "delivered_at"):
                day = order.day(name)
                if day:
                    allowed_dates.add(day)
        dates = _localized_dates(generation.language, body)
        for day, _ in dates:
            if day not in allowed_dates:
                findings.append(Finding(check="fact", severity="error", message=f"date {day.isoformat()} matches no computed fact or order date", sentence=_sentence_of(body, str(day.day))))
        # Blank the dates out before looking for day counts: "2026年3月12日" is not "12 days".
        without_dates = body
        for _, (start, end) in sorted((d for d in dates), key=lambda d: -d[1][0]):
            without_dates = without_dates[:start] + " " * (end - start) + without_dates[end:]
        numbers = ctx.facts.numbers()
        allowed_counts = numbers | {1.0, 2.0, 3.0}  # "two or three photos" and similar small counts
        for match in _DAYS.finditer(without_dates):
            value = float(match.group(1))
            if value not in allowed_counts:
                findings.append(Finding(check="fact", severity="error", message=f"'{match.group(0)}' contradicts the policy facts (known values: {sorted(int(n) for n in numbers if n < 1000)})", sentence=_sentence_of(body, match.group(0))))
        money = set(numbers)
        if order:
            money.update(float(i.price) for i in order.items if i.price is not None)
        for match in _MONEY.finditer(without_dates):
            raw = match.group(1) or match.group(2)
            if raw and _number(raw) not in money:
                findings.append(Finding(check="fact", severity="error", message=f"amount {match.group(0).strip()} matches no order amount or policy value", sentence=_sentence_of(body, match.group(0))))
        facts = ctx.facts
        lowered = body.lower()
        if facts.get("return_window_open") is False and ctx.triage.intent.label == "return_request" and re.search(r"\bstill (?:return|send)|can (?:still )?return it\b", lowered):
            findings.append(Finding(check="fact", severity="error", message="says the item can still be returned, but the return window has closed"))
        if facts.get("cancellable") is False and re.search(r"\bcancel(?:led)? (?:it )?(?:for you|free of charge)\b|\bhave cancelled\b", lowered):
            findings.append(Finding(check="fact", severity="error", message="offers a cancellation, but the order has already shipped"))
        return findings

    def _forbidden(self, ctx: DraftContext, body: str) -> list[Finding]:
        findings = []
        for check, pattern in _FORBIDDEN:
            for match in pattern.finditer(body):
                findings.append(Finding(check=check, severity="error", message=f"must not say {match.group(0)!r}", sentence=_sentence_of(body, match.group(0))))
        echoed = _echoes_buyer(body, ctx.ticket.message)
        if echoed:
            findings.append(Finding(check="echo", severity="error", message=f"repeats the buyer's own words verbatim: '{echoed}'"))
        return findings
