"""Aggregate metrics over per-ticket results: classification, calibration, retrieval, drafts.

Pure functions over plain lists, so the runner, the compare command and the tests share them.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def classification(gold: list[str], pred: list[str], confidence: list[float] | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support, confusion matrix, calibration."""
    n = len(gold)
    labels = sorted(set(gold) | set(pred))
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusion: dict[str, dict[str, int]] = {g: {} for g in labels}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] = confusion[g].get(p, 0) + 1
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    per_label: dict[str, dict[str, float]] = {}
    f1s = []
    for label in labels:
        precision = _safe_div(tp[label], tp[label] + fp[label])
        recall = _safe_div(tp[label], tp[label] + fn[label])
        f1 = _safe_div(2 * precision * recall, precision + recall)
        support = tp[label] + fn[label]
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support:
            f1s.append(f1)
    result: dict[str, Any] = {
        "n": n,
        "accuracy": round(_safe_div(sum(tp.values()), n), 4),
        "macro_f1": round(statistics.fmean(f1s), 4) if f1s else 0.0,
        "per_label": per_label,
        "confusion": {g: dict(sorted(row.items())) for g, row in confusion.items() if row},
    }
    if confidence is not None and n:
        result["calibration"] = calibration([g == p for g, p in zip(gold, pred, strict=True)], confidence)
    return result


def calibration(correct: list[bool], confidence: list[float], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error and reliability bins (confidence vs accuracy)."""
    buckets: dict[int, list[tuple[bool, float]]] = defaultdict(list)
    for ok, conf in zip(correct, confidence, strict=True):
        index = min(int(conf * bins), bins - 1)
        buckets[index].append((ok, conf))
    n = len(correct)
    ece = 0.0
    table = []
    for index in range(bins):
        items = buckets.get(index, [])
        if not items:
            continue
        accuracy = sum(ok for ok, _ in items) / len(items)
        mean_conf = sum(c for _, c in items) / len(items)
        ece += len(items) / n * abs(accuracy - mean_conf)
        table.append(
            {
                "bin": f"{index / bins:.1f}-{(index + 1) / bins:.1f}",
                "n": len(items),
                "confidence": round(mean_conf, 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return {"ece": round(ece, 4), "bins": table}


def by_group(rows: list[dict[str, Any]], key: str, fn: Any) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get(key))].append(row)
    return {k: fn(v) for k, v in sorted(groups.items())}


def retrieval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """rows: {"expected": [...], "ranked": [doc ids, best first], "language"}."""

    def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(items)
        r1 = r5 = rr = 0.0
        for row in items:
            expected = set(row["expected"])
            ranked = row["ranked"]
            if not expected:
                continue
            r1 += len(expected & set(ranked[:1])) / len(expected)
            r5 += len(expected & set(ranked[:5])) / len(expected)
            rank = next((i for i, d in enumerate(ranked, 1) if d in expected), None)
            rr += 1 / rank if rank else 0.0
        return {
            "n": n,
            "recall_at_1": round(_safe_div(r1, n), 4),
            "recall_at_5": round(_safe_div(r5, n), 4),
            "mrr": round(_safe_div(rr, n), 4),
        }

    out = summary(rows)
    out["per_language"] = by_group(rows, "language", summary)
    return out


def mean_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 3)
