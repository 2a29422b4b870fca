"""report.html: one self-contained page for QA reviewers (see evals/README.md).

Inline CSS and SVG drawn here, no scripts, fonts or network, so the file can be mailed or
attached to a ticket and opened anywhere. Every string from the report or the rows goes through
``html.escape``: ticket bodies, drafts and labels are untrusted. Each section renders only when
its part of the report is present.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["BADNESS_WEIGHTS", "badness", "render_html"]

# (metric, weight, how the per-draft value becomes points, label shown to reviewers)
BADNESS_WEIGHTS: tuple[tuple[str, float, str, str], ...] = (
    ("required_facts", 3.0, "shortfall", "missing required facts"),
    ("forbidden_promise", 3.0, "value", "forbidden promise"),
    ("language_match", 2.0, "shortfall", "wrong language"),
    ("citation_validity", 1.0, "shortfall", "unsupported citations"),
    ("fact_findings", 1.0, "count", "fact-check findings"),
    ("placeholders", 1.0, "count", "unfilled placeholders"),
    ("length_ok", 1.0, "shortfall", "length out of bounds"),
    ("chrf", 1.0, "shortfall", "far from the reference (1 − chrF)"),
)
MAIN_DRAFT_METRICS = ("language_match", "citation_validity", "required_facts", "forbidden_promise", "chrf", "cosine")
LOWER_IS_BETTER = frozenset({"forbidden_promise", "fact_findings", "placeholders"})
WORST_DRAFTS = 20
MAX_COUNT_POINTS = 3.0  # a draft with ten placeholders is not ten times worse than one with three

_SERIES_COLOURS = ("#3b6fb6", "#e08a2c", "#4a9a5b", "#8a5cb8")
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:1rem 1.5rem 4rem}
header.top{background:#1f2d3d;color:#fff;padding:1rem 1.5rem}header.top h1{margin:0 0 .4rem;font-size:1.5rem}
header.top dl{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:.15rem 1rem;margin:0;font-size:.9rem}
header.top dt{opacity:.75}header.top dd{margin:0;overflow-wrap:anywhere}
nav{margin:.8rem 0;font-size:.9rem}nav a{margin-right:1rem}
h2{border-bottom:2px solid #1f2d3d;padding-bottom:.2rem;margin-top:2.2rem}h3{margin:1.6rem 0 .5rem}
table{border-collapse:collapse;font-size:.88rem;margin:.4rem 0 1rem;background:#fff}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left;vertical-align:top}th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}
.chart{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.5rem}
.note{color:#555;font-size:.85rem}.warn{color:#a33}
article.draft{background:#fff;border:1px solid #ccc;border-left:5px solid #c0392b;border-radius:4px;padding:.6rem 1rem;margin:1rem 0}
article.draft h3{margin:.2rem 0}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f9;border:1px solid #e3e3e3;padding:.5rem;font-size:.88rem;max-height:32rem;overflow:auto}
ul.why{margin:.3rem 0;padding-left:1.2rem;font-size:.88rem}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600;font-size:.9rem}
code{font-size:.85em;overflow-wrap:anywhere}
@media print{.text{max-height:none}article.draft{break-inside:avoid}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return _e(value)


def _pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, int | float) and not isinstance(value, bool) else _num(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# ---------------------------------------------------------------- page


def render_html(report: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    sections: list[tuple[str, str, str]] = [("summary", "Headline metrics", _headline(report))]
    triage = _dict(report.get("triage"))
    if triage:
        sections.append(("triage", "Triage", _triage(triage)))
    retrieval = _dict(report.get("retrieval"))
    if retrieval:
        sections.append(("retrieval", "Retrieval", _retrieval(retrieval, rows)))
    drafts = _dict(report.get("drafts"))
    if drafts:
        sections.append(("drafts", "Drafts", _drafts(drafts)))
    drafted = [r for r in rows if isinstance(r.get("draft"), dict)]
    if drafted:
        sections.append(("worst", f"Worst {min(WORST_DRAFTS, len(drafted))} drafts", _worst_drafts(drafted)))
    errors = _dict(report.get("dataset")).get("errors") or []
    if errors:
        sections.append(("rejected", "Rejected dataset lines", _rejected(errors)))
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_e(title)}</h2>{content}</section>' for key, title, content in sections)
    title = f"Eval report: {report.get('name') or 'unnamed run'}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body>{_header(report, title)}<main><nav>{nav}</nav>{body}</main></body></html>\n"
    )


def _header(report: dict[str, Any], title: str) -> str:
    dataset = _dict(report.get("dataset"))
    timing = _dict(report.get("timing"))
    machine = _dict(report.get("machine"))
    items = [
        ("dataset", dataset.get("path")), ("kind / split", f"{dataset.get('kind', '–')} / {dataset.get('split', '–')}"),
        ("tickets", dataset.get("n")), ("fingerprint", dataset.get("fingerprint")),
        ("triage model", report.get("model_version")), ("draft generator", report.get("generator") or "none (no drafts)"),
        ("created", report.get("created_at")),
        ("run time", f"{timing.get('seconds', '–')} s ({timing.get('tickets_per_second', '–')} tickets/s)" if timing else None),
        ("rejected lines", dataset.get("rejected_lines")),
        ("machine", f"Python {machine.get('python', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('platform', '?')}" if machine else None),
    ]
    cells = "".join(f"<dt>{_e(k)}</dt><dd>{_e('–' if v is None else v)}</dd>" for k, v in items)
    return f'<header class="top"><h1>{_e(title)}</h1><dl>{cells}</dl></header>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] | None = None) -> str:
    """Cells are already-escaped HTML; headers are plain text. ``numeric``: right-aligned columns
    (default: all but the first)."""
    right = set(range(1, len(headers)) if numeric is None else numeric)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- headline


def _headline(report: dict[str, Any]) -> str:
    rows: list[list[str]] = []
    for name, raw in _dict(report.get("triage")).items():
        section = _dict(raw)
        if "macro_f1" in section:
            ece = _dict(section.get("calibration")).get("ece")
            unknown = _dict(section.get("unknown_labels")).get("count")
            note = f"ECE {_num(ece)}" + (f"; {_e(unknown)} unknown gold labels" if unknown else "")
            rows.append([f"triage.{_e(name)}", "accuracy / macro-F1", _num(section.get("n")), f"{_pct(section.get('accuracy'))} / {_pct(section.get('macro_f1'))}", note])
        elif "accuracy" in section:
            rows.append([f"triage.{_e(name)}", "accuracy", _num(section.get("n")), _pct(section.get("accuracy")), ""])
    retrieval = _dict(report.get("retrieval"))
    if retrieval:
        modes = _dict(retrieval.get("modes")) or {retrieval.get("mode", "tickets"): retrieval}
        for mode, raw in modes.items():
            section = _dict(raw)
            values = " / ".join(_num(section.get(k)) for k in ("recall_at_1", "recall_at_5", "mrr"))
            rows.append([f"retrieval[{_e(mode)}]", "recall@1 / recall@5 / MRR", _num(section.get("n")), values, ""])
    drafts = _dict(report.get("drafts"))
    if drafts:
        for name in (*MAIN_DRAFT_METRICS, "personalization", "policy_retrieved", "policy_cited", "fact_findings", "placeholders"):
            if name in drafts:
                note = "lower is better" if name in LOWER_IS_BETTER else ""
                rows.append([f"drafts.{_e(name)}", "mean per draft", _num(drafts.get("n")), _num(drafts.get(name)), note])
        latency = _dict(drafts.get("latency_ms"))
        if latency:
            rows.append(["drafts", "latency p50 / p95 (ms)", _num(drafts.get("n")), f"{_num(latency.get('p50'), 0)} / {_num(latency.get('p95'), 0)}", ""])
        if "fallbacks" in drafts or "cost_usd" in drafts:
            rows.append(["drafts", "fallbacks / cost (USD)", _num(drafts.get("n")), f"{_num(drafts.get('fallbacks'))} / {_num(drafts.get('cost_usd'), 4)}", ""])
    if not rows:
        return '<p class="note">This report has no metrics.</p>'
    return _table(["area", "metric", "n", "value", "note"], rows, numeric=(2, 3))


# ---------------------------------------------------------------- SVG primitives


def _mix(start: tuple[int, int, int], end: tuple[int, int, int], t: float) -> str:
    t = min(1.0, max(0.0, t))
    r, g, b = (round(a + (z - a) * t) for a, z in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _score_colour(value: float | None) -> str:
    """Pale red for 0, pale green for 1: for table cells holding scores in [0, 1]."""
    if value is None:
        return "#ffffff"
    return _mix((250, 205, 200), (205, 237, 205), value)


def _text_width(text: str, size: float = 11) -> float:
    return len(text) * size * 0.6


def _svg(width: float, height: float, content: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{_e(label)}" style="{_FONT}">{content}</svg>'
    )


def bar_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, note: str = "") -> str:
    """Horizontal grouped bars: one group per category, one bar per series."""
    if not categories:
        return ""
    bar_h, gap, plot_w = 11, 7, 300.0
    label_w = min(220.0, max(_text_width(c) for c in categories) + 10)
    legend_h = 16 if len(series) > 1 else 0
    top = 30 + legend_h
    group_h = bar_h * len(series) + gap
    peak = max([1.0] + [v for _, values in series for v in values if v is not None])
    width, height = label_w + plot_w + 60, top + group_h * len(categories) + 8
    parts = [f'<text x="0" y="14" font-size="13" font-weight="600">{_e(title)}</text>']
    if note:
        parts.append(f'<text x="{width - 4:.0f}" y="14" font-size="10" text-anchor="end" fill="#666">{_e(note)}</text>')
    for i, (name, _) in enumerate(series if len(series) > 1 else []):
        x = label_w + i * 110
        parts.append(f'<rect x="{x:.0f}" y="20" width="10" height="10" fill="{_SERIES_COLOURS[i % 4]}"/><text x="{x + 14:.0f}" y="29" font-size="10">{_e(name)}</text>')
    for tick in range(5):
        x = label_w + plot_w * tick / 4
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 6:.0f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 6}" font-size="9" fill="#888" text-anchor="middle">{peak * tick / 4:g}</text>')
    for row, category in enumerate(categories):
        y0 = top + row * group_h
        parts.append(f'<text x="{label_w - 6:.0f}" y="{y0 + group_h / 2 + 1:.0f}" font-size="11" text-anchor="end">{_e(category)}</text>')
        for i, (name, values) in enumerate(series):
            value = values[row] if row < len(values) else None
            y = y0 + i * bar_h
            if value is None:
                parts.append(f'<text x="{label_w + 3:.0f}" y="{y + bar_h - 2}" font-size="9" fill="#999">n/a</text>')
                continue
            w = plot_w * value / peak
            parts.append(
                f'<rect x="{label_w:.0f}" y="{y}" width="{w:.1f}" height="{bar_h - 1}" fill="{_SERIES_COLOURS[i % 4]}">'
                f"<title>{_e(category)} · {_e(name)}: {value:.3f}</title></rect>"
                f'<text x="{label_w + w + 3:.1f}" y="{y + bar_h - 2}" font-size="9">{value:.2f}</text>'
            )
    return f'<div class="chart">{_svg(width, height, "".join(parts), title)}</div>'


def confusion_svg(confusion: dict[str, dict[str, int]], title: str) -> str:
    """Gold rows × predicted columns, coloured by the share of the gold row (blue right, red wrong)."""
    labels = sorted(set(confusion) | {p for row in confusion.values() for p in _dict(row)})
    if not labels:
        return ""
    cell = 24 if len(labels) <= 26 else 16
    margin = min(200.0, max(_text_width(label, 10) for label in labels) + 12)
    left, top = margin + 18, margin + 34
    size = cell * len(labels)
    width, height = left + size + 50, top + size + 10
    parts = [
        f'<text x="0" y="14" font-size="13" font-weight="600">{_e(title)}</text>',
        f'<text x="{left + size / 2:.0f}" y="30" font-size="10" fill="#666" text-anchor="middle">predicted →</text>',
        f'<text x="12" y="{top + size / 2:.0f}" font-size="10" fill="#666" text-anchor="middle" transform="rotate(-90 12 {top + size / 2:.0f})">gold →</text>',
        f'<text x="{left + size + 6:.0f}" y="{top - 6:.0f}" font-size="9" fill="#666">n</text>',
    ]
    for j, label in enumerate(labels):
        x = left + j * cell + cell / 2 + 3
        parts.append(f'<text x="{x:.0f}" y="{top - 4:.0f}" font-size="10" transform="rotate(-90 {x:.0f} {top - 4:.0f})">{_e(label)}</text>')
    for i, gold in enumerate(labels):
        row = {str(k): int(v) for k, v in _dict(confusion.get(gold)).items()}
        total = sum(row.values())
        y = top + i * cell
        parts.append(f'<text x="{left - 4:.0f}" y="{y + cell / 2 + 4:.0f}" font-size="10" text-anchor="end">{_e(gold)}</text>')
        parts.append(f'<text x="{left + size + 6:.0f}" y="{y + cell / 2 + 4:.0f}" font-size="9" fill="#666">{total}</text>')
        for j, pred in enumerate(labels):
            count = row.get(pred, 0)
            share = count / total if total else 0.0
            fill = "#f6f6f6" if not count else _mix((255, 255, 255), (31, 96, 180) if pred == gold else (200, 40, 40), 0.15 + 0.85 * share)
            x = left + j * cell
            tip = f"gold {gold} → predicted {pred}: {count} of {total} ({share * 100:.0f}%)"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}"><title>{_e(tip)}</title></rect>')
            if count:
                ink = "#fff" if share > 0.5 else "#222"
                parts.append(f'<text x="{x + cell / 2 - 0.5:.1f}" y="{y + cell / 2 + 3.5:.1f}" font-size="{9 if cell > 16 else 7}" text-anchor="middle" fill="{ink}">{count}</text>')
    return f'<div class="chart">{_svg(width, height, "".join(parts), title)}</div>'


def calibration_svg(calibration: dict[str, Any], title: str) -> str:
    """Reliability curve: mean confidence vs accuracy per bin, dot area by bin size, diagonal = perfect."""
    bins = [b for b in calibration.get("bins") or [] if _float(_dict(b).get("confidence")) is not None and _float(_dict(b).get("accuracy")) is not None]
    left, top, plot = 42, 30, 240
    width, height = left + plot + 20, top + plot + 40

    def point(conf: float, acc: float) -> tuple[float, float]:
        return left + plot * conf, top + plot * (1 - acc)

    parts = [f'<text x="0" y="14" font-size="13" font-weight="600">{_e(title)} (ECE {_num(calibration.get("ece"))})</text>']
    for tick in range(6):
        t = tick / 5
        x, y = point(t, t)
        parts.append(f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot}" y2="{y:.0f}" stroke="#eee"/><line x1="{x:.0f}" y1="{top}" x2="{x:.0f}" y2="{top + plot}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.0f}" font-size="9" text-anchor="end" fill="#666">{t:.1f}</text>')
        parts.append(f'<text x="{x:.0f}" y="{top + plot + 12}" font-size="9" text-anchor="middle" fill="#666">{t:.1f}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="#999"/>')
    parts.append(f'<line x1="{left}" y1="{top + plot}" x2="{left + plot}" y2="{top}" stroke="#888" stroke-dasharray="4 3"><title>perfect calibration</title></line>')
    parts.append(f'<text x="{left + plot / 2}" y="{top + plot + 28}" font-size="10" text-anchor="middle">mean confidence</text>')
    parts.append(f'<text x="11" y="{top + plot / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 11 {top + plot / 2})">accuracy</text>')
    if bins:
        peak = max(int(_dict(b).get("n") or 0) for b in bins) or 1
        coords = [(point(float(b["confidence"]), float(b["accuracy"])), b) for b in bins]
        parts.append('<polyline fill="none" stroke="#3b6fb6" stroke-width="1.5" points="' + " ".join(f"{x:.1f},{y:.1f}" for (x, y), _ in coords) + '"/>')
        for (x, y), b in coords:
            radius = 2.5 + 5 * math.sqrt(int(b.get("n") or 0) / peak)
            tip = f"bin {b.get('bin')}: n={b.get('n')}, confidence {float(b['confidence']):.3f}, accuracy {float(b['accuracy']):.3f}"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="#3b6fb6" fill-opacity=".75"><title>{_e(tip)}</title></circle>')
    return f'<div class="chart">{_svg(width, height, "".join(parts), title)}</div>'


# ---------------------------------------------------------------- triage


def _triage(triage: dict[str, Any]) -> str:
    parts: list[str] = []
    for name, raw in triage.items():
        section = _dict(raw)
        if "confusion" in section or "per_label" in section:
            parts.append(_triage_field(name, section))
    escalation = _dict(triage.get("escalation"))
    if escalation.get("per_flag"):
        rows = [[_e(flag), _num(_dict(s).get("precision")), _num(_dict(s).get("recall")), _num(_dict(s).get("support"))] for flag, s in _dict(escalation["per_flag"]).items()]
        parts.append(f"<h3>Escalation flags (n={_num(escalation.get('n'))})</h3>" + _table(["flag", "precision", "recall", "support"], rows))
    party = _dict(triage.get("responsible_party"))
    if "accuracy" in party and "per_label" not in party:
        parts.append(f"<h3>Responsible party</h3><p>accuracy {_pct(party.get('accuracy'))} on {_num(party.get('n'))} tickets</p>")
    return "".join(parts) or '<p class="note">No triage fields were scored.</p>'


def _triage_field(name: str, section: dict[str, Any]) -> str:
    charts = [confusion_svg(_dict(section.get("confusion")), f"{name}: confusion matrix")]
    calibration = _dict(section.get("calibration"))
    if calibration:
        charts.append(calibration_svg(calibration, f"{name}: reliability"))
    per_language = _dict(section.get("per_language"))
    if per_language:
        langs = list(per_language)
        charts.append(bar_chart(
            f"{name}: per language", [f"{lang} (n={_dict(per_language[lang]).get('n', '?')})" for lang in langs],
            [(metric, [_float(_dict(per_language[lang]).get(key)) for lang in langs]) for metric, key in (("accuracy", "accuracy"), ("macro-F1", "macro_f1"))],
        ))
    head = f"<h3>triage.{_e(name)} — accuracy {_pct(section.get('accuracy'))}, macro-F1 {_pct(section.get('macro_f1'))}, n={_num(section.get('n'))}</h3>"
    unknown = _dict(section.get("unknown_labels"))
    if unknown.get("count"):
        labels = ", ".join(_e(label) for label in unknown.get("labels") or [])
        head += f'<p class="note warn">{_e(unknown["count"])} tickets had gold labels the model does not know (not scored): {labels}</p>'
    return head + f'<div class="charts">{"".join(c for c in charts if c)}</div>' + _per_label_table(_dict(section.get("per_label")))


def _per_label_table(per_label: dict[str, Any]) -> str:
    if not per_label:
        return ""

    def order(item: tuple[str, Any]) -> tuple[int, float, str]:
        stats = _dict(item[1])
        return (0 if stats.get("support") else 1, _float(stats.get("f1")) or 0.0, item[0])

    rows = []
    for label, raw in sorted(per_label.items(), key=order):
        stats = _dict(raw)
        cells = [f'<span style="display:block;background:{_score_colour(_float(stats.get(k)))}">{_num(stats.get(k))}</span>' for k in ("precision", "recall", "f1")]
        rows.append([_e(label), *cells, _num(stats.get("support"))])
    return '<details><summary>Per-label precision / recall (worst F1 first)</summary>' + _table(["label", "precision", "recall", "F1", "support"], rows) + "</details>"


# ---------------------------------------------------------------- retrieval


def _retrieval(retrieval: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    modes = _dict(retrieval.get("modes"))
    main = retrieval.get("mode")
    if modes:
        table_rows = [
            [f"<strong>{_e(mode)}</strong>" if mode == main else _e(mode), *(_num(_dict(s).get(k)) for k in ("n", "recall_at_1", "recall_at_5", "mrr"))]
            for mode, s in modes.items()
        ]
        parts.append("<h3>Search modes</h3>" + _table(["mode", "n", "recall@1", "recall@5", "MRR"], table_rows))
    per_language = _dict(retrieval.get("per_language"))
    if per_language:
        langs = list(per_language)
        title = f"per language ({main})" if main else "per language"
        chart = bar_chart(
            title, [f"{lang} (n={_dict(per_language[lang]).get('n', '?')})" for lang in langs],
            [(label, [_float(_dict(per_language[lang]).get(key)) for lang in langs]) for label, key in (("recall@5", "recall_at_5"), ("MRR", "mrr"))],
        )
        parts.append(f'<h3>Per language</h3><div class="charts">{chart}</div>')
    if len(modes) > 1:
        parts.append(_modes_by_language(modes))
    parts.append(_retrieval_misses(rows, str(main or "hybrid")))
    return "".join(parts)


def _modes_by_language(modes: dict[str, Any]) -> str:
    langs = sorted({lang for s in modes.values() for lang in _dict(_dict(s).get("per_language"))})
    if not langs:
        return ""
    headers = ["language", *(f"{mode} recall@5" for mode in modes), *(f"{mode} MRR" for mode in modes)]
    rows = []
    for lang in langs:
        stats = [_dict(_dict(_dict(s).get("per_language")).get(lang)) for s in modes.values()]
        rows.append([_e(lang), *(_num(s.get("recall_at_5")) for s in stats), *(_num(s.get("mrr")) for s in stats)])
    return "<details><summary>Every mode per language</summary>" + _table(headers, rows) + "</details>"


def _retrieval_misses(rows: list[dict[str, Any]], mode: str) -> str:
    misses = []
    for row in rows:
        retrieval = _dict(row.get("retrieval"))
        entry = retrieval if "ranked" in retrieval else _dict(retrieval.get(mode))
        expected = row.get("expected") if "expected" in row else retrieval.get("expected")
        ranked = entry.get("ranked")
        if not isinstance(expected, list) or not expected or not isinstance(ranked, list):
            continue
        if not set(map(str, expected)) & set(map(str, ranked[:5])):
            misses.append([_e(row.get("id")), _e(row.get("language")), _e(", ".join(map(str, expected))), _e(", ".join(map(str, ranked[:5])))])
    if not misses:
        return ""
    shown = misses[:50]
    return (
        f"<details><summary>Queries with no expected document in the top 5 ({len(misses)}; first {len(shown)})</summary>"
        + _table(["id", "language", "expected", "top 5 retrieved"], shown, numeric=())
        + "</details>"
    )


# ---------------------------------------------------------------- drafts


def _drafts(drafts: dict[str, Any]) -> str:
    parts = []
    summary = [[_e(name), _num(drafts.get(name)), "lower is better" if name in LOWER_IS_BETTER else ""] for name in drafts if _is_metric(drafts.get(name))]
    if summary:
        parts.append(_table(["metric", "mean", "note"], summary, numeric=(1,)))
    extras = []
    latency = _dict(drafts.get("latency_ms"))
    if latency:
        extras.append(f"latency p50 {_num(latency.get('p50'), 0)} ms, p95 {_num(latency.get('p95'), 0)} ms")
    tokens = _dict(drafts.get("tokens"))
    if tokens:
        extras.append(f"tokens {_num(tokens.get('prompt'))} prompt + {_num(tokens.get('completion'))} completion")
    if "cost_usd" in drafts:
        extras.append(f"cost ${_num(drafts.get('cost_usd'), 4)}")
    if "fallbacks" in drafts:
        extras.append(f"{_num(drafts.get('fallbacks'))} fallbacks")
    generators = _dict(drafts.get("generators"))
    if generators:
        extras.append("generators: " + ", ".join(f"{_e(k)} {_num(v)}" for k, v in generators.items()))
    if extras:
        parts.append(f'<p class="note">{"; ".join(extras)}</p>')
    for key, title in (("per_language", "Per language"), ("per_intent", "Per intent")):
        groups = _dict(drafts.get(key))
        if groups:
            parts.append(f"<h3>{title}</h3>" + _group_charts(groups))
    return "".join(parts)


def _is_metric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _group_charts(groups: dict[str, Any]) -> str:
    names = list(groups)
    categories = [f"{name} (n={_dict(groups[name]).get('n', '?')})" for name in names]
    charts, empty = [], []
    for metric in MAIN_DRAFT_METRICS:
        values = [_float(_dict(groups[name]).get(metric)) for name in names]
        if all(v is None for v in values):
            empty.append(metric)
            continue
        note = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        charts.append(bar_chart(metric, categories, [(metric, values)], note=note))
    out = f'<div class="charts">{"".join(charts)}</div>'
    if empty:
        out += f'<p class="note">No values (the metric did not apply to any ticket): {_e(", ".join(empty))}</p>'
    return out


def badness(scores: dict[str, Any]) -> tuple[float, list[tuple[str, float, str]]]:
    """How bad a draft looks, with the points each problem contributed and the scorer's reason."""
    total, reasons = 0.0, []
    for metric, weight, kind, label in BADNESS_WEIGHTS:
        score = _dict(scores.get(metric))
        value = _float(score.get("value"))
        if value is None:
            continue
        amount = {"shortfall": 1 - value, "value": value, "count": min(value, MAX_COUNT_POINTS)}[kind]
        points = weight * max(0.0, amount)
        if points > 0:
            total += points
            reasons.append((label, points, str(score.get("reason") or "")))
    reasons.sort(key=lambda item: -item[1])
    return total, reasons


def _worst_drafts(rows: list[dict[str, Any]]) -> str:
    ranked = sorted(((badness(_dict(row["draft"].get("scores"))), row) for row in rows), key=lambda item: (-item[0][0], str(item[1].get("id"))))
    weights = "; ".join(f"{label}: {weight:g} × {'(1 − score)' if kind == 'shortfall' else 'count (max 3)' if kind == 'count' else 'score'}" for _, weight, kind, label in BADNESS_WEIGHTS)
    intro = f'<p class="note">Ranked by badness = the sum of: {_e(weights)}. Metrics that do not apply to a draft add nothing.</p>'
    return intro + "".join(_draft_card(rank, row, score, reasons) for rank, ((score, reasons), row) in enumerate(ranked[:WORST_DRAFTS], 1))


def _draft_card(rank: int, row: dict[str, Any], score: float, reasons: list[tuple[str, float, str]]) -> str:
    draft = _dict(row.get("draft"))
    intent = _dict(_dict(row.get("triage")).get("intent"))
    meta = [
        f"language {_e(row.get('language'))}" + (f" (draft detected as {_e(draft['detected_language'])})" if draft.get("detected_language") else ""),
        f"intent {_e(row.get('intent'))}" + (f" (predicted {_e(intent['pred'])})" if intent.get("pred") and intent.get("pred") != row.get("intent") else ""),
        f"generator {_e(draft.get('generator'))}",
    ]
    if draft.get("fallback_reason"):
        meta.append(f'<span class="warn">fallback: {_e(draft["fallback_reason"])}</span>')
    if draft.get("latency_ms") is not None:
        meta.append(f"{_num(draft.get('latency_ms'), 0)} ms")
    why = "".join(f"<li><strong>{_e(label)}</strong> +{points:.2f} — {_e(reason)}</li>" for label, points, reason in reasons) or "<li>no problems found</li>"
    reference = draft.get("reference")
    pair = (
        f'<div class="pair"><div><h4>Draft</h4><div class="text">{_e(draft.get("body") or "")}</div></div>'
        f'<div><h4>Reference reply</h4><div class="text">{_e(reference) if reference else "<em>no reference reply</em>"}</div></div></div>'
    )
    return (
        f'<article class="draft" id="draft-{_e(row.get("id"))}"><h3>#{rank} {_e(row.get("id"))} — badness {score:.2f}</h3>'
        f'<p class="note">{" · ".join(meta)}</p><ul class="why">{why}</ul>{pair}'
        f"{_scores_table(_dict(draft.get('scores')))}{_findings(draft.get('findings'))}{_passages(draft.get('passages'))}</article>"
    )


def _scores_table(scores: dict[str, Any]) -> str:
    if not scores:
        return ""
    rows = []
    for name, raw in scores.items():
        score = _dict(raw)
        value = _float(score.get("value"))
        colour = _score_colour(None if value is None or name in LOWER_IS_BETTER or value > 1 else value)
        rows.append([_e(name), f'<span style="display:block;background:{colour}">{_num(score.get("value"))}</span>', _e(score.get("reason") or "")])
    return "<details open><summary>Scores</summary>" + _table(["metric", "value", "reason"], rows, numeric=(1,)) + "</details>"


def _findings(findings: Any) -> str:
    if not isinstance(findings, list) or not findings:
        return '<p class="note">No guardrail findings.</p>'
    items = []
    for finding in findings:
        f = _dict(finding)
        sentence = f" — “{_e(f['sentence'])}”" if f.get("sentence") else ""
        items.append(f"<li>[{_e(f.get('severity', '?'))}] <strong>{_e(f.get('check', '?'))}</strong>: {_e(f.get('message', ''))}{sentence}</li>")
    return f"<details open><summary>Findings ({len(findings)})</summary><ul>{''.join(items)}</ul></details>"


def _passages(passages: Any) -> str:
    if not isinstance(passages, list) or not passages:
        return '<p class="note">No passages retrieved.</p>'
    items = "".join(
        f"<li>{_e(_dict(p).get('title', ''))} <span class=\"note\">({_e(_dict(p).get('locale', '?'))})</span> <code>{_e(_dict(p).get('chunk_id', ''))}</code></li>"
        for p in passages
    )
    return f"<details><summary>Retrieved passages ({len(passages)})</summary><ol>{items}</ol></details>"


def _rejected(errors: list[Any]) -> str:
    rows = [[_e(_dict(e).get("file")), _num(_dict(e).get("line")), _e(_dict(e).get("error"))] for e in errors[:200]]
    return _table(["file", "line", "error"], rows, numeric=(1,))
