"""`evals.compare`: two hand-built runs on disk, joined on id, with planted changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.compare import CompareError, compare, render_comparison, ticket_values

INTENTS = ("damaged_item", "order_status", "refund_status", "cancel_order")
LANGUAGES = ("en", "de")


def ticket_row(
    i: int,
    *,
    intent_ok: bool = True,
    facts: float | None = 1.0,
    forbidden: float | None = 0.0,
    ranked: list[str] | None = None,
) -> dict[str, Any]:
    intent = INTENTS[i % len(INTENTS)]
    return {
        "id": f"tk-{i:04d}",
        "language": LANGUAGES[i % len(LANGUAGES)],
        "intent": intent,
        "triage": {
            "intent": {
                "gold": intent,
                "pred": intent if intent_ok else "other",
                "confidence": 0.9,
                "correct": intent_ok,
                "known_label": True,
            },
            "escalation": {"gold": [], "pred": []},
        },
        "retrieval": {
            "expected": ["returns-policy"],
            "ranked": ranked if ranked is not None else ["returns-policy", "refunds-timing"],
        },
        "draft": {
            "body": "Hello",
            "scores": {
                "required_facts": {"value": facts, "reason": "r"},
                "forbidden_promise": {"value": forbidden, "reason": "r"},
                "chrf": {"value": None, "reason": "no reference reply"},
            },
        },
    }


def write_run(directory: Path, rows: list[dict[str, Any]], *, fingerprint: str = "abc123") -> Path:
    directory.mkdir(parents=True)
    report = {
        "schema_version": 1,
        "name": directory.name,
        "dataset": {"path": "d.jsonl", "kind": "labeled-tickets", "n": len(rows), "fingerprint": fingerprint},
    }
    (directory / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (directory / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory


N = 120


def test_identical_runs_have_no_regression(tmp_path: Path) -> None:
    rows = [ticket_row(i, intent_ok=i % 5 != 0, facts=(i % 3) / 2) for i in range(N)]
    base, cand = write_run(tmp_path / "a", rows), write_run(tmp_path / "b", rows)

    result = compare(base, cand, metrics=None, seed=7)

    assert result["n"] == N
    assert result["regressions"] == []
    assert result["worse_tickets"] == []
    intent = result["metrics"]["triage.intent.correct"]
    assert intent["delta"] == 0.0
    assert (intent["ci_low"], intent["ci_high"]) == (0.0, 0.0)
    assert intent["base"] == pytest.approx(0.8, abs=0.01)
    assert "drafts.chrf" not in result["metrics"]  # only None values: skipped, not counted as 0
    assert set(result["gate"]) == {
        "triage.intent.correct",
        "retrieval.recall_at_5",
        "retrieval.rr",
        "drafts.required_facts",
        "drafts.forbidden_promise",
    }


def test_planted_intent_regression_is_detected(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i) for i in range(N)])
    broken = {i for i in range(N) if i % 4 == 0}  # every damaged_item ticket
    cand = write_run(tmp_path / "b", [ticket_row(i, intent_ok=i not in broken) for i in range(N)])

    result = compare(base, cand, metrics=None, seed=7)

    intent = result["metrics"]["triage.intent.correct"]
    assert intent["regressed"] is True
    assert intent["delta"] == pytest.approx(-0.25)
    assert intent["ci_high"] < 0
    assert result["regressions"] == ["triage.intent.correct"]
    assert result["per_intent"]["damaged_item"]["triage.intent.correct"]["regressed"] is True
    assert result["per_intent"]["order_status"]["triage.intent.correct"]["delta"] == 0.0
    worse_ids = {t["id"] for t in result["worse_tickets"]}
    assert worse_ids == {f"tk-{i:04d}" for i in broken}
    assert result["worse_tickets"][0]["metrics"]["triage.intent.correct"] == {"base": 1.0, "candidate": 0.0}
    text = render_comparison(result)
    assert "REGRESSED" in text
    assert "Regressions: triage.intent.correct" in text
    json.dumps(result)  # the CLI writes it as JSON


def test_lower_is_better_metric_regresses_when_it_rises(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i, forbidden=0.0) for i in range(N)])
    cand = write_run(tmp_path / "b", [ticket_row(i, forbidden=1.0 if i % 3 == 0 else 0.0) for i in range(N)])

    result = compare(base, cand, metrics=None, seed=7)

    forbidden = result["metrics"]["drafts.forbidden_promise"]
    assert forbidden["higher_is_better"] is False
    assert forbidden["delta"] > 0
    assert forbidden["ci_low"] > 0
    assert result["regressions"] == ["drafts.forbidden_promise"]


def test_improvement_and_single_ticket_noise_are_not_regressions(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i, intent_ok=i % 2 == 0, facts=1.0) for i in range(N)])
    # Intent improves on many tickets; required facts drops on a single one.
    cand = write_run(tmp_path / "b", [ticket_row(i, intent_ok=True, facts=0.0 if i == 3 else 1.0) for i in range(N)])

    result = compare(base, cand, metrics=None, seed=7)

    assert result["metrics"]["triage.intent.correct"]["improved"] is True
    facts = result["metrics"]["drafts.required_facts"]
    assert facts["delta"] < 0
    assert facts["regressed"] is False  # one ticket in 120: the interval still reaches 0
    assert result["regressions"] == []
    assert [t["id"] for t in result["worse_tickets"]] == ["tk-0003"]


def test_retrieval_regression_from_ranked_lists(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i) for i in range(N)])
    cand = write_run(
        tmp_path / "b",
        [ticket_row(i, ranked=["a", "b", "c", "d", "e", "returns-policy"] if i % 2 else None) for i in range(N)],
    )

    result = compare(base, cand, metrics=["retrieval.recall_at_5", "retrieval.rr"], seed=7)

    assert result["metrics"]["retrieval.recall_at_5"]["delta"] == pytest.approx(-0.5)
    assert result["metrics"]["retrieval.rr"]["candidate"] == pytest.approx(0.5)
    assert result["regressions"] == ["retrieval.recall_at_5", "retrieval.rr"]
    assert result["metrics"]["triage.intent.correct"]["gate"] is False


def test_retrieval_query_rows_use_the_hybrid_mode() -> None:
    row = {
        "id": "rq-1",
        "language": "en",
        "expected": ["a", "b"],
        "retrieval": {"hybrid": {"ranked": ["x", "a", "y"]}, "lexical": {"ranked": ["a", "b"]}},
    }

    values = ticket_values([row])

    assert values["retrieval.recall_at_5"] == {"rq-1": 0.5}
    assert values["retrieval.rr"] == {"rq-1": 0.5}


def test_same_seed_gives_the_same_interval(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i, facts=(i % 7) / 6) for i in range(N)])
    cand = write_run(tmp_path / "b", [ticket_row(i, facts=((i + 2) % 7) / 6) for i in range(N)])

    first = compare(base, cand, metrics=None, seed=11)["metrics"]["drafts.required_facts"]
    again = compare(base, cand, metrics=None, seed=11)["metrics"]["drafts.required_facts"]

    assert first == again
    assert first["ci_low"] < first["delta"] < first["ci_high"]


def test_different_ticket_sets_are_refused(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i) for i in range(10)])
    cand = write_run(tmp_path / "b", [ticket_row(i) for i in range(1, 11)])

    with pytest.raises(
        CompareError, match=r"different tickets: 1 only in base .*tk-0000.*1 only in candidate .*tk-0010"
    ):
        compare(base, cand, metrics=None, seed=7)


def test_different_dataset_fingerprints_are_refused(tmp_path: Path) -> None:
    rows = [ticket_row(i) for i in range(10)]
    base = write_run(tmp_path / "a", rows, fingerprint="aaa")
    cand = write_run(tmp_path / "b", rows, fingerprint="bbb")

    with pytest.raises(CompareError, match="different datasets"):
        compare(base, cand, metrics=None, seed=7)


def test_missing_run_and_unknown_gate_metric_are_refused(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", [ticket_row(i) for i in range(10)])

    with pytest.raises(CompareError, match=r"no report\.json"):
        compare(base, tmp_path / "nowhere", metrics=None, seed=7)
    with pytest.raises(CompareError, match=r"drafts\.cosine"):
        compare(base, base, metrics=["drafts.cosine"], seed=7)


def test_metrics_scored_by_one_run_only_are_listed_not_compared(tmp_path: Path) -> None:
    with_drafts = [ticket_row(i) for i in range(10)]
    without = [{k: v for k, v in row.items() if k != "draft"} for row in with_drafts]
    base, cand = write_run(tmp_path / "a", without), write_run(tmp_path / "b", with_drafts)

    result = compare(base, cand, metrics=None, seed=7)

    assert result["only_in_candidate"] == ["drafts.forbidden_promise", "drafts.required_facts"]
    assert "drafts.required_facts" not in result["metrics"]
    assert "Not compared (only in the candidate run): drafts.forbidden_promise" in render_comparison(result)
