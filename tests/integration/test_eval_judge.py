"""The optional LLM judge: rubric scores per draft, personal data redacted, verdicts cached."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from evals.runner import RunConfig, Runner
from tests.conftest import migrate
from tests.support.fake_openai import FakeLLM, raw

VERDICT = json.dumps(
    {
        "resolution": {"score": 4, "reason": "answers the request"},
        "policy": {"score": 5, "reason": "faithful"},
        "tone": {"score": 3, "reason": "a bit stiff"},
        "clarity": {"score": 4, "reason": "clear"},
    }
)


async def test_judge_scores_drafts_and_reruns_come_from_the_cache(make_settings: Any, tmp_path: Path) -> None:
    dataset = tmp_path / "two.jsonl"
    rows = [
        {
            "id": "j1",
            "message": "My kettle arrived broken, write to me at anna@example.com",
            "labels": {"intent": "damaged_item"},
            "customer": {"name": "Anna Berg"},
            "reference_reply": "Hello Anna, sorry about the kettle.",
        },
        {
            "id": "j2",
            "message": "Where is my parcel?",
            "labels": {"intent": "order_status"},
            "reference_reply": "Hello, it is on its way.",
        },
    ]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FakeLLM() as fake:
        fake.always(raw(VERDICT))
        settings = make_settings(judge_base_url=fake.base_url, judge_model="fake-judge")
        await asyncio.to_thread(migrate, settings)
        cache = settings.data_dir / "judge-cache"
        shutil.rmtree(cache, ignore_errors=True)
        async with Runner(settings) as runner:
            first = await runner.run(RunConfig(dataset=dataset, out=tmp_path / "a", generator="template"))
            second = await runner.run(RunConfig(dataset=dataset, out=tmp_path / "b", generator="template"))
        judge = first.report["drafts"]["judge"]
        assert judge["resolution"] == 4.0
        assert judge["tone"] == 3.0
        assert judge["calls"] == 2
        assert second.report["drafts"]["judge"]["calls"] == 0
        assert second.report["drafts"]["judge"]["cache_hits"] == 2
        row = json.loads((tmp_path / "a" / "results.jsonl").read_text().splitlines()[0])
        assert row["draft"]["scores"]["judge_policy"] == {"value": 1.0, "reason": "faithful"}
        sent = " ".join(call.text for call in fake.seen)
        assert "anna@example.com" not in sent
        shutil.rmtree(cache, ignore_errors=True)
