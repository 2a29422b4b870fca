"""Run every benchmark in order and print one summary (what `make bench` runs).

    .venv/bin/python bench/run_all.py [--quick] [--only triage,search,...]

Each benchmark runs in its own process and writes bench/results/<name>.json; this script then
collects their targets into bench/results/summary.json. A missed target is not a failure (the
exit code is 0); a benchmark that crashes is (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import common
from common import RESULTS, heading, print_table

ORDER = ["triage", "search", "drafts", "review", "evals"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="Shrink every benchmark: a smoke run, not a measurement.")
    p.add_argument("--only", help=f"Comma-separated subset of {','.join(ORDER)}.")
    p.add_argument("--summary-only", action="store_true", help="Run nothing; summarise the results already written.")
    args = p.parse_args()
    chosen = [b for b in ORDER if not args.only or b in args.only.split(",")]
    common.print_machine()
    started = time.perf_counter()
    outcomes: dict[str, dict[str, object]] = {}
    for name in chosen:
        if args.summary_only:
            result_file = RESULTS / f"{name}.json"
            if result_file.exists():
                results = json.loads(result_file.read_text())
                outcomes[name] = {"exit_code": 0, "seconds": results.get("seconds"), "results": results}
            continue
        heading(f"bench/{name}.py{' --quick' if args.quick else ''}")
        t0 = time.perf_counter()
        result_file = RESULTS / f"{name}.json"
        result_file.unlink(missing_ok=True)
        code = subprocess.run(
            [sys.executable, str(common.BENCH / f"{name}.py"), *(["--quick"] if args.quick else [])],
            check=False,
        ).returncode
        outcomes[name] = {"exit_code": code, "seconds": round(time.perf_counter() - t0, 1)}
        if code == 0 and result_file.exists():
            outcomes[name]["results"] = json.loads(result_file.read_text())

    if args.summary_only:
        heading("summary of the results in bench/results/")
    else:
        heading(f"summary ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s)")
    rows = []
    for name, outcome in outcomes.items():
        results = outcome.get("results")
        if not isinstance(results, dict):
            rows.append([name, "CRASHED" if outcome["exit_code"] else "no results", "-", "-", "-"])
            continue
        for t in results["targets"]:
            rows.append(
                [
                    name,
                    t["name"],
                    common.fmt(t["value"], t["unit"]),
                    f"{t['op']} {common.fmt(t['target'], t['unit'])}",
                    t["verdict"],
                ]
            )
    print_table(["benchmark", "target", "measured", "goal", "verdict"], rows)
    verdicts = [r[4] for r in rows]
    print(
        f"\n{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS, "
        f"{sum(1 for o in outcomes.values() if o['exit_code'])} crashed"
    )
    if args.quick:
        print("(quick run: sizes are shrunk; use the numbers to check the benchmarks work, not to judge the targets)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "quick": args.quick,
        "machine": common.machine_facts(),
        "benchmarks": {
            name: {
                "exit_code": o["exit_code"],
                "seconds": o["seconds"],
                "targets": o["results"]["targets"] if isinstance(o.get("results"), dict) else None,
            }  # type: ignore[index]
            for name, o in outcomes.items()
        },
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {(RESULTS / 'summary.json').relative_to(common.ROOT)}")
    return 1 if any(o["exit_code"] for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
