"""The optional LLM judge: a rubric in prompts/judge/, run with bounded concurrency, cached.

Each call's result is cached on disk under the SHA-256 of its messages and model, so re-running
an eval re-uses earlier verdicts: reruns are free and reproducible. Personal data is redacted
before anything is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
from openai import AsyncOpenAI, OpenAIError
from openai.types.chat import ChatCompletionMessageParam

from app.lib.pii import scrub
from app.lib.prompts import load_prompt
from app.settings import Settings
from evals.scorers import Score

CRITERIA = ("resolution", "policy", "tone", "clarity")


class _Criterion(msgspec.Struct):
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    reason: str = ""


class _Verdict(msgspec.Struct):
    resolution: _Criterion
    policy: _Criterion
    tone: _Criterion
    clarity: _Criterion


class Judge:
    def __init__(self, settings: Settings, cache_dir: Path) -> None:
        self.model = settings.judge_model
        self.client = AsyncOpenAI(
            base_url=settings.judge_base_url,
            api_key=settings.judge_api_key or "not-needed",
            timeout=60.0,
            max_retries=2,
        )
        self.semaphore = asyncio.Semaphore(max(1, settings.judge_concurrency))
        self.prompt = load_prompt("judge", "rubric")
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.calls = 0
        self.cache_hits = 0

    async def close(self) -> None:
        await self.client.close()

    async def score(
        self, *, language: str, intent: str, message: str, passages: list[str], reference: str, draft: str
    ) -> dict[str, Score]:
        messages = self.prompt.messages(
            language=language,
            intent=intent,
            message=scrub(message)[:4000],
            passages=[scrub(p)[:800] for p in passages[:6]],
            reference=scrub(reference or "(none)"),
            draft=scrub(draft),
        )
        key = hashlib.sha256(
            json.dumps([self.model, self.prompt.version, messages], ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()
        cached = self.cache_dir / f"{key}.json"
        if cached.exists():
            self.cache_hits += 1
            raw = cached.read_text(encoding="utf-8")
        else:
            async with self.semaphore:
                self.calls += 1
                try:
                    response = await self.client.chat.completions.create(
                        model=self.model,
                        messages=cast("list[ChatCompletionMessageParam]", messages),
                        temperature=0.0,
                        max_tokens=400,
                        response_format={"type": "json_object"},
                    )
                except OpenAIError as exc:
                    return {f"judge_{c}": Score(None, f"judge call failed: {type(exc).__name__}") for c in CRITERIA}
            raw = (response.choices[0].message.content or "") if response.choices else ""
        try:
            verdict = msgspec.json.decode(raw.encode(), type=_Verdict)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return {f"judge_{c}": Score(None, f"judge answer unusable: {str(exc)[:100]}") for c in CRITERIA}
        if not cached.exists():
            cached.write_text(raw, encoding="utf-8")
        return {f"judge_{c}": Score(getattr(verdict, c).score / 5, getattr(verdict, c).reason[:300]) for c in CRITERIA}


def judge_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for criterion in CRITERIA:
        values = [r["draft"]["scores"].get(f"judge_{criterion}", {}).get("value") for r in rows]
        present = [v for v in values if v is not None]
        out[criterion] = round(sum(present) / len(present) * 5, 3) if present else None
    return out
