"""Human-readable renderings of a report: Markdown (report.md) and HTML (report.html)."""

from __future__ import annotations

from typing import Any

from evals.report_html import render_html

__all__ = ["render_html", "render_markdown", "summary_table"]


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%" if isinstance(value, float) and value <= 1 else str(value)


def summary_table(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers, as (metric, value) pairs (printed by the CLI and in report.md)."""
    rows: list[tuple[str, str]] = []
    for name, section in (report.get("triage") or {}).items():
        if name == "responsible_party":
            rows.append(("triage.responsible_party accuracy", _pct(section["accuracy"])))
        elif "accuracy" in section:
            rows.append((f"triage.{name} accuracy (n={section['n']})", _pct(section["accuracy"])))
            rows.append((f"triage.{name} macro-F1", _pct(section.get("macro_f1"))))
            if section.get("calibration"):
                rows.append((f"triage.{name} ECE", f"{section['calibration']['ece']:.3f}"))
            if section.get("unknown_labels", {}).get("count"):
                rows.append((f"triage.{name} unknown gold labels", str(section["unknown_labels"]["count"])))
    retrieval = report.get("retrieval")
    if retrieval:
        modes = retrieval.get("modes") or {retrieval.get("mode", "hybrid"): retrieval}
        for mode, section in modes.items():
            rows.append(
                (
                    f"retrieval[{mode}] recall@1 / recall@5 / MRR (n={section['n']})",
                    f"{section['recall_at_1']:.3f} / {section['recall_at_5']:.3f} / {section['mrr']:.3f}",
                )
            )
    drafts = report.get("drafts")
    if drafts:
        for name in (
            "language_match",
            "citation_validity",
            "required_facts",
            "forbidden_promise",
            "personalization",
            "chrf",
            "cosine",
            "policy_retrieved",
            "policy_cited",
        ):
            rows.append((f"drafts.{name}", "–" if drafts.get(name) is None else f"{drafts[name]:.3f}"))
        rows.append(
            (
                "drafts fact findings / placeholders (mean per draft)",
                f"{drafts.get('fact_findings') or 0:.3f} / {drafts.get('placeholders') or 0:.3f}",
            )
        )
        rows.append(("drafts latency p50 / p95 (ms)", f"{drafts['latency_ms']['p50']} / {drafts['latency_ms']['p95']}"))
        rows.append(("drafts fallbacks / cost (USD)", f"{drafts['fallbacks']} / {drafts['cost_usd']}"))
    if report.get("dataset", {}).get("rejected_lines"):
        rows.append(("dataset lines rejected", str(report["dataset"]["rejected_lines"])))
    timing = report.get("timing") or {}
    if timing:
        rows.append(("run time (s)", str(timing.get("seconds"))))
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Eval report: {report.get('name')}",
        "",
        f"- dataset: `{report['dataset']['path']}` ({report['dataset']['kind']}, split {report['dataset']['split']}, n={report['dataset']['n']}, fingerprint {report['dataset']['fingerprint']})",
        f"- model: `{report.get('model_version')}`; generator: `{report.get('generator')}`; created {report.get('created_at')}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in summary_table(report)]
    for name, section in (report.get("triage") or {}).items():
        if "per_language" not in section:
            continue
        lines += [
            "",
            f"## triage.{name} per language",
            "",
            "| language | n | accuracy | macro-F1 |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {lang} | {s['n']} | {_pct(s['accuracy'])} | {_pct(s['macro_f1'])} |"
            for lang, s in section["per_language"].items()
        ]
    retrieval = report.get("retrieval")
    if retrieval and retrieval.get("per_language"):
        lines += [
            "",
            "## retrieval per language",
            "",
            "| language | n | recall@1 | recall@5 | MRR |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {lang} | {s['n']} | {s['recall_at_1']:.3f} | {s['recall_at_5']:.3f} | {s['mrr']:.3f} |"
            for lang, s in retrieval["per_language"].items()
        ]
    drafts = report.get("drafts")
    if drafts:
        for group in ("per_language", "per_intent"):
            lines += [
                "",
                f"## drafts {group.replace('_', ' ')}",
                "",
                "| group | n | language | citations | facts | forbidden | chrF |",
                "|---|---|---|---|---|---|---|",
            ]
            for key, s in drafts[group].items():
                cells = [
                    s.get(m)
                    for m in ("language_match", "citation_validity", "required_facts", "forbidden_promise", "chrf")
                ]
                lines.append(
                    f"| {key} | {s['n']} | " + " | ".join("–" if c is None else f"{c:.2f}" for c in cells) + " |"
                )
    if report["dataset"].get("errors"):
        lines += ["", "## rejected lines", ""] + [
            f"- {e['file']}:{e['line']}: {e['error']}" for e in report["dataset"]["errors"][:50]
        ]
    return "\n".join(lines) + "\n"
