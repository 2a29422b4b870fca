"""Draft-quality scorers. Each takes one ticket's draft and returns a ``Score(value, reason)``.

Values are in [0, 1] (higher is better) unless the name says it is a count or a size; a scorer
that does not apply to a ticket returns ``None`` as value, and aggregates skip it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sacrebleu.metrics.chrf import CHRF

from app.drafts.templates import available_locales, load_phrasebook

_CHRF = CHRF()
_ISO = re.compile(r"^(20\d{2})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Score:
    value: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": None if self.value is None else round(self.value, 4), "reason": self.reason}


def date_variants(value: date) -> set[str]:
    """An ISO date written every way our phrase books write dates, plus common numeric forms."""
    variants = {
        value.isoformat(),
        f"{value.day:02d}.{value.month:02d}.{value.year}",
        f"{value.day}.{value.month}.{value.year}",
        f"{value.day:02d}/{value.month:02d}/{value.year}",
        f"{value.day}/{value.month}/{value.year}",
        f"{value.year}年{value.month}月{value.day}日",
    }
    for locale in available_locales():
        book = load_phrasebook(locale)
        variants.add(book.format_date(value).lower())
    return {v.lower() for v in variants}


def contains_fact(body: str, item: str) -> bool:
    text = body.lower()
    match = _ISO.match(item.strip())
    if match:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return item.lower() in text
        return any(v in text for v in date_variants(day))
    if item.strip().isdigit():
        return re.search(rf"(?<![\d.,]){re.escape(item.strip())}(?![\d])", text) is not None
    return item.lower() in text


def required_facts(body: str, must_include: list[str]) -> Score:
    if not must_include:
        return Score(None, "no required facts")
    missing = [item for item in must_include if not contains_fact(body, item)]
    value = 1 - len(missing) / len(must_include)
    return Score(value, f"missing: {', '.join(missing)}" if missing else f"all {len(must_include)} present")


def forbidden_promises(body: str, must_not_include: list[str]) -> Score:
    """1 when the draft makes a promise it must not (a rate: lower is better)."""
    if not must_not_include:
        return Score(None, "nothing forbidden listed")
    found = [p for p in must_not_include if p.lower() in body.lower()]
    return Score(1.0 if found else 0.0, f"contains {found}" if found else "none present")


def language_match(detected: str, expected: str | None) -> Score:
    if not expected:
        return Score(None, "no expected language")
    return Score(1.0 if detected == expected else 0.0, f"draft in '{detected}', expected '{expected}'")


def personalization(body: str, customer_name: str | None, order_id: str | None) -> Score:
    checks: list[tuple[str, bool]] = []
    if customer_name:
        parts = [customer_name, customer_name.split()[0]]
        checks.append(("name", any(p.lower() in body.lower() for p in parts)))
    if order_id:
        checks.append(("order id", order_id.lower() in body.lower()))
    if not checks:
        return Score(None, "no name or order to use")
    used = [n for n, ok in checks if ok]
    return Score(len(used) / len(checks), f"uses {', '.join(used) or 'neither'} of {', '.join(n for n, _ in checks)}")


def chrf(body: str, reference: str | None) -> Score:
    if not reference:
        return Score(None, "no reference reply")
    value = _CHRF.sentence_score(body, [reference]).score / 100
    return Score(value, f"chrF {value * 100:.1f} against the reference")


def cosine(a: np.ndarray | None, b: np.ndarray | None) -> Score:
    if a is None or b is None:
        return Score(None, "no reference reply")
    value = float(np.dot(a, b))
    return Score(value, f"embedding cosine {value:.3f} with the reference")


def citation_validity(
    citations: list[dict[str, Any]], retrieved: set[str], support: list[float], threshold: float = 0.25
) -> Score:
    """Share of citations that point at a retrieved passage whose text supports the sentence.

    ``support[i]`` is the embedding cosine between citation i's sentence and its passage
    (multilingual, so a Polish sentence can be supported by an English passage).
    """
    if not citations:
        return Score(None, "no citations")
    valid = 0
    problems = []
    for citation, similarity in zip(citations, support, strict=True):
        if citation["chunk_id"] not in retrieved:
            problems.append(f"{citation['chunk_id']} not retrieved")
        elif similarity < threshold:
            problems.append(f"{citation['chunk_id']} barely related ({similarity:.2f})")
        else:
            valid += 1
    return Score(
        valid / len(citations), "; ".join(problems[:3]) if problems else f"all {len(citations)} citations supported"
    )


def policy_recall(expected: list[str], found: list[str], what: str) -> Score:
    if not expected:
        return Score(None, "no expected policies")
    hit = [p for p in expected if p in found]
    return Score(
        len(hit) / len(expected),
        f"{what} {len(hit)}/{len(expected)} expected policies"
        + (f"; missing {sorted(set(expected) - set(hit))}" if len(hit) < len(expected) else ""),
    )


def length_ok(body: str, low: int = 60, high: int = 2500) -> Score:
    n = len(body)
    return Score(1.0 if low <= n <= high else 0.0, f"{n} characters (bounds {low}–{high})")
