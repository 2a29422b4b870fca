"""The shipped draft-quality set, scored with the template generator, must not regress against
the committed baseline report (evals/baseline/drafts-template). This is the CI gate that keeps a
change that makes drafts worse from landing silently; refresh the baseline on purpose with
`replydesk eval run --dataset evals/datasets/drafts/drafts.jsonl --generator template --out evals/baseline/drafts-template`."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from evals.compare import compare, render_comparison
from evals.runner import RunConfig, Runner
from tests.conftest import ROOT

BASELINE = ROOT / "evals" / "baseline" / "drafts-template"


@pytest.mark.slow
async def test_template_drafts_do_not_regress(settings: Settings, tmp_path: Path) -> None:
    import asyncio

    from tests.conftest import migrate

    await asyncio.to_thread(migrate, settings)
    out = tmp_path / "candidate"
    async with Runner(settings) as runner:
        result = await runner.run(
            RunConfig(
                dataset=ROOT / "evals" / "datasets" / "drafts" / "drafts.jsonl",
                out=out,
                generator="template",
                concurrency=4,
            )
        )
    drafts = result.report["drafts"]
    # Absolute floors, independent of the baseline: what a shippable template drafter must do.
    assert drafts["language_match"] >= 0.95
    assert drafts["forbidden_promise"] <= 0.05
    assert drafts["placeholders"] == 0
    comparison = compare(BASELINE, out, metrics=None, seed=7)
    assert not comparison["regressions"], render_comparison(comparison)
