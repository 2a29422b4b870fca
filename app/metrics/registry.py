"""A small in-process metrics registry with Prometheus text exposition.

Counters and histograms, labelled; one registry per process (with several workers, scrape each
or aggregate in Prometheus as usual).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

Labels = dict[str, str]
LabelKey = tuple[tuple[str, str], ...]
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HELP = {
    "replydesk_http_requests_total": "HTTP requests by route template, method and status.",
    "replydesk_http_request_seconds": "HTTP request latency by route template.",
    "replydesk_drafts_created_total": "Drafts created, by generator.",
    "replydesk_review_actions_total": "Review actions on drafts.",
    "replydesk_llm_fallbacks_total": "Drafts that fell back from the LLM to templates.",
    "replydesk_llm_calls_total": "LLM calls by outcome.",
    "replydesk_llm_seconds": "LLM generation latency.",
    "replydesk_triage_seconds": "Triage model latency per message.",
    "replydesk_retrieval_seconds": "Knowledge-base retrieval latency per draft.",
    "replydesk_drafts_by_state": "Drafts currently in each state (read from the database at scrape time).",
}


def _key(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _fmt(labels: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = labels + extra
    if not items:
        return ""
    escaped = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in items)
    return "{" + escaped + "}"


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self.histograms: dict[str, dict[LabelKey, list[float]]] = defaultdict(dict)

    def inc(self, name: str, labels: Labels, value: float = 1.0) -> None:
        key = _key(labels)
        with self._lock:
            series = self.counters[name]
            series[key] = series.get(key, 0.0) + value

    def observe(self, name: str, labels: Labels, seconds: float) -> None:
        key = _key(labels)
        with self._lock:
            series = self.histograms[name]
            state = series.get(key)
            if state is None:
                state = series[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)  # buckets..., sum, count
            index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
            if index < len(LATENCY_BUCKETS):
                state[index] += 1
            state[-2] += seconds
            state[-1] += 1

    def value(self, name: str, labels: Labels) -> float:
        return self.counters.get(name, {}).get(_key(labels), 0.0)

    def render(self, gauges: dict[str, dict[LabelKey, float]] | None = None) -> str:
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self.counters.items()):
                lines += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} counter"]
                lines += [f"{name}{_fmt(k)} {v:g}" for k, v in sorted(series.items())]
            for name, hseries in sorted(self.histograms.items()):
                lines += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} histogram"]
                for key, state in sorted(hseries.items()):
                    cumulative = 0.0
                    for bound, count in zip(LATENCY_BUCKETS, state, strict=False):
                        cumulative += count
                        lines.append(f"{name}_bucket{_fmt(key, (('le', f'{bound:g}'),))} {cumulative:g}")
                    lines.append(f"{name}_bucket{_fmt(key, (('le', '+Inf'),))} {state[-1]:g}")
                    lines.append(f"{name}_sum{_fmt(key)} {state[-2]:.6f}")
                    lines.append(f"{name}_count{_fmt(key)} {state[-1]:g}")
        for name, gseries in sorted((gauges or {}).items()):
            lines += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_fmt(k)} {v:g}" for k, v in sorted(gseries.items())]
        return "\n".join(lines) + "\n"


METRICS = Registry()
