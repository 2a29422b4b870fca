"""QA lists and opens stored eval reports over the API (`eval run --store`, GET /v1/evals)."""

from __future__ import annotations

from pathlib import Path

from evals.cli import _store
from evals.runner import RunConfig, Runner
from tests.conftest import ROOT, Api


async def test_stored_report_is_listed_and_opened(api: Api, tmp_path: Path) -> None:
    async with Runner(api.settings) as runner:
        result = await runner.run(
            RunConfig(
                dataset=ROOT / "evals" / "datasets" / "retrieval" / "queries.jsonl",
                out=tmp_path / "run",
                limit=12,
                name="smoke",
            )
        )
        await _store(runner, result)
    evals_key = await api.key_with("evals")
    listing = await api.get("/v1/evals", key=evals_key)
    assert listing.status_code == 200
    (row,) = listing.json()
    assert row["name"] == "smoke"
    assert row["n_tickets"] == 12
    assert any("recall@5" in metric for metric in row["summary"])
    one = await api.get(f"/v1/evals/{row['id']}", key=evals_key)
    assert one.status_code == 200
    assert one.json()["report"]["retrieval"]["n"] == 12
    assert (await api.get("/v1/evals/nope", key=evals_key)).status_code == 404
    assert (await api.get("/v1/evals", key=await api.key_with("triage"))).status_code == 403
