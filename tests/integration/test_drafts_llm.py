"""LLM drafts over HTTP: the real Drafter, the real ``openai`` SDK and a real HTTP fake model.

One app and one fake server per module (starting the app loads the models and the index); the
fake's script and records are reset before each test. The client timeout is one second and the
SDK retries once, so every failure mode below ends in well under ten seconds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI, InternalServerError

from app.lib import tokens
from tests.conftest import Api, llm_settings, start_api
from tests.support.fake_openai import CANNED, FakeLLM, Seen, canned_body, grounded, raw, reply, slow, status

MODEL = "fake-gpt"
INPUT_COST, OUTPUT_COST = 1000.0, 2000.0  # USD per million tokens: large, so the cost is visible

KETTLE_DE: dict[str, Any] = {
    "message": (
        "Guten Tag, mein Wasserkocher ist heute mit einem gesprungenen Deckel angekommen und leckt. "
        "Ich hätte gern einen Ersatz oder mein Geld zurück."
    ),
    "subject": "Wasserkocher kaputt",
    "customer": {"name": "Jonas Weber", "locale": "de-DE"},
    "order": {
        "id": "TW-4821-7730",
        "status": "delivered",
        "placed_at": "2026-11-14",
        "shipped_at": "2026-11-15",
        "delivered_at": "2026-11-18",
        "amount": 49.9,
        "currency": "EUR",
        "payment_method": "card",
        "seller": {"id": "nordic-home", "name": "Nordic Home"},
        "items": [{"name": "Wasserkocher Nordic 1,7 l", "sku": "NH-KET-17", "quantity": 1, "price": 49.9}],
        "destination_country": "DE",
    },
    "received_at": "2026-11-18T16:00:00Z",
}

PARCEL_PL: dict[str, Any] = {
    "message": (
        "Dzień dobry, moja paczka z czajnikiem miała dotrzeć w poniedziałek, ale nadal jej nie ma. Co mam zrobić?"
    ),
    "customer": {"name": "Piotr Nowak", "locale": "pl-PL"},
    "order": {
        "id": "TW-5120-3387",
        "status": "in_transit",
        "placed_at": "2026-11-09",
        "shipped_at": "2026-11-10",
        "estimated_delivery": "2026-11-13",
        "amount": 129.0,
        "currency": "EUR",
        "payment_method": "card",
        "seller": {"id": "nordic-home", "name": "Nordic Home"},
        "items": [{"name": "Czajnik stalowy", "quantity": 1, "price": 129.0}],
        "destination_country": "PL",
    },
    "received_at": "2026-11-19T09:00:00Z",
}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
async def llm_api(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> AsyncIterator[Api]:
    settings = llm_settings(
        prepared_dir,
        tmp_path_factory.mktemp("drafts-llm") / "test.db",
        fake.base_url,
        llm_model=MODEL,
        llm_timeout_s=1.0,
        llm_max_retries=1,
        llm_input_cost_per_mtok=INPUT_COST,
        llm_output_cost_per_mtok=OUTPUT_COST,
    )
    async for api in start_api(settings):
        yield api


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeLLM) -> Iterator[None]:
    fake.reset()
    yield
    assert fake.pending == 0, "the test's script was not used up: the drafter made fewer calls than expected"
    assert not fake.errors, fake.errors[0]


async def create(api: Api, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/drafts", {**payload, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def kinds(fake: FakeLLM) -> list[str]:
    return [s.kind for s in fake.seen]


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def errors(draft: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in draft["findings"] if f["severity"] == "error"]


def assert_template_fallback(draft: dict[str, Any], reason: str) -> None:
    assert draft["generator"] == f"template (fallback from {MODEL})", draft["generator"]
    assert draft["fallback_reason"], "a fallback must say why"
    assert reason in draft["fallback_reason"].lower(), draft["fallback_reason"]
    assert draft["prompt"]["id"].startswith("reply-templates/")
    assert draft["tokens"]["cost_usd"] == 0.0
    assert not errors(draft), errors(draft)


# ---------------------------------------------------------------- the fake itself
async def test_the_fake_speaks_the_openai_protocol(fake: FakeLLM) -> None:
    """The SDK (not our code) against the fake: JSON, a stream, embeddings, an error status."""
    client = AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0, timeout=5)
    try:
        fake.script(raw("hello there"), raw("a streamed answer"), status(500))
        plain = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert plain.choices[0].message.content == "hello there"
        assert plain.usage is not None
        assert plain.usage.completion_tokens == len("hello there") // 4
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        assert "".join(parts) == "a streamed answer"
        assert len([p for p in parts if p]) == 3  # 7-character chunks
        with pytest.raises(InternalServerError):
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        vectors = await client.embeddings.create(model="fake-embed", input=["one", "two"])
        assert [len(v.embedding) for v in vectors.data] == [16, 16]
        assert vectors.data[0].embedding != vectors.data[1].embedding
    finally:
        await client.close()
    assert kinds(fake) == ["translate", "translate", "translate", "embeddings"]  # no response_format
    assert fake.seen[1].stream is True


# ---------------------------------------------------------------- (a) a normal LLM draft
async def test_llm_draft_is_stored_with_model_citations_tokens_cost_and_prompt(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(grounded(completion_tokens=321))
    draft = await create(llm_api, KETTLE_DE)

    assert draft["generator"] == MODEL
    assert draft["fallback_reason"] is None
    assert draft["language"] == "de"
    assert draft["body"] == canned_body("de", "Jonas Weber")  # the name placeholder was restored
    assert not errors(draft), errors(draft)
    assert draft["prompt"] == {"id": "draft-reply", "version": "1"}

    (call,) = fake.seen
    assert call.kind == "reply"
    assert call.body["model"] == MODEL
    assert call.body["response_format"]["type"] == "json_schema"
    assert "[NAME_1]" in call.system
    assert "Jonas" not in call.text
    # The style guide's section for German replies travels with the prompt.
    assert "style guide for these replies" in call.system
    assert "Sehr geehrte" in call.system or "Sie" in call.system.split("style guide for these replies", 1)[1]
    # The fake cited P1 and P2: they must come back as the chunk ids of the first two passages.
    refs = call.passage_refs
    assert refs[:2] == ["P1", "P2"]
    assert len(refs) <= len(draft["passages"])
    chunk_of = {f"P{i}": p["chunk_id"] for i, p in enumerate(draft["passages"], start=1)}
    cited = [(c["sentence_index"], c["chunk_id"]) for c in draft["citations"]]
    assert cited == [(2, chunk_of["P1"]), (3, chunk_of["P2"])]
    for citation in draft["citations"]:
        passage = next(p for p in draft["passages"] if p["chunk_id"] == citation["chunk_id"])
        assert citation["document_id"] == passage["document_id"]
        assert citation["anchor"] == passage["anchor"]

    # Tokens: the prompt as the drafter counted it, the completion as the endpoint reported it.
    prompt_tokens = sum(tokens.count(str(m["content"])) + 4 for m in call.messages)
    assert draft["tokens"]["prompt"] == prompt_tokens
    assert draft["tokens"]["completion"] == 321
    expected_cost = round((prompt_tokens * INPUT_COST + 321 * OUTPUT_COST) / 1_000_000, 6)
    assert draft["tokens"]["cost_usd"] == pytest.approx(expected_cost)
    assert draft["latency_ms"]["llm_ms"] > 0

    stored = (await llm_api.get(f"/v1/drafts/{draft['id']}")).json()
    assert stored == draft


# ---------------------------------------------------------------- (b) streaming
async def test_stream_yields_tokens_then_the_stored_draft(llm_api: Api, fake: FakeLLM) -> None:
    response = await llm_api.post("/v1/drafts/stream", KETTLE_DE)
    assert response.status_code in (200, 201), response.text  # a POST handler: Litestar answers 201
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "stage", names
    assert names[-1] == "draft", names
    assert "fallback" not in [data.get("stage") for name, data in events if name == "stage"]
    token_texts = [data["text"] for name, data in events if name == "token"]
    assert len(token_texts) >= 10, "the fake streams 7-character chunks: expected many token events"
    assert names.index("token") < names.index("draft")

    draft = events[-1][1]
    assert draft["generator"] == MODEL
    streamed = "".join(token_texts)
    assert "[NAME_" not in streamed, "the agent must see the name, not the placeholder"
    assert streamed.split() == draft["body"].split()
    stored = (await llm_api.get(f"/v1/drafts/{draft['id']}")).json()
    assert stored == draft
    (call,) = fake.seen
    assert call.stream is True


async def test_stream_falls_back_and_streams_the_template(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(status(500), status(500))
    events = sse_events((await llm_api.post("/v1/drafts/stream", KETTLE_DE)).text)
    stages = [data.get("stage") for name, data in events if name == "stage"]
    assert stages == ["context", "fallback"]
    draft = events[-1][1]
    assert_template_fallback(draft, "http 500")
    assert "".join(d["text"] for n, d in events if n == "token").split() == draft["body"].split()


# ---------------------------------------------------------------- (c)–(f) the endpoint fails
async def test_timeout_falls_back_to_the_template(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(slow(3.0), slow(3.0))
    started = time.perf_counter()
    draft = await create(llm_api, KETTLE_DE)
    elapsed = time.perf_counter() - started
    assert_template_fallback(draft, "timed out")
    assert kinds(fake) == ["reply", "reply"], "one retry after the first timeout"
    assert elapsed < 5.0, f"two 1-second timeouts and one back-off should not take {elapsed:.1f} s"
    assert "Jonas" in draft["body"]
    assert draft["language"] == "de"


async def test_http_500_falls_back_after_one_retry(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(status(500), status(500))
    draft = await create(llm_api, KETTLE_DE)
    assert_template_fallback(draft, "http 500")
    assert kinds(fake) == ["reply", "reply"]


async def test_429_with_retry_after_is_retried_and_then_succeeds(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(status(429, retry_after=1), grounded())
    draft = await create(llm_api, KETTLE_DE)
    assert draft["generator"] == MODEL
    assert draft["fallback_reason"] is None
    first, second = fake.seen
    assert first.kind == second.kind == "reply"
    assert second.body == first.body
    # The SDK's own back-off is under 0.5 s: a 1-second gap means Retry-After was honoured.
    assert second.at - first.at >= 0.95


async def test_malformed_json_falls_back_without_repair(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(raw('{"language": "de", "sentences": [{"text": "Guten Tag [NAME_1],", "passage_ids": []'))
    draft = await create(llm_api, KETTLE_DE)
    assert_template_fallback(draft, "malformed json")
    assert kinds(fake) == ["reply"]


# ---------------------------------------------------------------- (g)–(i) the checks fail
@pytest.mark.parametrize("repair_fixes_it", [False, True], ids=["still-wrong", "fixed"])
async def test_wrong_language_gets_one_repair(llm_api: Api, fake: FakeLLM, repair_fixes_it: bool) -> None:
    fake.script(grounded(language="en"), grounded() if repair_fixes_it else grounded(language="en"))
    draft = await create(llm_api, KETTLE_DE)

    assert kinds(fake) == ["reply", "repair"]
    repair = fake.seen[1]
    assert "REQUIRED LANGUAGE: de" in repair.user
    assert any(p.startswith("language:") for p in repair.problems), repair.problems
    assert repair.draft_to_fix["sentences"][1]["text"] == CANNED["en"]["lines"][0]
    if repair_fixes_it:
        assert draft["generator"] == MODEL
        assert draft["fallback_reason"] is None
        assert draft["body"] == canned_body("de", "Jonas Weber")
        assert draft["prompt"] == {"id": "draft-repair", "version": "1+repair1"}
        assert "repaired once after the checks" in draft["notes"]
    else:
        assert_template_fallback(draft, "reads as 'en'")
        assert draft["language"] == "de"


@pytest.mark.parametrize("repair_fixes_it", [False, True], ids=["still-invented", "fixed"])
async def test_invented_citation_gets_one_repair(llm_api: Api, fake: FakeLLM, repair_fixes_it: bool) -> None:
    fake.script(grounded(refs=["P99"]), grounded() if repair_fixes_it else grounded(refs=["P99"]))
    draft = await create(llm_api, KETTLE_DE)

    assert kinds(fake) == ["reply", "repair"]
    repair = fake.seen[1]
    assert any("P99" in p and p.startswith("citation:") for p in repair.problems), repair.problems
    assert "P99" not in re.search(r"VALID PASSAGE IDS: (.*)", repair.user).group(1)  # type: ignore[union-attr]
    if repair_fixes_it:
        assert draft["generator"] == MODEL
        known = {p["chunk_id"] for p in draft["passages"]}
        assert draft["citations"]
        assert {c["chunk_id"] for c in draft["citations"]} <= known
    else:
        assert_template_fallback(draft, "cites 'p99', which was not retrieved")
        assert "P99" not in json.dumps([draft["body"], draft["citations"]])


async def test_amount_and_date_not_backed_by_facts_are_flagged(llm_api: Api, fake: FakeLLM) -> None:
    def invented(seen: Seen) -> dict[str, Any]:
        return {
            "language": "de",
            "sentences": [
                {"text": "Guten Tag [NAME_1],", "passage_ids": []},
                {"text": "Vielen Dank für Ihre Nachricht zu Ihrer Bestellung.", "passage_ids": []},
                {
                    "text": "Wir erstatten Ihnen eine Entschädigung in Höhe von 500 EUR auf Ihre Karte.",
                    "passage_ids": ["P1"],
                },
                {
                    "text": "Das Geld ist spätestens am 24. Dezember 2026 auf Ihrem Konto.",
                    "passage_ids": ["P1"],
                },
                {"text": CANNED["de"]["closing"], "passage_ids": []},
                {"text": CANNED["de"]["signoff"], "passage_ids": []},
            ],
        }

    fake.script(reply(invented), reply(invented))
    draft = await create(llm_api, KETTLE_DE)

    assert kinds(fake) == ["reply", "repair"]
    problems = " | ".join(fake.seen[1].problems)
    assert "500 EUR" in problems, problems
    assert "2026-12-24" in problems, problems
    assert_template_fallback(draft, "fact")
    assert "500" in draft["fallback_reason"]
    assert "2026-12-24" in draft["fallback_reason"]
    assert "500 EUR" not in draft["body"]
    assert "Dezember" not in draft["body"]


# ---------------------------------------------------------------- (j) personal data
PII = {
    "email": "henrike.q@example.org",
    "phone": "+49 170 1234567",
    "iban": "DE89 3704 0044 0532 0130 00",
    "card": "4111 1111 1111 1111",
}
PII_TICKET: dict[str, Any] = {
    **KETTLE_DE,
    "subject": "Wasserkocher kaputt – Henrike Quastenberg",
    "message": (
        "Guten Tag, hier schreibt Henrike Quastenberg. Mein Wasserkocher ist mit einem gesprungenen Deckel "
        f"angekommen. Bitte erstatten Sie das Geld auf mein Konto {PII['iban']} "
        f"oder auf meine Karte {PII['card']}. "
        f"Sie erreichen mich unter {PII['email']} oder {PII['phone']}. Viele Grüße, Henrike"
    ),
    "customer": {"name": "Henrike Quastenberg", "email": PII["email"], "locale": "de-DE"},
    "history": [{"role": "buyer", "text": f"Henrike hier, ich habe schon angerufen, Rückruf bitte an {PII['phone']}."}],
}


async def test_personal_data_and_the_name_never_leave(llm_api: Api, fake: FakeLLM) -> None:
    # An English first draft forces a repair, so the repair prompt (which carries the draft,
    # with the greeting's name restored in it) is checked too.
    fake.script(grounded(language="en"), grounded())
    draft = await create(llm_api, PII_TICKET)
    assert kinds(fake) == ["reply", "repair"]

    sent = fake.all_text()
    values = [*PII.values(), *(v.replace(" ", "") for v in PII.values()), "Henrike", "Quastenberg"]
    leaked = [v for v in values if v in sent]
    assert not leaked, f"left for the LLM: {leaked}"
    first = fake.seen[0].user
    for placeholder in ("[EMAIL_1]", "[PHONE_1]", "[IBAN_1]", "[CARD_1]", "[NAME_1]"):
        assert placeholder in first, f"{placeholder} missing: the value was dropped, not masked"
    assert "[NAME_1]" in fake.seen[1].user

    assert draft["generator"] == MODEL, draft["fallback_reason"]
    assert draft["body"].startswith("Guten Tag Henrike Quastenberg,")
    assert draft["body"] == canned_body("de", "Henrike Quastenberg")


# ---------------------------------------------------------------- (k) translation for the agent
async def test_polish_draft_is_translated_to_english_for_the_agent(llm_api: Api, fake: FakeLLM) -> None:
    draft = await create(llm_api, PARCEL_PL, translate_for_agent=True)

    assert draft["language"] == "pl"
    assert draft["generator"] == MODEL, draft["fallback_reason"]
    assert draft["body"] == canned_body("pl", "Piotr Nowak")
    assert kinds(fake) == ["reply", "translate"]
    translate = fake.seen[1]
    assert "into English (en)" in translate.system
    assert "from pl" in translate.system
    assert all(line in translate.user for line in CANNED["pl"]["lines"])
    translation = draft["translation"]
    assert translation == {"language": "en", "body": canned_body("en", "Piotr Nowak"), "generator": MODEL}


async def test_translation_request_masks_the_customer_name(llm_api: Api, fake: FakeLLM) -> None:
    draft = await create(llm_api, PARCEL_PL, translate_for_agent=True)
    assert draft["translation"]["body"].startswith("Hello Piotr Nowak,")
    assert "Nowak" not in fake.calls("translate")[0].text


# ---------------------------------------------------------------- languages in their own script
KETTLE_RU: dict[str, Any] = {
    "message": "Здравствуйте, мой чайник пришёл с треснувшей крышкой и протекает. Хочу замену или возврат денег.",
    "customer": {"name": "Ольга Смирнова", "locale": "ru-RU"},
    "order": {
        "id": "TW-4821-7731",
        "status": "delivered",
        "delivered_at": "2026-11-18",
        "seller": {"id": "nordic-home", "name": "Nordic Home"},
        "amount": 49.9,
        "payment_method": "card",
    },
    "received_at": "2026-11-20T10:00:00Z",
}


def _russian(seen: Any) -> dict[str, Any]:
    return {
        "language": "ru",
        "sentences": [
            {"text": "Здравствуйте, [NAME_1],", "passage_ids": []},
            {"text": "Нам очень жаль, что чайник пришёл повреждённым.", "passage_ids": []},
            {"text": "Пожалуйста, пришлите нам две или три фотографии товара и упаковки.", "passage_ids": ["P1"]},
            {"text": "С уважением, служба поддержки Tradewind", "passage_ids": []},
        ],
    }


async def test_a_russian_llm_draft_is_kept_and_an_english_one_is_not(llm_api: Api, fake: FakeLLM) -> None:
    fake.script(reply(_russian))
    draft = await create(llm_api, KETTLE_RU)
    assert draft["generator"] == MODEL, draft["fallback_reason"]
    assert draft["body"].startswith("Здравствуйте, Ольга Смирнова,")
    english = {
        "language": "ru",
        "sentences": [
            {"text": "Hello [NAME_1],", "passage_ids": []},
            {
                "text": "We are very sorry that your kettle arrived damaged and we will help you quickly.",
                "passage_ids": ["P1"],
            },
            {"text": "Kind regards, Tradewind Customer Service", "passage_ids": []},
        ],
    }
    fake.script(reply(english), reply(english))
    draft = await create(llm_api, KETTLE_RU)
    assert draft["generator"].startswith("template"), draft["body"]


async def test_prompt_stays_within_the_token_budget(make_settings: Any, fake: FakeLLM) -> None:
    from app.lib import tokens

    budget = 2500  # the fixed part (rules, facts, style guide) is about 1,900 tokens
    settings = make_settings(llm_base_url=fake.base_url, llm_model=MODEL, prompt_token_budget=budget)
    async for api in start_api(settings):
        fake.script(grounded())
        draft = await create(api, KETTLE_DE)
        (call,) = fake.seen[-1:]
        sent = sum(tokens.count(str(m.get("content", ""))) + 4 for m in call.body["messages"])
        assert sent <= budget
        assert len(call.passage_refs) < len(draft["passages"])  # the least relevant were trimmed
        assert any("dropped to fit" in note for note in draft["notes"])
        assert draft["tokens"]["prompt"] == sent
