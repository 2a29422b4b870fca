"""`replydesk eval run | compare | import` and `replydesk feedback export`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def _settings(args: argparse.Namespace) -> Any:
    from app.settings import get_settings

    settings = get_settings()
    if getattr(args, "triage_model", None):
        settings = settings.model_copy(update={"triage_model": Path(args.triage_model)})
    if getattr(args, "generator", None) == "template":
        # A template run must not depend on (or be slowed by) a configured LLM.
        settings = settings.model_copy(update={"llm_base_url": ""})
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    from evals.report import summary_table
    from evals.runner import RunConfig, Runner

    settings = _settings(args)

    async def run() -> Any:
        async with Runner(settings) as runner:
            config = RunConfig(
                dataset=Path(args.dataset),
                out=Path(args.out),
                generator=args.generator,
                limit=args.limit,
                split=args.split,
                name=args.name,
                progress=sys.stderr.isatty(),
                concurrency=args.concurrency or settings.llm_concurrency,
            )
            result = await runner.run(config)
            if args.store:
                await _store(runner, result)
            return result

    result = asyncio.run(run())
    for error in result.errors[:20]:
        print(f"skipped {error.file}:{error.line}: {error.error[:200]}", file=sys.stderr)
    if len(result.errors) > 20:
        print(f"... {len(result.errors) - 20} more lines skipped", file=sys.stderr)
    width = max((len(k) for k, _ in summary_table(result.report)), default=10)
    for key, value in summary_table(result.report):
        print(f"{key:<{width}}  {value}")
    print(f"\nwrote {result.out / 'report.json'}, report.md, report.html, results.jsonl")
    return 0


async def _store(runner: Any, result: Any) -> None:
    """Keep the report in the database so QA can open it over the API."""
    from app.db.models import EvalReportRecord
    from evals.report import summary_table

    report = result.report
    async with runner.services.sessions() as session:
        session.add(
            EvalReportRecord(
                name=str(report.get("name")),
                dataset=report["dataset"]["path"],
                generator=report.get("generator"),
                n_tickets=int(report["dataset"]["n"]),
                summary=dict(summary_table(report)),
                report=report,
                directory=str(result.out.resolve()),
            )
        )
        await session.commit()


def cmd_compare(args: argparse.Namespace) -> int:
    from evals.compare import CompareError, compare, render_comparison

    try:
        comparison = compare(Path(args.base), Path(args.candidate), metrics=args.metric or None, seed=args.seed)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_comparison(comparison))
    if args.out:
        Path(args.out).write_text(__import__("json").dumps(comparison, indent=2, ensure_ascii=False) + "\n")
    if args.fail_on_regression and comparison["regressions"]:
        print(f"\nregression in: {', '.join(comparison['regressions'])}", file=sys.stderr)
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from evals.importers import import_bitext, import_csv, import_tickets_en_de, parse_mapping

    source = Path(args.source)
    out = Path(args.out)
    try:
        if args.format == "csv":
            summary = import_csv(source, out, parse_mapping(args.map or ""), id_prefix=args.id_prefix, limit=args.limit)
        elif args.format == "bitext":
            summary = import_bitext(source, out, limit=args.limit)
        else:
            summary = import_tickets_en_de(source, out, limit=args.limit)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    for problem in summary.problems[:20]:
        print(f"  skipped line {problem}", file=sys.stderr)
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from app.settings import get_settings
    from evals.feedback import export_feedback

    try:
        count = asyncio.run(export_feedback(get_settings(), Path(args.out), since=args.since))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {count} reviewed drafts to {args.out}")
    return 0


def register(sub: Any, add: Any) -> None:
    ev = add("eval", lambda a: 0, "Offline evaluation.").add_subparsers(dest="eval_command", required=True)
    p = add("run", cmd_run, "Score triage, retrieval and drafts on a dataset.", ev)
    p.add_argument("--dataset", required=True, help="A JSONL file or a directory of them.")
    p.add_argument("--out", required=True, help="Directory for results.jsonl, report.json/.md/.html.")
    p.add_argument("--generator", choices=["template", "llm", "auto"], help="Also draft replies and score them.")
    p.add_argument("--limit", type=int)
    p.add_argument("--split", choices=["all", "train", "holdout"], default="all")
    p.add_argument("--triage-model", help="Directory of the triage model to evaluate.")
    p.add_argument("--name")
    p.add_argument("--concurrency", type=int, help="LLM drafts in flight at once (default REPLYDESK_LLM_CONCURRENCY).")
    p.add_argument("--store", action="store_true", help="Also keep the report in the database (GET /v1/evals).")

    p = add("compare", cmd_compare, "Compare two runs joined on ticket id.", ev)
    p.add_argument("base")
    p.add_argument("candidate")
    p.add_argument("--metric", action="append", help="Metric to gate on (repeatable); default: the headline metrics.")
    p.add_argument("--fail-on-regression", action="store_true")
    p.add_argument("--out", help="Write the comparison as JSON.")
    p.add_argument("--seed", type=int, default=7)

    p = add("import", cmd_import, "Convert external data into the labeled-ticket format.", ev)
    p.add_argument("source")
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["csv", "bitext", "tickets-en-de"], default="csv")
    p.add_argument("--map", help="Column mapping, e.g. message=body,subject=subject,labels.urgency=priority")
    p.add_argument("--id-prefix", default="imp")
    p.add_argument("--limit", type=int)

    fb = add("feedback", lambda a: 0, "Agent feedback.").add_subparsers(dest="feedback_command", required=True)
    p = add("export", cmd_feedback_export, "Edited and rejected drafts as labeled tickets.", fb)
    p.add_argument("--out", required=True)
    p.add_argument("--since", help="Only reviews after this ISO date.")
