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
MAIN_DRAFT_METRICS = (
    "language_match",
    "citation_validity",
    "required_facts",
    "forbidden_promise",
    "chrf",
    "cosine",
)
LOWER_IS_BETTER = frozenset({"forbidden_promise", "fact_findings", "placeholders"})
WORST_DRAFTS = 20
MAX_COUNT_POINTS = 3.0  # a draft with ten placeholders is not ten times worse than one with three

_SERIES_COLOURS = ("#3b6fb6", "#e08a2c", "#4a9a5b", "#8a5cb8")
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d1d1f;
  background:#fafafa;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:1rem 1.5rem 4rem}
header.top{background:#1f2d3d;color:#fff;padding:1rem 1.5rem}header.top h1{margin:0 0 .4rem;font-size:1.5rem}
header.top dl{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:.15rem 1rem;
  margin:0;font-size:.9rem}
header.top dt{opacity:.75}header.top dd{margin:0;overflow-wrap:anywhere}
nav{margin:.8rem 0;font-size:.9rem}nav a{margin-right:1rem}
h2{border-bottom:2px solid #1f2d3d;padding-bottom:.2rem;margin-top:2.2rem}h3{margin:1.6rem 0 .5rem}
table{border-collapse:collapse;font-size:.88rem;margin:.4rem 0 1rem;background:#fff}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left;vertical-align:top}th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}
.chart{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.5rem}
.note{color:#555;font-size:.85rem}.warn{color:#a33}
article.draft{background:#fff;border:1px solid #ccc;border-left:5px solid #c0392b;border-radius:4px;
  padding:.6rem 1rem;margin:1rem 0}
article.draft h3{margin:.2rem 0}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f9;border:1px solid #e3e3e3;padding:.5rem;
  font-size:.88rem;max-height:32rem;overflow:auto}
ul.why{margin:.3rem 0;padding-left:1.2rem;font-size:.88rem}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600;font-size:.9rem}
code{font-size:.85em;overflow-wrap:anywhere}
@media print{.text{max-height:none}article.draft{break-inside:avoid}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if _is_number(value) else _num(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _float(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _shaded(value: Any, colour_value: float | None) -> str:
    """A table cell's content on a red-to-green background (white when there is no score)."""
    return f'<span style="display:block;background:{_score_colour(colour_value)}">{_num(value)}</span>'


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
    errors = _dict(report.get("dataset")).get("errors")
    if isinstance(errors, list) and errors:
        sections.append(("rejected", "Rejected dataset lines", _rejected(errors)))
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_e(title)}</h2>{html_}</section>' for key, title, html_ in sections)
    title = f"Eval report: {report.get('name') or 'unnamed run'}"
    head = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style>"
    )
    page = f"{_header(report, title)}<main><nav>{nav}</nav>{body}</main>"
    return f'<!doctype html><html lang="en"><head>{head}</head><body>{page}</body></html>\n'


def _header(report: dict[str, Any], title: str) -> str:
    dataset = _dict(report.get("dataset"))
    timing = _dict(report.get("timing"))
    machine = _dict(report.get("machine"))
    run_time = f"{timing.get('seconds', '–')} s ({timing.get('tickets_per_second', '–')} tickets/s)"
    host = f"Python {machine.get('python', '?')}, {machine.get('cpus', '?')} CPUs"
    host += f", {machine.get('platform', '?')}"
    items = [
        ("dataset", dataset.get("path")),
        ("kind / split", f"{dataset.get('kind', '–')} / {dataset.get('split', '–')}"),
        ("tickets", dataset.get("n")),
        ("fingerprint", dataset.get("fingerprint")),
        ("triage model", report.get("model_version")),
        ("draft generator", report.get("generator") or "none (no drafts)"),
        ("created", report.get("created_at")),
        ("run time", run_time if timing else None),
        ("rejected lines", dataset.get("rejected_lines")),
        ("machine", host if machine else None),
    ]
    cells = "".join(f"<dt>{_e(k)}</dt><dd>{_e('–' if v is None else v)}</dd>" for k, v in items)
    return f'<header class="top"><h1>{_e(title)}</h1><dl>{cells}</dl></header>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] | None = None) -> str:
    """Cells are already-escaped HTML; headers are plain text.

    ``numeric`` lists the right-aligned columns (default: all but the first).
    """
    right = set(range(1, len(headers)) if numeric is None else numeric)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- headline


def _headline(report: dict[str, Any]) -> str:
    rows = [
        *_headline_triage(_dict(report.get("triage"))),
        *_headline_retrieval(_dict(report.get("retrieval"))),
        *_headline_drafts(_dict(report.get("drafts"))),
    ]
    if not rows:
        return '<p class="note">This report has no metrics.</p>'
    return _table(["area", "metric", "n", "value", "note"], rows, numeric=(2, 3))


def _headline_triage(triage: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, raw in triage.items():
        section, n = _dict(raw), _num(_dict(raw).get("n"))
        if "macro_f1" in section:
            unknown = _dict(section.get("unknown_labels")).get("count")
            note = f"ECE {_num(_dict(section.get('calibration')).get('ece'))}"
            note += f"; {_e(unknown)} unknown gold labels" if unknown else ""
            value = f"{_pct(section.get('accuracy'))} / {_pct(section.get('macro_f1'))}"
            rows.append([f"triage.{_e(name)}", "accuracy / macro-F1", n, value, note])
        elif "accuracy" in section:
            rows.append([f"triage.{_e(name)}", "accuracy", n, _pct(section.get("accuracy")), ""])
    return rows


def _headline_retrieval(retrieval: dict[str, Any]) -> list[list[str]]:
    if not retrieval:
        return []
    modes = _dict(retrieval.get("modes")) or {retrieval.get("mode", "tickets"): retrieval}
    rows = []
    for mode, raw in modes.items():
        section = _dict(raw)
        values = " / ".join(_num(section.get(k)) for k in ("recall_at_1", "recall_at_5", "mrr"))
        rows.append([f"retrieval[{_e(mode)}]", "recall@1 / recall@5 / MRR", _num(section.get("n")), values, ""])
    return rows


def _headline_drafts(drafts: dict[str, Any]) -> list[list[str]]:
    if not drafts:
        return []
    n = _num(drafts.get("n"))
    names = (
        *MAIN_DRAFT_METRICS,
        "personalization",
        "policy_retrieved",
        "policy_cited",
        "fact_findings",
        "placeholders",
    )
    rows = [
        [f"drafts.{name}", "mean per draft", n, _num(drafts.get(name)), _direction(name)]
        for name in names
        if name in drafts
    ]
    latency = _dict(drafts.get("latency_ms"))
    if latency:
        rows.append(
            [
                "drafts",
                "latency p50 / p95 (ms)",
                n,
                f"{_num(latency.get('p50'), 0)} / {_num(latency.get('p95'), 0)}",
                "",
            ]
        )
    if "fallbacks" in drafts or "cost_usd" in drafts:
        value = f"{_num(drafts.get('fallbacks'))} / {_num(drafts.get('cost_usd'), 4)}"
        rows.append(["drafts", "fallbacks / cost (USD)", n, value, ""])
    return rows


def _direction(metric: str) -> str:
    return "lower is better" if metric in LOWER_IS_BETTER else ""


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


def _attr(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    return _e(value)


def _el(tag: str, content: str = "", /, **attrs: object) -> str:
    """One SVG element; ``content`` is markup (escape text first), ``font_size`` -> font-size."""
    attributes = "".join(f' {k.replace("_", "-")}="{_attr(v)}"' for k, v in attrs.items() if v is not None)
    return f"<{tag}{attributes}>{content}</{tag}>" if content else f"<{tag}{attributes}/>"


def _text(x: float, y: float, text: object, size: float = 10, **attrs: object) -> str:
    return _el("text", _e(text), x=x, y=y, font_size=size, **attrs)


def _tip(text: str) -> str:
    return _el("title", _e(text))


def _svg(width: float, height: float, content: str, label: str) -> str:
    svg = _el(
        "svg",
        content,
        xmlns="http://www.w3.org/2000/svg",
        width=round(width),
        height=round(height),
        viewBox=f"0 0 {round(width)} {round(height)}",
        role="img",
        aria_label=label,
        style=_FONT,
    )
    return f'<div class="chart">{svg}</div>'


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    note: str = "",
) -> str:
    """Horizontal grouped bars: one group per category, one bar per series."""
    if not categories:
        return ""
    bar_h, gap, plot_w = 11, 7, 300.0
    label_w = min(220.0, max(_text_width(c) for c in categories) + 10)
    top = 36 + (16 if len(series) > 1 else 0)
    group_h = bar_h * len(series) + gap
    peak = max([1.0] + [v for _, values in series for v in values if v is not None])
    width, height = label_w + plot_w + 60, top + group_h * len(categories) + 8
    parts = [_text(0, 14, title, 13, font_weight=600)]
    if note:
        parts.append(_text(width - 4, 14, note, text_anchor="end", fill="#666"))
    for i, (name, _) in enumerate(series if len(series) > 1 else []):
        x = label_w + i * 110
        parts.append(_el("rect", x=x, y=20, width=10, height=10, fill=_SERIES_COLOURS[i % 4]) + _text(x + 14, 29, name))
    for tick in range(5):
        x = label_w + plot_w * tick / 4
        parts.append(_el("line", x1=x, y1=top - 4, x2=x, y2=height - 6, stroke="#e5e5e5"))
        parts.append(_text(x, top - 6, f"{peak * tick / 4:g}", 9, fill="#888", text_anchor="middle"))
    for row, category in enumerate(categories):
        y0 = top + row * group_h
        parts.append(_text(label_w - 6, y0 + group_h / 2 + 1, category, 11, text_anchor="end"))
        for i, (name, values) in enumerate(series):
            value = values[row] if row < len(values) else None
            y = y0 + i * bar_h
            if value is None:
                parts.append(_text(label_w + 3, y + bar_h - 2, "n/a", 9, fill="#999"))
                continue
            w = plot_w * value / peak
            tip = _tip(f"{category} · {name}: {value:.3f}")
            parts.append(_el("rect", tip, x=label_w, y=y, width=w, height=bar_h - 1, fill=_SERIES_COLOURS[i % 4]))
            parts.append(_text(label_w + w + 3, y + bar_h - 2, f"{value:.2f}", 9))
    return _svg(width, height, "".join(parts), title)


def confusion_svg(confusion: dict[str, dict[str, int]], title: str) -> str:
    """Gold rows × predicted columns, coloured by the share of the gold row (blue right, red wrong)."""
    labels = sorted(set(confusion) | {p for row in confusion.values() for p in _dict(row)})
    if not labels:
        return ""
    cell = 24 if len(labels) <= 26 else 16
    margin = min(200.0, max(_text_width(label, 10) for label in labels) + 12)
    left, top = margin + 18, margin + 34
    size = cell * len(labels)
    middle = top + size / 2
    parts = [
        _text(0, 14, title, 13, font_weight=600),
        _text(left + size / 2, 30, "predicted →", fill="#666", text_anchor="middle"),
        _text(12, middle, "gold →", fill="#666", text_anchor="middle", transform=f"rotate(-90 12 {middle:.0f})"),
        _text(left + size + 6, top - 6, "n", 9, fill="#666"),
    ]
    for j, label in enumerate(labels):
        x = left + j * cell + cell / 2 + 3
        parts.append(_text(x, top - 4, label, transform=f"rotate(-90 {x:.0f} {top - 4:.0f})"))
    for i, gold in enumerate(labels):
        row = {str(k): int(v) for k, v in _dict(confusion.get(gold)).items()}
        total = sum(row.values())
        y = top + i * cell
        parts.append(_text(left - 4, y + cell / 2 + 4, gold, text_anchor="end"))
        parts.append(_text(left + size + 6, y + cell / 2 + 4, total, 9, fill="#666"))
        for j, pred in enumerate(labels):
            cell_svg = _confusion_cell(
                left + j * cell, y, cell, gold=gold, pred=pred, count=row.get(pred, 0), total=total
            )
            parts.append(cell_svg)
    return _svg(left + size + 50, top + size + 10, "".join(parts), title)


def _confusion_cell(x: float, y: float, cell: int, *, gold: str, pred: str, count: int, total: int) -> str:
    share = count / total if total else 0.0
    ink = (31, 96, 180) if pred == gold else (200, 40, 40)
    # A floor of 0.15 keeps a single confusion in a big row visible against the empty cells.
    fill = _mix((255, 255, 255), ink, 0.15 + 0.85 * share) if count else "#f6f6f6"
    tip = _tip(f"gold {gold} → predicted {pred}: {count} of {total} ({share * 100:.0f}%)")
    out = _el("rect", tip, x=x, y=y, width=cell - 1, height=cell - 1, fill=fill)
    if count:
        colour = "#fff" if share > 0.5 else "#222"
        out += _text(
            x + cell / 2 - 0.5,
            y + cell / 2 + 3.5,
            count,
            9 if cell > 16 else 7,
            text_anchor="middle",
            fill=colour,
        )
    return out


def calibration_svg(calibration: dict[str, Any], title: str) -> str:
    """Reliability curve: mean confidence vs accuracy per bin, dot area by bin size, diagonal = perfect."""
    bins = [_dict(b) for b in calibration.get("bins") or []]
    bins = [b for b in bins if _float(b.get("confidence")) is not None and _float(b.get("accuracy")) is not None]
    left, top, plot = 42, 30, 240

    def point(conf: float, acc: float) -> tuple[float, float]:
        return left + plot * conf, top + plot * (1 - acc)

    parts = [_text(0, 14, f"{title} (ECE {_num(calibration.get('ece'))})", 13, font_weight=600)]
    for tick in range(6):
        t = tick / 5
        x, y = point(t, t)
        parts.append(_el("line", x1=left, y1=y, x2=left + plot, y2=y, stroke="#eee"))
        parts.append(_el("line", x1=x, y1=top, x2=x, y2=top + plot, stroke="#eee"))
        parts.append(_text(left - 4, y + 3, f"{t:.1f}", 9, text_anchor="end", fill="#666"))
        parts.append(_text(x, top + plot + 12, f"{t:.1f}", 9, text_anchor="middle", fill="#666"))
    parts.append(_el("rect", x=left, y=top, width=plot, height=plot, fill="none", stroke="#999"))
    diagonal = _tip("perfect calibration")
    parts.append(
        _el(
            "line",
            diagonal,
            x1=left,
            y1=top + plot,
            x2=left + plot,
            y2=top,
            stroke="#888",
            stroke_dasharray="4 3",
        )
    )
    parts.append(_text(left + plot / 2, top + plot + 28, "mean confidence", text_anchor="middle"))
    middle = top + plot / 2
    parts.append(_text(11, middle, "accuracy", text_anchor="middle", transform=f"rotate(-90 11 {middle})"))
    if bins:
        peak = max(int(b.get("n") or 0) for b in bins) or 1
        coords = [(point(float(b["confidence"]), float(b["accuracy"])), b) for b in bins]
        line = " ".join(f"{x:.1f},{y:.1f}" for (x, y), _ in coords)
        parts.append(_el("polyline", fill="none", stroke="#3b6fb6", stroke_width=1.5, points=line))
        for (x, y), b in coords:
            radius = 2.5 + 5 * math.sqrt(int(b.get("n") or 0) / peak)
            tip = f"bin {b.get('bin')}: n={b.get('n')}, confidence {b['confidence']:.3f}"
            tip += f", accuracy {b['accuracy']:.3f}"
            parts.append(_el("circle", _tip(tip), cx=x, cy=y, r=radius, fill="#3b6fb6", fill_opacity=0.75))
    return _svg(left + plot + 20, top + plot + 40, "".join(parts), title)


# ---------------------------------------------------------------- triage


def _triage(triage: dict[str, Any]) -> str:
    parts = [_triage_field(name, _dict(raw)) for name, raw in triage.items() if "confusion" in _dict(raw)]
    escalation = _dict(triage.get("escalation"))
    if escalation.get("per_flag"):
        rows = [
            [_e(flag), *(_num(_dict(stats).get(k)) for k in ("precision", "recall", "support"))]
            for flag, stats in _dict(escalation["per_flag"]).items()
        ]
        title = f"<h3>Escalation flags (n={_num(escalation.get('n'))})</h3>"
        parts.append(title + _table(["flag", "precision", "recall", "support"], rows))
    party = _dict(triage.get("responsible_party"))
    if "accuracy" in party and "confusion" not in party:
        accuracy = f"accuracy {_pct(party.get('accuracy'))} on {_num(party.get('n'))} tickets"
        parts.append(f"<h3>Responsible party</h3><p>{accuracy}</p>")
    return "".join(parts) or '<p class="note">No triage fields were scored.</p>'


def _triage_field(name: str, section: dict[str, Any]) -> str:
    charts = [confusion_svg(_dict(section.get("confusion")), f"{name}: confusion matrix")]
    calibration = _dict(section.get("calibration"))
    if calibration:
        charts.append(calibration_svg(calibration, f"{name}: reliability"))
    per_language = _dict(section.get("per_language"))
    if per_language:
        series = (("accuracy", "accuracy"), ("macro-F1", "macro_f1"))
        charts.append(_group_bars(f"{name}: per language", per_language, series))
    scores = f"accuracy {_pct(section.get('accuracy'))}, macro-F1 {_pct(section.get('macro_f1'))}"
    head = f"<h3>triage.{_e(name)} — {scores}, n={_num(section.get('n'))}</h3>"
    unknown = _dict(section.get("unknown_labels"))
    if unknown.get("count"):
        labels = ", ".join(_e(label) for label in unknown.get("labels") or [])
        what = "tickets had gold labels the model does not know (not scored)"
        head += f'<p class="note warn">{_e(unknown["count"])} {what}: {labels}</p>'
    charts_html = f'<div class="charts">{"".join(charts)}</div>'
    return head + charts_html + _per_label_table(_dict(section.get("per_label")))


def _group_bars(title: str, groups: dict[str, Any], series: Sequence[tuple[str, str]], *, note: str = "") -> str:
    """Bars per group (language, intent) from {group: {"n": .., metric: value}} summaries."""
    names = list(groups)
    categories = [f"{name} (n={_dict(groups[name]).get('n', '?')})" for name in names]
    values = [(label, [_float(_dict(groups[name]).get(key)) for name in names]) for label, key in series]
    return bar_chart(title, categories, values, note=note)


def _per_label_table(per_label: dict[str, Any]) -> str:
    if not per_label:
        return ""

    def worst_first(item: tuple[str, Any]) -> tuple[int, float, str]:
        stats = _dict(item[1])
        return (0 if stats.get("support") else 1, _float(stats.get("f1")) or 0.0, item[0])

    rows = []
    for label, raw in sorted(per_label.items(), key=worst_first):
        stats = _dict(raw)
        cells = [_shaded(stats.get(k), _float(stats.get(k))) for k in ("precision", "recall", "f1")]
        rows.append([_e(label), *cells, _num(stats.get("support"))])
    table = _table(["label", "precision", "recall", "F1", "support"], rows)
    return f"<details><summary>Per-label precision / recall (worst F1 first)</summary>{table}</details>"


# ---------------------------------------------------------------- retrieval


def _retrieval(retrieval: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    modes = _dict(retrieval.get("modes"))
    main = retrieval.get("mode")
    if modes:
        table_rows = [
            [
                f"<strong>{_e(mode)}</strong>" if mode == main else _e(mode),
                *(_num(_dict(stats).get(k)) for k in ("n", "recall_at_1", "recall_at_5", "mrr")),
            ]
            for mode, stats in modes.items()
        ]
        parts.append("<h3>Search modes</h3>" + _table(["mode", "n", "recall@1", "recall@5", "MRR"], table_rows))
    per_language = _dict(retrieval.get("per_language"))
    if per_language:
        title = f"per language ({main})" if main else "per language"
        chart = _group_bars(title, per_language, (("recall@5", "recall_at_5"), ("MRR", "mrr")))
        parts.append(f'<h3>Per language</h3><div class="charts">{chart}</div>')
    if len(modes) > 1:
        parts.append(_modes_by_language(modes))
    parts.append(_retrieval_misses(rows, str(main or "hybrid")))
    return "".join(parts)


def _modes_by_language(modes: dict[str, Any]) -> str:
    per_mode = {mode: _dict(_dict(stats).get("per_language")) for mode, stats in modes.items()}
    langs = sorted({lang for groups in per_mode.values() for lang in groups})
    if not langs:
        return ""
    headers = ["language", *(f"{mode} recall@5" for mode in modes), *(f"{mode} MRR" for mode in modes)]
    rows = []
    for lang in langs:
        stats = [_dict(groups.get(lang)) for groups in per_mode.values()]
        rows.append([_e(lang), *(_num(s.get("recall_at_5")) for s in stats), *(_num(s.get("mrr")) for s in stats)])
    return "<details><summary>Every mode per language</summary>" + _table(headers, rows) + "</details>"


def _retrieval_misses(rows: list[dict[str, Any]], mode: str) -> str:
    misses = []
    for row in rows:
        retrieval = _dict(row.get("retrieval"))
        # Labeled-ticket rows hold expected/ranked directly; retrieval-query rows hold one entry per mode.
        entry = retrieval if "ranked" in retrieval else _dict(retrieval.get(mode))
        expected = row.get("expected") if "expected" in row else retrieval.get("expected")
        ranked = entry.get("ranked")
        if not isinstance(expected, list) or not expected or not isinstance(ranked, list):
            continue
        top = [str(doc) for doc in ranked[:5]]
        if not {str(doc) for doc in expected} & set(top):
            misses.append(
                [
                    _e(row.get("id")),
                    _e(row.get("language")),
                    _e(", ".join(map(str, expected))),
                    _e(", ".join(top)),
                ]
            )
    if not misses:
        return ""
    shown = misses[:50]
    summary = f"Queries with no expected document in the top 5 ({len(misses)}; first {len(shown)})"
    table = _table(["id", "language", "expected", "top 5 retrieved"], shown, numeric=())
    return f"<details><summary>{summary}</summary>{table}</details>"


# ---------------------------------------------------------------- drafts


def _drafts(drafts: dict[str, Any]) -> str:
    parts = []
    metrics = [name for name, value in drafts.items() if value is None or _is_number(value)]
    metrics = [name for name in metrics if name != "n" and name not in ("cost_usd", "fallbacks")]
    if metrics:
        rows = [[_e(name), _num(drafts.get(name)), _direction(name)] for name in metrics]
        parts.append(_table(["metric", "mean", "note"], rows, numeric=(1,)))
    extras = _draft_costs(drafts)
    if extras:
        parts.append(f'<p class="note">{"; ".join(extras)}</p>')
    for key, title in (("per_language", "Per language"), ("per_intent", "Per intent")):
        groups = _dict(drafts.get(key))
        if groups:
            parts.append(f"<h3>{title}</h3>" + _group_charts(groups))
    return "".join(parts)


def _draft_costs(drafts: dict[str, Any]) -> list[str]:
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
    return extras


def _group_charts(groups: dict[str, Any]) -> str:
    charts, empty = [], []
    for metric in MAIN_DRAFT_METRICS:
        if all(_float(_dict(stats).get(metric)) is None for stats in groups.values()):
            empty.append(metric)
            continue
        note = _direction(metric) or "higher is better"
        charts.append(_group_bars(metric, groups, ((metric, metric),), note=note))
    out = f'<div class="charts">{"".join(charts)}</div>'
    if empty:
        out += f'<p class="note">No values (the metric did not apply to any ticket): {_e(", ".join(empty))}</p>'
    return out


def badness(scores: dict[str, Any]) -> tuple[float, list[tuple[str, float, str]]]:
    """How bad a draft looks: total points, and (label, points, scorer's reason) per problem, worst first."""
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


_FORMULA = {"shortfall": "(1 − score)", "value": "score", "count": f"count (max {MAX_COUNT_POINTS:g})"}


def _worst_drafts(rows: list[dict[str, Any]]) -> str:
    scored = [(badness(_dict(row["draft"].get("scores"))), row) for row in rows]
    scored.sort(key=lambda item: (-item[0][0], str(item[1].get("id"))))
    weights = "; ".join(f"{label}: {weight:g} × {_FORMULA[kind]}" for _, weight, kind, label in BADNESS_WEIGHTS)
    intro = (
        f'<p class="note">Ranked by badness = the sum of: {_e(weights)}. '
        "Metrics that do not apply to a draft add nothing.</p>"
    )
    cards = [_draft_card(rank, row, total, why) for rank, ((total, why), row) in enumerate(scored[:WORST_DRAFTS], 1)]
    return intro + "".join(cards)


def _draft_card(rank: int, row: dict[str, Any], total: float, reasons: list[tuple[str, float, str]]) -> str:
    draft = _dict(row.get("draft"))
    ticket_id = _e(row.get("id"))
    why = "".join(
        f"<li><strong>{_e(label)}</strong> +{points:.2f} — {_e(reason)}</li>" for label, points, reason in reasons
    )
    reference = _e(draft["reference"]) if draft.get("reference") else "<em>no reference reply</em>"
    pair = (
        f'<div class="pair"><div><h4>Draft</h4><div class="text">{_e(draft.get("body") or "")}</div></div>'
        f'<div><h4>Reference reply</h4><div class="text">{reference}</div></div></div>'
    )
    details = (
        _scores_table(_dict(draft.get("scores"))) + _findings(draft.get("findings")) + _passages(draft.get("passages"))
    )
    return (
        f'<article class="draft" id="draft-{ticket_id}"><h3>#{rank} {ticket_id} — badness {total:.2f}</h3>'
        f'<p class="note">{_draft_meta(row, draft)}</p>'
        f'<ul class="why">{why or "<li>no problems found</li>"}</ul>'
        f"{pair}{details}</article>"
    )


def _draft_meta(row: dict[str, Any], draft: dict[str, Any]) -> str:
    language = f"language {_e(row.get('language'))}"
    if draft.get("detected_language"):
        language += f" (draft detected as {_e(draft['detected_language'])})"
    intent = f"intent {_e(row.get('intent'))}"
    predicted = _dict(_dict(row.get("triage")).get("intent")).get("pred")
    if predicted and predicted != row.get("intent"):
        intent += f" (predicted {_e(predicted)})"
    meta = [language, intent, f"generator {_e(draft.get('generator'))}"]
    if draft.get("fallback_reason"):
        meta.append(f'<span class="warn">fallback: {_e(draft["fallback_reason"])}</span>')
    if draft.get("latency_ms") is not None:
        meta.append(f"{_num(draft.get('latency_ms'), 0)} ms")
    return " · ".join(meta)


def _scores_table(scores: dict[str, Any]) -> str:
    if not scores:
        return ""
    rows = []
    for name, raw in scores.items():
        score = _dict(raw)
        value = _float(score.get("value"))
        # Counts and lower-is-better rates are not on the 0 = bad, 1 = good scale: leave them unshaded.
        shade = None if value is None or name in LOWER_IS_BETTER or value > 1 else value
        rows.append([_e(name), _shaded(score.get("value"), shade), _e(score.get("reason") or "")])
    return (
        "<details open><summary>Scores</summary>"
        + _table(["metric", "value", "reason"], rows, numeric=(1,))
        + "</details>"
    )


def _findings(findings: Any) -> str:
    if not isinstance(findings, list) or not findings:
        return '<p class="note">No guardrail findings.</p>'
    items = []
    for raw in findings:
        finding = _dict(raw)
        sentence = f" — “{_e(finding['sentence'])}”" if finding.get("sentence") else ""
        label = f"[{_e(finding.get('severity', '?'))}] <strong>{_e(finding.get('check', '?'))}</strong>"
        items.append(f"<li>{label}: {_e(finding.get('message', ''))}{sentence}</li>")
    return f"<details open><summary>Findings ({len(findings)})</summary><ul>{''.join(items)}</ul></details>"


def _passages(passages: Any) -> str:
    if not isinstance(passages, list) or not passages:
        return '<p class="note">No passages retrieved.</p>'
    items = []
    for raw in passages:
        passage = _dict(raw)
        locale = f'<span class="note">({_e(passage.get("locale", "?"))})</span>'
        items.append(f"<li>{_e(passage.get('title', ''))} {locale} <code>{_e(passage.get('chunk_id', ''))}</code></li>")
    return f"<details><summary>Retrieved passages ({len(passages)})</summary><ol>{''.join(items)}</ol></details>"


def _rejected(errors: list[Any]) -> str:
    rows = [[_e(_dict(e).get("file")), _num(_dict(e).get("line")), _e(_dict(e).get("error"))] for e in errors[:200]]
    return _table(["file", "line", "error"], rows, numeric=(1,))
