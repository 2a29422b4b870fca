"""`replydesk eval compare`: two runs of the same dataset, joined on ticket id.

Every metric is compared on the tickets where both runs have a value (paired), and the
uncertainty of the difference comes from a paired bootstrap, so a change of one ticket in a
small set is not reported as a regression. A gate metric regresses when its whole 95% interval
lies on the worse side of zero.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_GATE", "LOWER_IS_BETTER", "CompareError", "compare", "render_comparison"]

DEFAULT_GATE = (
    "triage.intent.correct",
    "retrieval.recall_at_5",
    "retrieval.rr",
    "drafts.required_facts",
    "drafts.language_match",
    "drafts.citation_validity",
    "drafts.forbidden_promise",
)
LOWER_IS_BETTER = frozenset({"drafts.forbidden_promise", "drafts.fact_findings", "drafts.placeholders"})
SCHEMA_VERSION = 1  # of report.json and results.jsonl (evals/runner.py)
RESAMPLES = 2000
TOP_WORSE = 50
_CHUNK = 250  # resamples per batch: bounds memory at _CHUNK x n indices for large runs

Values = dict[str, dict[str, float]]  # metric -> ticket id -> value


class CompareError(Exception):
    """The two runs cannot be compared (missing files, different datasets or tickets)."""


class _Run:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.report = _read_report(directory)
        self.rows = _read_rows(directory)
        self.by_id = {str(row["id"]): row for row in self.rows}

    def info(self) -> dict[str, Any]:
        keys = ("name", "generator", "model_version", "created_at")
        return {"dir": str(self.directory), **{k: self.report.get(k) for k in keys}}

    @property
    def fingerprint(self) -> str | None:
        dataset = self.report.get("dataset") or {}
        value = dataset.get("fingerprint")
        return None if value is None else str(value)


def compare(base_dir: Path, cand_dir: Path, *, metrics: list[str] | None, seed: int) -> dict[str, Any]:
    """Compare every metric both runs scored; gate on ``metrics`` (default: DEFAULT_GATE present in both).

    Per-intent, per-language and worse-ticket breakdowns cover the gate metrics only. Raises
    CompareError when the runs cannot be joined.
    """
    base, cand = _Run(base_dir), _Run(cand_dir)
    _check_comparable(base, cand)
    base_values, cand_values = ticket_values(base.rows), ticket_values(cand.rows)
    shared = sorted(set(base_values) & set(cand_values))
    gate = _gate_metrics(metrics, shared)

    results = {name: _compare_metric(base_values[name], cand_values[name], name, seed) for name in shared}
    for name, result in results.items():
        result["gate"] = name in gate
    return {
        "base": base.info(),
        "candidate": cand.info(),
        "dataset": {"path": (base.report.get("dataset") or {}).get("path"), "fingerprint": base.fingerprint},
        "n": len(base.by_id),
        "seed": seed,
        "resamples": RESAMPLES,
        "gate": gate,
        "metrics": results,
        "per_intent": _per_group(base, base_values, cand_values, gate, key="intent", seed=seed),
        "per_language": _per_group(base, base_values, cand_values, gate, key="language", seed=seed),
        "worse_tickets": _worse_tickets(base, base_values, cand_values, gate),
        "regressions": [name for name in gate if results[name]["regressed"]],
        # A metric scored by one run only (e.g. drafts without --generator) cannot be compared.
        "only_in_base": sorted(set(base_values) - set(cand_values)),
        "only_in_candidate": sorted(set(cand_values) - set(base_values)),
    }


# ---------------------------------------------------------------- loading


def _read_report(directory: Path) -> dict[str, Any]:
    path = directory / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CompareError(f"no report.json in {directory}: is it an eval run directory?") from exc
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(report, dict):
        raise CompareError(f"{path} is not a report object")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise CompareError(
            f"{path} has schema_version {report.get('schema_version')!r}; this version reads {SCHEMA_VERSION}"
        )
    return report


def _read_rows(directory: Path) -> list[dict[str, Any]]:
    path = directory / "results.jsonl"
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CompareError(f"{path}:{number} is not valid JSON: {exc}") from exc
                if not isinstance(row, dict) or "id" not in row:
                    raise CompareError(f"{path}:{number} has no `id`")
                rows.append(row)
    except FileNotFoundError as exc:
        raise CompareError(f"no results.jsonl in {directory}: is it an eval run directory?") from exc
    return rows


def _check_comparable(base: _Run, cand: _Run) -> None:
    if base.fingerprint != cand.fingerprint:
        raise CompareError(
            f"the runs used different datasets (fingerprint {base.fingerprint} vs {cand.fingerprint}); "
            "re-run both on the same dataset file"
        )
    for run in (base, cand):
        if len(run.by_id) != len(run.rows):
            raise CompareError(f"{run.directory / 'results.jsonl'} has duplicate ticket ids")
    only_base = sorted(set(base.by_id) - set(cand.by_id))
    only_cand = sorted(set(cand.by_id) - set(base.by_id))
    if only_base or only_cand:
        raise CompareError(
            f"the runs scored different tickets: {len(only_base)} only in base (e.g. {_sample(only_base)}), "
            f"{len(only_cand)} only in candidate (e.g. {_sample(only_cand)})"
            "; run both with the same --split and --limit"
        )


def _sample(ids: list[str]) -> str:
    return ", ".join(ids[:3]) or "-"


def _gate_metrics(requested: list[str] | None, shared: list[str]) -> list[str]:
    if not requested:
        return [name for name in DEFAULT_GATE if name in shared]
    missing = [name for name in requested if name not in shared]
    if missing:
        raise CompareError(f"metric(s) {', '.join(missing)} not in both runs; available: {', '.join(shared)}")
    return list(dict.fromkeys(requested))


# ---------------------------------------------------------------- per-ticket values


def ticket_values(rows: list[dict[str, Any]]) -> Values:
    """metric name -> {ticket id: value}; a metric that does not apply to a ticket is absent."""
    values: Values = defaultdict(dict)
    for row in rows:
        ticket = str(row["id"])
        for name, value in _row_values(row).items():
            values[name][ticket] = value
    return dict(values)


def _row_values(row: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for field, result in (row.get("triage") or {}).items():
        if isinstance(result, dict) and isinstance(result.get("correct"), bool):
            out[f"triage.{field}.correct"] = float(result["correct"])
    retrieval = _retrieval_entry(row)
    if retrieval is not None:
        expected, ranked = retrieval
        if expected:
            out["retrieval.recall_at_5"] = len(expected & set(ranked[:5])) / len(expected)
            # Rows keep only the top 5 ranked documents, so this is RR@5 (0 past rank 5) in both run kinds.
            rank = next((i for i, doc in enumerate(ranked[:5], 1) if doc in expected), None)
            out["retrieval.rr"] = 1 / rank if rank else 0.0
    scores = (row.get("draft") or {}).get("scores") or {}
    for name, score in scores.items():
        value = score.get("value") if isinstance(score, dict) else None
        if isinstance(value, int | float):
            out[f"drafts.{name}"] = float(value)
    return out


def _retrieval_entry(row: dict[str, Any]) -> tuple[set[str], list[str]] | None:
    retrieval = row.get("retrieval")
    if not isinstance(retrieval, dict):
        return None
    if "ranked" in retrieval:  # labeled-ticket run
        return set(retrieval.get("expected") or []), list(retrieval["ranked"])
    # Retrieval-query run: one entry per mode; the headline mode is hybrid.
    mode = retrieval.get("hybrid") or next(iter(retrieval.values()), None)
    if not isinstance(mode, dict):
        return None
    return set(row.get("expected") or []), list(mode.get("ranked") or [])


# ---------------------------------------------------------------- statistics


def _compare_metric(base: dict[str, float], cand: dict[str, float], name: str, seed: int) -> dict[str, Any]:
    ids = sorted(set(base) & set(cand))
    b = np.array([base[i] for i in ids], dtype=float)
    c = np.array([cand[i] for i in ids], dtype=float)
    return _paired_stats(b, c, higher_is_better=name not in LOWER_IS_BETTER, seed=seed)


def _paired_stats(b: np.ndarray, c: np.ndarray, *, higher_is_better: bool, seed: int) -> dict[str, Any]:
    n = len(b)
    if n == 0:
        empty = dict.fromkeys(("base", "candidate", "delta", "ci_low", "ci_high"))
        return {"n": 0, **empty, "regressed": False, "improved": False, "higher_is_better": higher_is_better}
    low, high = bootstrap_ci(c - b, seed=seed)
    worse = high < 0 if higher_is_better else low > 0
    better = low > 0 if higher_is_better else high < 0
    return {
        "n": n,
        "base": _r(b.mean()),
        "candidate": _r(c.mean()),
        "delta": _r(c.mean() - b.mean()),
        "ci_low": _r(low),
        "ci_high": _r(high),
        "regressed": bool(worse),
        "improved": bool(better),
        "higher_is_better": higher_is_better,
    }


def bootstrap_ci(
    diffs: np.ndarray, *, seed: int, resamples: int = RESAMPLES, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the mean of paired differences, resampling tickets with replacement."""
    n = len(diffs)
    # A fresh generator per call: a metric's interval does not depend on which others were computed.
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        means[start : start + size] = diffs[rng.integers(0, n, size=(size, n))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _r(value: float) -> float:
    return round(float(value), 4)


def _per_group(
    base: _Run, base_values: Values, cand_values: Values, gate: list[str], *, key: str, seed: int
) -> dict[str, Any]:
    groups: dict[str, set[str]] = defaultdict(set)
    for ticket, row in base.by_id.items():
        if row.get(key) is not None:
            groups[str(row[key])].add(ticket)
    out: dict[str, Any] = {}
    for group, ids in sorted(groups.items()):
        stats = {}
        for name in gate:
            b = {i: v for i, v in base_values[name].items() if i in ids}
            c = {i: v for i, v in cand_values[name].items() if i in ids}
            result = _compare_metric(b, c, name, seed)
            if result["n"]:
                stats[name] = result
        if stats:
            out[group] = stats
    return out


def _worse_tickets(base: _Run, base_values: Values, cand_values: Values, gate: list[str]) -> list[dict[str, Any]]:
    worse: list[tuple[int, float, dict[str, Any]]] = []
    for ticket in sorted(base.by_id):
        changes: dict[str, dict[str, float]] = {}
        for name in gate:
            b, c = base_values[name].get(ticket), cand_values[name].get(ticket)
            if b is None or c is None:
                continue
            if (c < b) if name not in LOWER_IS_BETTER else (c > b):
                changes[name] = {"base": _r(b), "candidate": _r(c)}
        if changes:
            row = base.by_id[ticket]
            size = sum(abs(v["candidate"] - v["base"]) for v in changes.values())
            item = {
                "id": ticket,
                "intent": row.get("intent"),
                "language": row.get("language"),
                "metrics": changes,
            }
            worse.append((len(changes), size, item))
    # Most metrics worse first, then the largest total drop; ids break ties so output is stable.
    worse.sort(key=lambda entry: (-entry[0], -entry[1], entry[2]["id"]))
    return [item for _, _, item in worse[:TOP_WORSE]]


# ---------------------------------------------------------------- text rendering


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _verdict(result: dict[str, Any]) -> str:
    if result["regressed"]:
        return "REGRESSED"
    if result["improved"]:
        return "improved"
    return "no significant change"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def _metric_row(name: str, result: dict[str, Any]) -> list[str]:
    arrow = "" if result["higher_is_better"] else " (lower is better)"
    return [
        name + arrow,
        str(result["n"]),
        _fmt(result["base"]),
        _fmt(result["candidate"]),
        _fmt(result["delta"], True),
        f"[{_fmt(result['ci_low'], True)}, {_fmt(result['ci_high'], True)}]",
        _verdict(result),
    ]


_HEADERS = ["metric", "n", "base", "candidate", "delta", "95% CI of delta", "verdict"]


def render_comparison(comparison: dict[str, Any]) -> str:
    base, cand = comparison["base"], comparison["candidate"]
    lines = [
        f"base:      {base['dir']} (generator {base.get('generator')}, model {base.get('model_version')})",
        f"candidate: {cand['dir']} (generator {cand.get('generator')}, model {cand.get('model_version')})",
        f"tickets joined on id: {comparison['n']}; paired bootstrap of the delta, "
        f"{comparison['resamples']} resamples, seed {comparison['seed']}",
        "",
        "Gate metrics" + ("" if comparison["gate"] else ": none present in both runs"),
    ]
    metrics = comparison["metrics"]
    if comparison["gate"]:
        lines += _table(_HEADERS, [_metric_row(name, metrics[name]) for name in comparison["gate"]])
    others = [name for name in metrics if name not in comparison["gate"]]
    if others:
        lines += ["", "Other metrics (not gated)"]
        lines += _table(_HEADERS, [_metric_row(name, metrics[name]) for name in others])
    for key, title in (("per_intent", "intent"), ("per_language", "language")):
        lines += _group_lines(comparison[key], title)
    if comparison["worse_tickets"]:
        lines += ["", f"Tickets that got worse on a gate metric (top {len(comparison['worse_tickets'])})"]
        for item in comparison["worse_tickets"]:
            changes = ", ".join(f"{m} {v['base']:g}->{v['candidate']:g}" for m, v in item["metrics"].items())
            lines.append(f"  {item['id']} [{item.get('language')}, {item.get('intent')}]: {changes}")
    for key, side in (("only_in_base", "base"), ("only_in_candidate", "candidate")):
        if comparison.get(key):
            lines.append(f"Not compared (only in the {side} run): {', '.join(comparison[key])}")
    lines += ["", "Regressions: " + (", ".join(comparison["regressions"]) or "none")]
    return "\n".join(lines)


def _group_lines(groups: dict[str, Any], title: str) -> list[str]:
    rows = [
        [f"{group} / {name}", *_metric_row(name, result)[1:]]
        for group, stats in groups.items()
        for name, result in stats.items()
    ]
    if not rows:
        return []
    # Small groups have wide intervals; list them all in the JSON but only the movers here.
    moved = [r for r in rows if r[-1] != "no significant change"]
    lines = ["", f"Per {title} (gate metrics; {len(moved)} of {len(rows)} significant changes shown)"]
    return lines + (_table([title + " / metric", *_HEADERS[1:]], moved) if moved else ["  none"])
