"""Offline evals at size: 1,000 tickets with template drafts, and the LLM generator at 1 s per call.

    .venv/bin/python bench/evals.py [--quick] [--tickets 1000] [--llm-tickets 200]

1. A 1,000-ticket JSONL is built by cycling evals/datasets/triage with new ids, and
   ``evals.runner`` (what `replydesk eval run --generator template` runs) scores triage, retrieval
   and drafts on it, every metric but the LLM judge: <= 60 s including loading the models.
   A second run without drafts shows how the time splits.
2. The LLM generator over 200 tickets against bench/fake_llm.py answering after 1 s, with
   concurrency 16, extrapolated to 1,000 tickets: minutes, not a quarter hour (<= 15 min).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import common
from common import WORK, Report, heading, print_table
from fake_llm import FakeLLM

LLM_LATENCY_S = 1.0
LLM_CONCURRENCY = 16


def build_dataset(n: int) -> Path:
    rows: list[dict[str, Any]] = []
    for file in sorted((common.ROOT / "evals" / "datasets" / "triage").glob("*.jsonl")):
        rows.extend(common.load_jsonl(file))
    path = WORK / "evals" / f"tickets-{n}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            row["id"] = f"{row['id']}-b{i // len(rows)}"
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


async def run_eval(settings: Any, dataset: Path, out: Path, generator: str | None, concurrency: int) -> dict[str, Any]:
    from evals.runner import RunConfig, Runner

    started = time.perf_counter()
    async with Runner(settings) as runner:
        loaded = time.perf_counter()
        result = await runner.run(RunConfig(dataset=dataset, out=out, generator=generator, concurrency=concurrency))
        finished = time.perf_counter()
    report = result.report
    drafts = report.get("drafts") or {}
    return {
        "tickets": report["dataset"]["n"],
        "load_seconds": round(loaded - started, 2),
        "run_seconds": round(finished - loaded, 2),
        "total_seconds": round(finished - started, 2),
        "runner_timing": report.get("timing"),
        "drafts": {
            k: drafts.get(k)
            for k in (
                "n",
                "fallbacks",
                "generators",
                "latency_ms",
                "tokens",
                "language_match",
                "citation_validity",
                "policy_retrieved",
            )
        }
        if drafts
        else None,
        "triage_intent_accuracy": (report.get("triage") or {}).get("intent", {}).get("accuracy"),
        "retrieval_recall_at_5": (report.get("retrieval") or {}).get("recall_at_5"),
        "out": str(out),
    }


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, help="Tickets for the template run (default 1000; quick 200).")
    p.add_argument("--llm-tickets", type=int, help="Tickets for the LLM run (default 200; quick 48).")
    args = p.parse_args()
    n = args.tickets or (200 if args.quick else 1000)
    n_llm = args.llm_tickets or (48 if args.quick else 200)
    common.isolate_environment()
    report = Report("evals", args.quick)
    common.print_machine()
    heading("prepare (replydesk setup)")
    setup_s = common.prepare()
    runs = common.clean_dir(WORK / "evals" / "runs")
    settings = common.make_settings(database_url=common.sqlite_url(WORK / "db" / "evals.db"))

    heading(f"template drafts: {n} tickets, all metrics but the judge")
    dataset = build_dataset(n)
    template = asyncio.run(run_eval(settings, dataset, runs / "template", "template", settings.llm_concurrency))
    heading(f"the same {n} tickets without drafts (triage + retrieval only)")
    bare = asyncio.run(run_eval(settings, dataset, runs / "no-drafts", None, settings.llm_concurrency))
    print_table(
        ["run", "tickets", "load s", "run s", "total s", "tickets/s (run)"],
        [
            [
                "template drafts",
                template["tickets"],
                template["load_seconds"],
                template["run_seconds"],
                template["total_seconds"],
                round(template["tickets"] / template["run_seconds"], 1),
            ],
            [
                "no drafts",
                bare["tickets"],
                bare["load_seconds"],
                bare["run_seconds"],
                bare["total_seconds"],
                round(bare["tickets"] / bare["run_seconds"], 1),
            ],
        ],
    )
    print(
        f"\ndrafting share of the run: {template['run_seconds'] - bare['run_seconds']:.1f} s "
        f"({(template['run_seconds'] - bare['run_seconds']) / n * 1000:.0f} ms per ticket); "
        f"draft latency p50 {template['drafts']['latency_ms']['p50']} ms; fallbacks "
        f"{template['drafts']['fallbacks']}"
    )

    heading(f"LLM drafts: {n_llm} tickets, fake LLM answering after {LLM_LATENCY_S:g} s, concurrency {LLM_CONCURRENCY}")
    llm_dataset = build_dataset(n_llm)
    with FakeLLM(latency=LLM_LATENCY_S) as fake:
        llm_settings = common.make_settings(
            database_url=common.sqlite_url(WORK / "db" / "evals.db"),
            llm_base_url=fake.base_url,
            llm_api_key="bench",
            llm_model="fake-model",
            llm_concurrency=LLM_CONCURRENCY,
        )
        llm = asyncio.run(run_eval(llm_settings, llm_dataset, runs / "llm", "llm", LLM_CONCURRENCY))
        fake_stats = fake.stats()
    ideal = fake_stats["calls"] * LLM_LATENCY_S / LLM_CONCURRENCY
    per_1000_min = (llm["run_seconds"] * 1000 / n_llm + llm["load_seconds"]) / 60
    print_table(
        ["measurement", "value"],
        [
            ["tickets", llm["tickets"]],
            [
                "LLM calls (fake server)",
                f"{fake_stats['calls']} (peak {fake_stats['peak_in_flight']} in flight)",
            ],
            [
                "load / run / total seconds",
                f"{llm['load_seconds']} / {llm['run_seconds']} / {llm['total_seconds']}",
            ],
            ["lower bound: calls x latency / concurrency", f"{ideal:.1f} s"],
            ["efficiency (lower bound / run)", f"{ideal / llm['run_seconds']:.2f}"],
            ["generators", llm["drafts"]["generators"]],
            ["fallbacks", llm["drafts"]["fallbacks"]],
            ["extrapolated per 1,000 tickets", f"{per_1000_min:.1f} min"],
        ],
    )

    heading("targets")
    report.target(
        f"eval run, {n} tickets, template drafts (load + run)",
        template["total_seconds"],
        "<=",
        60 * n / 1000,
        "s",
        f"run alone {template['run_seconds']} s",
    )
    report.target(
        f"LLM eval per 1,000 tickets (1 s/call, concurrency {LLM_CONCURRENCY})",
        per_1000_min,
        "<=",
        15,
        "min",
        f"measured on {n_llm}: {llm['total_seconds']} s",
    )
    report.print_targets()
    report.details.update(
        {
            "setup_seconds": round(setup_s, 2),
            "template": template,
            "no_drafts": bare,
            "llm": {
                **llm,
                "fake_llm": fake_stats,
                "latency_s": LLM_LATENCY_S,
                "concurrency": LLM_CONCURRENCY,
                "lower_bound_seconds": round(ideal, 2),
                "extrapolated_minutes_per_1000": round(per_1000_min, 2),
            },
            "notes": [
                "in-process evals.runner, as `replydesk eval run` calls it (no interpreter start); no judge configured",
                f"the target scales with --tickets: 60 s per 1,000 (here {n})",
            ],
        }
    )
    report.write()


if __name__ == "__main__":
    main()
