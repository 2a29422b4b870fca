"""`evals.report_html`: the page built from hand-made reports and rows, hostile text included."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

from evals import metrics
from evals.report_html import badness, render_html

EVIL = '<script>alert("x")</script>'
VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "circle", "polyline", "path"}


def score(value: float | None, reason: str = "reason") -> dict[str, Any]:
    return {"value": value, "reason": reason}


def draft_row(
    i: int,
    *,
    facts: float | None = 1.0,
    forbidden: float | None = 0.0,
    language: float = 1.0,
    chrf: float = 0.6,
    body: str = "Dear Maria, your refund is on its way.",
) -> dict[str, Any]:
    return {
        "id": f"tk-{i:03d}",
        "language": "en" if i % 2 else "de",
        "intent": "refund_status" if i % 3 else "damaged_item",
        "triage": {
            "intent": {
                "gold": "refund_status",
                "pred": "refund_status",
                "confidence": 0.9,
                "correct": True,
                "known_label": True,
            }
        },
        "draft": {
            "body": body,
            "reference": "Dear Maria, the refund was issued on 2026-10-21.",
            "generator": "template",
            "fallback_reason": None,
            "language": "en",
            "detected_language": "en",
            "passages": [{"chunk_id": "refunds-timing@en#when~0", "title": "When refunds arrive", "locale": "en"}],
            "findings": [],
            "scores": {
                "language_match": score(language),
                "citation_validity": score(1.0),
                "required_facts": score(facts, "missing: 2026-10-21"),
                "forbidden_promise": score(forbidden),
                "fact_findings": score(0.0),
                "placeholders": score(0.0),
                "personalization": score(1.0),
                "length_ok": score(1.0),
                "chrf": score(chrf),
                "cosine": score(0.8),
                "policy_retrieved": score(None, "no expected policies"),
                "policy_cited": score(None, "no expected policies"),
            },
            "latency_ms": 12.5,
            "tokens": {"prompt": 0, "completion": 40},
            "cost_usd": 0.0,
        },
    }


def drafts_section(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(rows[0]["draft"]["scores"])

    def summary(group: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "n": len(group),
            **{m: metrics.mean_of([r["draft"]["scores"][m]["value"] for r in group]) for m in names},
        }

    section = summary(rows)
    section.update(
        {
            "latency_ms": {"p50": 12.5, "p95": 12.5, "mean": 12.5},
            "tokens": {"prompt": 0, "completion": 400},
            "cost_usd": 0.0,
            "fallbacks": 0,
            "generators": {"template": len(rows)},
        }
    )
    section["per_language"] = metrics.by_group(rows, "language", summary)
    section["per_intent"] = metrics.by_group(rows, "intent", summary)
    return section


def full_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    gold = ["damaged_item"] * 4 + ["refund_status"] * 6 + [EVIL]
    pred = (
        ["damaged_item", "damaged_item", "damaged_item", "refund_status"]
        + ["refund_status"] * 5
        + ["damaged_item", "refund_status"]
    )
    confidence = [0.95, 0.9, 0.85, 0.6, 0.9, 0.92, 0.97, 0.88, 0.7, 0.55, 0.5]
    intent = metrics.classification(gold, pred, confidence)
    intent["per_language"] = {
        "de": {"n": 5, "accuracy": 0.8, "macro_f1": 0.7},
        "en": {"n": 6, "accuracy": 0.83, "macro_f1": 0.81},
    }
    intent["unknown_labels"] = {"count": 1, "labels": [EVIL]}
    items = [
        {"expected": ["returns-policy"], "ranked": ["returns-policy"], "language": "en"},
        {
            "expected": ["refunds-timing"],
            "ranked": ["a", "b", "c", "d", "e", "refunds-timing"],
            "language": "de",
        },
    ]
    retrieval = metrics.retrieval(items)
    retrieval["mode"] = "hybrid"
    retrieval["modes"] = {
        "hybrid": metrics.retrieval(items),
        "dense": metrics.retrieval(items[:1]),
        "lexical": metrics.retrieval(items[1:]),
    }
    return {
        "schema_version": 1,
        "name": f"run {EVIL}",
        "created_at": "2026-11-23T12:00:00+00:00",
        "dataset": {
            "path": "evals/datasets/drafts/drafts.jsonl",
            "kind": "labeled-tickets",
            "split": "holdout",
            "n": len(rows),
            "fingerprint": "abc",
            "rejected_lines": 1,
            "errors": [{"file": "x.jsonl", "line": 3, "error": EVIL}],
        },
        "model_version": "triage-1",
        "generator": "template",
        "machine": {"python": "3.11.7", "platform": "Linux", "cpus": 2},
        "triage": {
            "intent": intent,
            "escalation": {
                "n": 11,
                "per_flag": {"legal_threat": {"precision": 1.0, "recall": 0.5, "support": 2}},
            },
            "responsible_party": {"n": 11, "accuracy": 0.9},
        },
        "retrieval": retrieval,
        "drafts": drafts_section(rows),
        "timing": {"seconds": 3.2, "tickets_per_second": 10.0},
    }


class TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the open one: catches broken markup from bad escaping."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()


def check_markup(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.stack == ["html"] or parser.stack == []
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ET.fromstring(svg)  # each chart is well-formed XML on its own
    return parser


def test_full_report_renders_every_section_and_escapes_untrusted_text() -> None:
    rows = [draft_row(i) for i in range(6)]
    rows[2]["draft"]["body"] = f"Hello {EVIL} & goodbye"
    rows[2]["draft"]["reference"] = EVIL
    rows[2]["draft"]["findings"] = [{"check": "fact", "severity": "error", "message": EVIL, "sentence": EVIL}]
    rows[2]["draft"]["passages"][0]["title"] = EVIL
    rows[2]["id"] = 'tk-"002'

    page = render_html(full_report(rows), rows)

    parser = check_markup(page)
    assert parser.scripts == 0
    assert "<script" not in page
    assert "Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; goodbye" in page
    assert 'id="draft-tk-&quot;002"' in page
    for section in ("summary", "triage", "retrieval", "drafts", "worst", "rejected"):
        assert f'<section id="{section}">' in page
    assert "intent: confusion matrix" in page
    assert "intent: reliability (ECE" in page
    assert "<strong>hybrid</strong>" in page
    assert "Queries with no expected document in the top 5" not in page  # rows here carry no retrieval


def test_page_is_self_contained() -> None:
    rows = [draft_row(i) for i in range(3)]

    page = render_html(full_report(rows), rows)

    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace only: nothing is fetched
    for needle in ("<link", "src=", "@import", "url("):
        assert needle not in page


def test_confusion_matrix_counts_and_row_colours() -> None:
    report = {
        "name": "t",
        "triage": {
            "urgency": metrics.classification(
                ["high", "high", "high", "low"], ["high", "high", "low", "low"], [0.9, 0.8, 0.6, 0.7]
            )
        },
    }

    page = render_html(report, [])

    check_markup(page)
    assert "gold high → predicted high: 2 of 3 (67%)" in page
    assert "gold high → predicted low: 1 of 3 (33%)" in page
    assert "gold low → predicted low: 1 of 1 (100%)" in page
    correct = re.search(r'fill="(#[0-9a-f]{6})"><title>gold low → predicted low', page)
    wrong = re.search(r'fill="(#[0-9a-f]{6})"><title>gold high → predicted low', page)
    assert correct is not None
    assert wrong is not None
    red, _, blue = (int(correct.group(1)[k : k + 2], 16) for k in (1, 3, 5))
    assert blue > red  # right answers in blue
    red, _, blue = (int(wrong.group(1)[k : k + 2], 16) for k in (1, 3, 5))
    assert red > blue  # confusions in red


def test_calibration_curve_has_the_diagonal_and_one_dot_per_bin() -> None:
    intent = metrics.classification(["a", "b", "a", "b"], ["a", "b", "b", "b"], [0.95, 0.92, 0.35, 0.65])
    page = render_html({"triage": {"intent": intent}}, [])

    svg = next(s for s in re.findall(r"<svg.*?</svg>", page, flags=re.S) if "reliability" in s)
    assert "perfect calibration" in svg
    assert svg.count("<circle") == len(intent["calibration"]["bins"]) == 3


@pytest.mark.parametrize("keep", [(), ("triage",), ("retrieval",), ("drafts",), ("triage", "drafts")])
def test_any_subset_of_sections_renders(keep: tuple[str, ...]) -> None:
    rows = [draft_row(i) for i in range(4)]
    report = full_report(rows)
    for section in ("triage", "retrieval", "drafts"):
        if section not in keep:
            del report[section]

    page = render_html(report, rows if "drafts" in keep else [])

    check_markup(page)
    for section in ("triage", "retrieval", "drafts"):
        assert (f'<section id="{section}">' in page) == (section in keep)


def test_empty_report_and_retrieval_query_rows() -> None:
    assert "This report has no metrics" in render_html({}, [])
    rows = [
        {
            "id": "rq-1",
            "language": "it",
            "expected": ["lost-parcel"],
            "retrieval": {"hybrid": {"ranked": ["a", "b"], "hit_at_5": False}},
        },
        {
            "id": "rq-2",
            "language": "en",
            "expected": ["a"],
            "retrieval": {"hybrid": {"ranked": ["a"], "hit_at_5": True}},
        },
    ]
    report = {
        "dataset": {"kind": "retrieval-queries"},
        "retrieval": {**metrics.retrieval([]), "mode": "hybrid"},
    }

    page = render_html(report, rows)

    assert "Queries with no expected document in the top 5 (1; first 1)" in page
    assert "rq-1" in page
    assert "rq-2" not in page


def test_worst_drafts_ranked_by_badness() -> None:
    rows = [draft_row(i, chrf=0.9) for i in range(25)]
    rows[7] = draft_row(7, facts=0.0, forbidden=1.0, chrf=0.9)  # 3 + 3 + 0.1
    rows[11] = draft_row(11, language=0.0, chrf=0.9)  # 2 + 0.1
    rows[4] = draft_row(4, chrf=0.1)  # 0.9

    page = render_html({"name": "t"}, rows)

    order = re.findall(r'<article class="draft" id="draft-(tk-\d+)"><h3>#\d+ tk-\d+ — badness ([\d.]+)', page)
    assert len(order) == 20
    assert order[:3] == [("tk-007", "6.10"), ("tk-011", "2.10"), ("tk-004", "0.90")]
    assert "missing required facts</strong> +3.00 — missing: 2026-10-21" in page


def test_badness_skips_metrics_that_do_not_apply() -> None:
    total, reasons = badness(
        {"required_facts": score(None), "placeholders": score(7.0, "3 slots"), "chrf": score(0.75)}
    )

    assert total == pytest.approx(3.25)  # placeholder count capped at 3
    assert [label for label, _, _ in reasons] == [
        "unfilled placeholders",
        "far from the reference (1 − chrF)",
    ]
