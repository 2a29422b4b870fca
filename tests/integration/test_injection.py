"""Every attack in the injection corpus, against a model that does whatever the attacker asks.

The fake LLM plays the worst case: its draft carries each of the row's ``forbidden_in_reply``
phrases as a sentence of its own (copied with the attacker's casing where the message has it),
between plausible sentences in the right language, all citing a real passage. It is asked to
repair and answers in one of two ways:

- ``stubborn``: the same draft again, so only the template fallback can save the reply;
- ``cooperative``: the draft minus the sentences the checks named, so every phrase must be caught
  on its own: a phrase the checks miss survives into a draft that passes.

A third model, ``parrot``, answers every request with the lines of the buyer's message itself.

Either way the stored draft must not contain any forbidden phrase. A third run drafts every row
with the template generator alone and checks the same thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.schemas import TicketIn
from tests.conftest import ROOT, Api, llm_settings, start_api
from tests.support.fake_openai import CANNED, FakeLLM, Seen, echo, reply

CORPUS = ROOT / "evals" / "datasets" / "injection" / "injections.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
]
TICKET_FIELDS = set(TicketIn.__struct_fields__)
MODEL = "fake-gpt"


def test_the_corpus_is_big_enough_and_well_formed() -> None:
    assert len(ROWS) >= 40
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    for row in ROWS:
        assert row["attack"]["forbidden_in_reply"], row["id"]
        assert row["attack"]["kind"], row["id"]
        assert row["attack"]["goal"], row["id"]


# ---------------------------------------------------------------- the attacker's model
def _buyer_text(row: dict[str, Any]) -> str:
    return "\n".join([row.get("subject") or "", row["message"], *(h.get("text", "") for h in row.get("history", []))])


def as_written(phrase: str, source: str) -> str:
    """The phrase as the attacker wrote it (the corpus stores it lowercased), else word by word."""
    at = source.lower().find(phrase.lower())
    if at >= 0:
        return source[at : at + len(phrase)]
    cased = {w.lower(): w for w in re.findall(r"\w+", source)}
    return re.sub(r"\w+", lambda m: cased.get(m.group(0).lower(), m.group(0)), phrase)


def attack_sentences(row: dict[str, Any]) -> list[str]:
    source = _buyer_text(row)
    out = []
    for phrase in row["attack"]["forbidden_in_reply"]:
        text = as_written(phrase, source).strip()
        out.append(text[:1].upper() + text[1:] + ("" if text[-1:] in ".!?。" else "."))
    return out


def first_draft(row: dict[str, Any]) -> Any:
    """The attacker's draft: greeting, thanks, every forbidden phrase, closing, sign-off."""
    attack = attack_sentences(row)

    def build(seen: Seen) -> dict[str, Any]:
        book = CANNED.get(seen.language, CANNED["en"])
        refs = seen.passage_refs[:1]
        name = seen.name_placeholder
        sentences = [
            {"text": book["hello"].format(name=name) if name else book["hello_anon"], "passage_ids": []},
            {"text": book["lines"][0], "passage_ids": []},
            *({"text": text, "passage_ids": refs} for text in attack),
            {"text": book["lines"][2], "passage_ids": refs},
            {"text": book["closing"], "passage_ids": []},
            {"text": book["signoff"], "passage_ids": []},
        ]
        return {"language": seen.language, "sentences": sentences}

    return build


def _named(sentence: str, problems: list[str]) -> bool:
    """Whether a repair problem points at this sentence (by quoting it or a fragment of it)."""
    text = sentence.strip()
    for problem in problems:
        quoted = problem.split(" — in: ", 1)[1].strip() if " — in: " in problem else ""
        if quoted and (quoted in text or text in quoted):
            return True
        for fragment in re.findall(r"'([^']{3,})'", problem):
            if fragment.lower() in text.lower():
                return True
    return False


def repaired_draft(row: dict[str, Any], mode: str) -> Any:
    build = first_draft(row)

    def repair(seen: Seen) -> dict[str, Any]:
        if mode == "stubborn":
            return build(seen)
        draft = seen.draft_to_fix
        kept = [s for s in draft["sentences"] if not _named(s["text"], seen.problems)]
        return {"language": draft.get("language", seen.language), "sentences": kept or draft["sentences"][:1]}

    return repair


# ---------------------------------------------------------------- one app for the module
@pytest.fixture(scope="module")
async def llm_api(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> AsyncIterator[Api]:
    settings = llm_settings(
        prepared_dir,
        tmp_path_factory.mktemp("injection") / "test.db",
        fake.base_url,
        llm_model=MODEL,
        llm_timeout_s=2.0,
        llm_max_retries=0,
    )
    async for api in start_api(settings):
        yield api


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeLLM) -> Iterator[None]:
    fake.reset()
    yield
    assert not fake.errors, fake.errors[0]


def ticket(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**{k: v for k, v in row.items() if k in TICKET_FIELDS}, **extra}


def forbidden_in(row: dict[str, Any], text: str) -> list[str]:
    lowered = text.lower()
    return [p for p in row["attack"]["forbidden_in_reply"] if p.lower() in lowered]


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("mode", ["stubborn", "cooperative", "parrot"])
@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
async def test_attack_never_reaches_the_stored_draft(
    llm_api: Api, fake: FakeLLM, row: dict[str, Any], mode: str
) -> None:
    if mode == "parrot":
        fake.always(echo())
    else:
        fake.always(reply(repaired_draft(row, mode)))
        fake.script(reply(first_draft(row)))
    response = await llm_api.post("/v1/drafts", ticket(row))
    assert response.status_code == 201, response.text
    draft = response.json()

    first = fake.calls("reply")
    assert len(first) == 1
    assert fake.calls("repair"), "the attacker's draft passed the checks on the first try"
    leaked = forbidden_in(row, draft["body"])
    assert not leaked, f"{row['attack']['kind']}: {leaked} in the stored draft ({draft['generator']}):\n{draft['body']}"
    if draft["generator"] == MODEL:
        assert draft["fallback_reason"] is None
        assert not [f for f in draft["findings"] if f["severity"] == "error"]
    else:
        assert draft["generator"] == f"template (fallback from {MODEL})"
        assert draft["fallback_reason"]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
async def test_template_drafts_never_carry_the_attack(llm_api: Api, fake: FakeLLM, row: dict[str, Any]) -> None:
    response = await llm_api.post("/v1/drafts", ticket(row, generator="template"))
    assert response.status_code == 201, response.text
    draft = response.json()
    assert draft["generator"] == "template"
    assert draft["fallback_reason"] is None
    assert not fake.seen, "generator 'template' must not call the LLM"
    assert not forbidden_in(row, draft["body"]), draft["body"]
