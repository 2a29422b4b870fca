"""Finding and masking personal data: e-mails, phone numbers, card numbers (Luhn-checked),
IBANs (mod-97-checked) and street addresses.

``redact`` replaces each value with a stable placeholder (``[EMAIL_1]``) and returns the
mapping so a reply can be restored where it must quote the buyer's own data. Used before any
text leaves for an external LLM, and by the log filter so personal data never reaches logs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w/-])(?:\+|00)?\d[\d ()./-]{7,17}\d(?![\w/])")
# Street addresses: a number next to a street word, in the languages we serve.
_STREET_WORDS = (
    r"street|st\.|road|rd\.|avenue|ave\.|lane|drive|way|close|place|square|"
    r"stra(?:ß|ss)e|str\.|weg|gasse|allee|platz|ring|damm|"
    r"calle|c/|avenida|avda\.|plaza|paseo|carrer|rua|travessa|"
    r"rue|boulevard|bd|chemin|impasse|allée|"
    r"via|viale|piazza|corso|"
    r"straat|laan|plein|gracht|"
    r"ulica|ul\.|aleja|al\.|plac|osiedle|os\.|"
    r"sokak|sok\.|cadde(?:si)?|mahalle(?:si)?|"
    r"улица|ул\.|проспект|пр-т"
)
_ADDRESS = re.compile(
    rf"(?:\b\d{{1,5}}[a-zA-Z]?,?\s+(?:[\w'.-]+\s+){{0,4}}(?:{_STREET_WORDS})(?!\w)"
    rf"|\b(?:{_STREET_WORDS})(?!\w)\s*(?:[\w'.-]+\s+){{0,3}}\d{{1,5}}[a-zA-Z]?\b"
    rf"|\b[\w'.-]+(?:stra(?:ß|ss)e|straat|weg|gasse|laan)\s+\d{{1,5}}[a-zA-Z]?\b)",
    re.IGNORECASE,
)
_JA_ADDRESS = re.compile(
    r"〒\s?\d{3}-\d{4}|[\u4e00-\u9fff]{1,4}[都道府県][\u4e00-\u9fff]{1,6}[市区町村][\u4e00-\u9fff\d\-−ー丁目番地号]{2,20}"
)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97 == 1


@dataclass
class Redaction:
    text: str
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original

    def restore(self, text: str) -> str:
        for placeholder, original in self.mapping.items():
            text = text.replace(placeholder, original)
        return text

    @property
    def kinds(self) -> list[str]:
        return sorted({p.strip("[]").rsplit("_", 1)[0] for p in self.mapping})


def redact(text: str) -> Redaction:
    """Replace personal data with numbered placeholders; the same value gets the same one."""
    mapping: dict[str, str] = {}
    reverse: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}

    def placeholder(kind: str, value: str) -> str:
        key = (kind, value)
        if key not in reverse:
            counters[kind] = counters.get(kind, 0) + 1
            token = f"[{kind}_{counters[kind]}]"
            reverse[key] = token
            mapping[token] = value
        return reverse[key]

    def sub(pattern: re.Pattern[str], kind: str, check: object = None) -> None:
        nonlocal text

        def repl(match: re.Match[str]) -> str:
            value = match.group(0)
            if callable(check) and not check(value):
                return value
            return placeholder(kind, value)

        text = pattern.sub(repl, text)

    sub(_EMAIL, "EMAIL")
    sub(_IBAN, "IBAN", iban_ok)
    sub(_CARD, "CARD", luhn_ok)
    sub(
        _PHONE,
        "PHONE",
        lambda v: sum(c.isdigit() for c in v) >= 8 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()),
    )
    sub(_ADDRESS, "ADDRESS")
    sub(_JA_ADDRESS, "ADDRESS")
    return Redaction(text, mapping)


def scrub(text: str) -> str:
    return redact(text).text


class RedactingFilter(logging.Filter):
    """Masks personal data in every log record's message (installed on the root handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        record.msg = scrub(message)
        record.args = ()
        return True
