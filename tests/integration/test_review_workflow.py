"""The review workflow over HTTP: tickets, drafts, review actions, concurrency, audit, feedback.

Drafts come from the template generator (no LLM), against the real model, index and SQLite.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz.distance import Levenshtein
from sqlalchemy import func, select, text

from app.db.base import create_engine, create_sessionmaker
from app.db.models import AuditEvent, Ticket
from evals.dataset import load_dataset
from evals.feedback import export_feedback
from tests.conftest import Api, create_key, migrate
from tests.support.live_server import live_server
from tests.support.tickets import KETTLE

TICKET: dict[str, Any] = {**KETTLE, "history": [{"role": "buyer", "text": "Hello? Anyone there?"}]}


def ticket(external_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {**TICKET, **extra}
    if external_id:
        body["external_id"] = external_id
    return body


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with the given status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["status"] == status and error["code"] == code and error["message"], error
    assert isinstance(error.get("details", []), list)
    return error


async def new_draft(api: Api, external_id: str | None = None, **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/drafts", {**ticket(external_id), "generator": "template", **extra})
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    draft: dict[str, Any] = response.json()
    return draft


async def audit(api: Api, draft_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/drafts/{draft_id}/audit")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


async def read_draft(api: Api, draft_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/drafts/{draft_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    draft: dict[str, Any] = response.json()
    return draft


def if_match(version: int | str) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


async def count_rows(api: Api, model: Any) -> int:
    engine = create_engine(api.settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- tickets
async def test_ticket_is_idempotent_on_external_id(api: Api) -> None:
    first = await api.post("/v1/tickets", ticket("hd-100"))
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["external_id"] == "hd-100" and created["source"] == "api"
    assert (
        created["intent"] and created["language"] == "en" and created["triage"]["intent"]["label"] == created["intent"]
    )

    again = await api.post("/v1/tickets", ticket("hd-100", message="A retried webhook, same ticket."))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == created["id"]
    assert again.json()["message"] == TICKET["message"]  # the stored ticket, not the retry's body

    # The same external id from another helpdesk is another ticket.
    other = await api.post("/v1/tickets", {**ticket("hd-100"), "source": "zendesk"})
    assert other.status_code == 201 and other.json()["id"] != created["id"]
    assert await count_rows(api, Ticket) == 2
    listed = (await api.get("/v1/tickets")).json()
    assert sorted(t["id"] for t in listed) == sorted([created["id"], other.json()["id"]])


async def test_idempotency_key_replays_and_rejects_a_different_body(api: Api) -> None:
    key = {"Idempotency-Key": "webhook-7f3a"}
    first = await api.post("/v1/tickets", ticket(), headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    replay = await api.post("/v1/tickets", ticket(), headers=key)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()

    clash = await api.post("/v1/tickets", ticket(message="Something else entirely."), headers=key)
    assert_error(clash, 409, "conflict")
    assert "Idempotency-Key" in clash.json()["error"]["message"]

    # No external id, so only the key kept the retry from creating a twin; without it: two tickets.
    assert await count_rows(api, Ticket) == 1
    assert (await api.post("/v1/tickets", ticket())).status_code == 201
    assert await count_rows(api, Ticket) == 2

    # Keys are per API key: another client's identical key is its own request.
    other = await api.key_with("drafts:write")
    elsewhere = await api.post("/v1/tickets", ticket(), key=other, headers=key)
    assert elsewhere.status_code == 201 and "idempotent-replayed" not in elsewhere.headers
    assert_error(
        await api.post("/v1/tickets", ticket(), headers={"Idempotency-Key": "k" * 201}), 422, "validation_failed"
    )


# ---------------------------------------------------------------- drafts
async def test_create_draft_records_provenance(api: Api) -> None:
    draft = await new_draft(api, "hd-200")
    assert draft["state"] == "suggested" and draft["version"] == 1
    assert draft["body"].strip() and draft["language"] == "en"
    assert draft["generator"] == "template" and draft["fallback_reason"] is None
    assert draft["prompt"]["id"] and draft["prompt"]["version"]
    assert draft["passages"] and draft["ticket_id"]
    for field in ("final_body", "edit_distance", "reject_reason", "reviewed_by", "reviewed_at", "sent_at"):
        assert draft[field] is None, field

    assert await read_draft(api, draft["id"]) == draft
    stored = (await api.get(f"/v1/tickets/{draft['ticket_id']}")).json()
    assert stored["external_id"] == "hd-200"
    assert [d["id"] for d in stored["drafts"]] == [draft["id"]]

    (event,) = await audit(api, draft["id"])
    assert event["action"] == "create" and event["from_state"] is None and event["to_state"] == "suggested"
    assert event["actor"] == "admin" and event["draft_version"] == 1 and event["after_body"] == draft["body"]
    assert event["prompt_version"] == f"{draft['prompt']['id']}@{draft['prompt']['version']}"
    assert event["model"] == "template"


async def test_approve_then_sent(api: Api) -> None:
    draft = await new_draft(api)
    approved = await api.post(f"/v1/drafts/{draft['id']}/approve", headers={**if_match(1), "X-Agent-Id": "agent-7"})
    assert approved.status_code == 200, approved.text
    assert approved.headers["etag"] == '"2"'
    body = approved.json()
    assert body["state"] == "approved" and body["version"] == 2
    assert body["final_body"] == draft["body"] and body["body"] == draft["body"]
    assert body["edit_distance"] == 0.0
    assert body["reviewed_by"] == "admin:agent-7" and body["reviewed_at"]

    sent = await api.post(f"/v1/drafts/{draft['id']}/sent", headers=if_match(2))
    assert sent.status_code == 200, sent.text
    assert sent.headers["etag"] == '"3"'
    assert sent.json()["state"] == "sent" and sent.json()["sent_at"]
    assert sent.json()["reviewed_by"] == "admin:agent-7"  # sending is not a review

    create, approve, send = await audit(api, draft["id"])
    assert create["action"] == "create"
    assert approve["action"] == "approve" and approve["actor"] == "admin:agent-7"
    assert (approve["from_state"], approve["to_state"], approve["draft_version"]) == ("suggested", "approved", 2)
    assert approve["before_body"] == approve["after_body"] == draft["body"]
    assert approve["edit_distance"] == 0.0 and approve["diff"] is None
    assert approve["prompt_version"] == create["prompt_version"] and approve["model"] == "template"
    assert (send["action"], send["from_state"], send["to_state"], send["draft_version"]) == (
        "sent",
        "approved",
        "sent",
        3,
    )
    assert send["after_body"] == draft["body"]


async def test_edit_keeps_the_suggestion_and_measures_the_change(api: Api) -> None:
    draft = await new_draft(api)
    final = (
        draft["body"].replace("Hello", "Dear customer", 1) + "\n\nWe have also added a 10 EUR voucher to your account."
    )
    edited = await api.post(f"/v1/drafts/{draft['id']}/edit", {"body": final}, headers=if_match(1))
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["state"] == "edited" and body["version"] == 2
    assert body["body"] == draft["body"]  # the suggestion is kept ...
    assert body["final_body"] == final  # ... next to what the agent made of it
    expected = round(Levenshtein.normalized_distance(draft["body"], final), 4)
    assert body["edit_distance"] == pytest.approx(expected) and 0 < body["edit_distance"] < 1

    _, edit = await audit(api, draft["id"])
    assert (edit["action"], edit["from_state"], edit["to_state"]) == ("edit", "suggested", "edited")
    assert edit["before_body"] == draft["body"] and edit["after_body"] == final
    assert edit["edit_distance"] == body["edit_distance"]
    assert edit["diff"].startswith("--- suggested\n+++ final")
    assert "+We have also added a 10 EUR voucher to your account." in edit["diff"].splitlines()

    # The body's `version` works like If-Match for clients that cannot set headers.
    sent = await api.post(f"/v1/drafts/{draft['id']}/sent", {"version": 2})
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "sent" and sent.json()["final_body"] == final
    assert (await audit(api, draft["id"]))[-1]["after_body"] == final


async def test_reject_with_reason(api: Api) -> None:
    draft = await new_draft(api)
    rejected = await api.post(
        f"/v1/drafts/{draft['id']}/reject",
        {"reason": "wrong_policy", "comment": "Cites the 14-day window; this seller gives 30."},
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["state"] == "rejected" and body["version"] == 2
    assert body["reject_reason"] == "wrong_policy" and body["reject_comment"].startswith("Cites")
    assert body["final_body"] is None and body["edit_distance"] is None and body["reviewed_at"]

    _, event = await audit(api, draft["id"])
    assert (event["action"], event["from_state"], event["to_state"]) == ("reject", "suggested", "rejected")
    assert event["reason"] == "wrong_policy" and event["comment"] == body["reject_comment"]
    assert event["before_body"] == draft["body"] and event["after_body"] is None and event["edit_distance"] is None


@pytest.mark.parametrize(
    ("setup", "action", "payload"),
    [
        ("approve", "approve", None),
        ("approve", "edit", {"body": "Something else."}),
        ("approve", "reject", {"reason": "tone"}),
        ("edit", "approve", None),
        ("reject", "approve", None),
        ("reject", "edit", {"body": "Too late."}),
        ("reject", "sent", None),
        (None, "sent", None),
        ("sent", "sent", None),
        ("sent", "reject", {"reason": "other"}),
    ],
)
async def test_illegal_transitions_are_409(api: Api, setup: str | None, action: str, payload: Any) -> None:
    draft = await new_draft(api)
    bodies = {"approve": None, "edit": {"body": "Edited reply."}, "reject": {"reason": "incomplete"}}
    steps = ["approve", "sent"] if setup == "sent" else [setup] if setup else []
    for step in steps:
        assert (await api.post(f"/v1/drafts/{draft['id']}/{step}", bodies.get(step))).status_code == 200
    before = await read_draft(api, draft["id"])
    trail = await audit(api, draft["id"])

    error = assert_error(await api.post(f"/v1/drafts/{draft['id']}/{action}", payload), 409, "conflict")
    assert f"'{before['state']}'" in error["message"]
    assert await read_draft(api, draft["id"]) == before
    assert await audit(api, draft["id"]) == trail


async def test_stale_if_match_is_409_and_loses_nothing(api: Api) -> None:
    draft = await new_draft(api)
    # Two agents open version 1; the first one's edit wins, the second one's approval is stale.
    mine = draft["body"] + "\nP.S. The replacement ships today."
    assert (await api.post(f"/v1/drafts/{draft['id']}/edit", {"body": mine}, headers=if_match(1))).status_code == 200
    after_edit = await read_draft(api, draft["id"])

    for action, payload in (("approve", None), ("edit", {"body": "Overwrite!"}), ("reject", {"reason": "tone"})):
        error = assert_error(
            await api.post(f"/v1/drafts/{draft['id']}/{action}", payload, headers=if_match(1)), 409, "conflict"
        )
        assert error["message"]
    # `sent` is legal from 'edited' but not with a stale version: the message says which it is.
    error = assert_error(await api.post(f"/v1/drafts/{draft['id']}/sent", headers=if_match(1)), 409, "conflict")
    assert "version 1" in error["message"] and "version 2" in error["message"]

    assert await read_draft(api, draft["id"]) == after_edit
    assert after_edit["final_body"] == mine
    assert [e["action"] for e in await audit(api, draft["id"])] == ["create", "edit"]

    # A version from the future is as stale as one from the past; a bad If-Match is a 422.
    other = await new_draft(api)
    assert_error(await api.post(f"/v1/drafts/{other['id']}/approve", headers=if_match(7)), 409, "conflict")
    assert_error(
        await api.post(f"/v1/drafts/{other['id']}/approve", headers={"If-Match": "*"}), 422, "validation_failed"
    )
    assert (await read_draft(api, other["id"]))["state"] == "suggested"
    ok = await api.post(f"/v1/drafts/{other['id']}/approve", headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200, ok.text


async def test_unknown_ids_are_404(api: Api) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path, payload in [
        ("get", f"/v1/drafts/{missing}", None),
        ("get", f"/v1/drafts/{missing}/audit", None),
        ("post", f"/v1/drafts/{missing}/approve", None),
        ("post", f"/v1/drafts/{missing}/edit", {"body": "x"}),
        ("post", f"/v1/drafts/{missing}/reject", {"reason": "tone"}),
        ("post", f"/v1/drafts/{missing}/sent", None),
        ("get", f"/v1/tickets/{missing}", None),
        ("post", f"/v1/tickets/{missing}/drafts", {"generator": "template"}),
        ("post", "/v1/drafts", {**ticket(), "generator": "template", "ticket_id": missing}),
    ]:
        response = await (api.get(path) if method == "get" else api.post(path, payload))
        assert_error(response, 404, "not_found")


async def test_invalid_review_bodies_are_422(api: Api) -> None:
    draft = await new_draft(api)
    base = f"/v1/drafts/{draft['id']}"
    for action, payload in [
        ("reject", {"reason": "i_just_dont_like_it"}),
        ("reject", {}),
        ("reject", {"reason": "tone", "comment": "x" * 2001}),
        ("edit", {"body": ""}),
        ("edit", {"body": "   \n "}),
        ("edit", {"body": "fine", "colour": "red"}),
        ("edit", None),
        ("approve", {"version": "one"}),
    ]:
        assert_error(await api.post(f"{base}/{action}", payload), 422, "validation_failed")
    assert (await read_draft(api, draft["id"]))["state"] == "suggested"
    assert len(await audit(api, draft["id"])) == 1


async def test_regenerate_adds_a_draft_with_instructions(api: Api) -> None:
    created = await api.post("/v1/tickets", ticket("hd-300"))
    assert created.status_code == 201
    ticket_id = created.json()["id"]
    first = await api.post(f"/v1/tickets/{ticket_id}/drafts", {"generator": "template"})
    assert first.status_code == 201, first.text
    assert (await api.post(f"/v1/drafts/{first.json()['id']}/reject", {"reason": "incomplete"})).status_code == 200

    second = await api.post(
        f"/v1/tickets/{ticket_id}/drafts",
        {"generator": "template", "instructions": ["offer a replacement", "be brief"]},
    )
    assert second.status_code == 201, second.text
    assert second.headers["etag"] == '"1"'
    body = second.json()
    assert body["id"] != first.json()["id"] and body["ticket_id"] == ticket_id
    assert body["state"] == "suggested" and body["instructions"] == ["offer a replacement", "be brief"]
    assert body["triage"]["intent"]["label"] == created.json()["intent"]  # the stored triage is reused

    stored = (await api.get(f"/v1/tickets/{ticket_id}")).json()
    assert [(d["id"], d["state"]) for d in stored["drafts"]] == [
        (first.json()["id"], "rejected"),
        (body["id"], "suggested"),
    ]
    assert_error(await api.post(f"/v1/tickets/{ticket_id}/drafts", {"generator": "llm"}), 422, "validation_failed")
    assert_error(
        await api.post(f"/v1/tickets/{ticket_id}/drafts", {"instructions": ["x" * 301]}), 422, "validation_failed"
    )


async def test_state_change_without_its_audit_event_is_impossible(api: Api) -> None:
    """Make the audit insert fail in the database: the transition must roll back with it."""
    draft = await new_draft(api)
    engine = create_engine(api.settings.resolved_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events WHEN NEW.action != 'create' "
                    "BEGIN SELECT RAISE(ABORT, 'audit storage failed'); END"
                )
            )
        assert_error(await api.post(f"/v1/drafts/{draft['id']}/approve", headers=if_match(1)), 500, "internal_error")
        after = await read_draft(api, draft["id"])
        assert (after["state"], after["version"], after["final_body"]) == ("suggested", 1, None)
        assert [e["action"] for e in await audit(api, draft["id"])] == ["create"]
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER audit_down"))
    finally:
        await engine.dispose()
    assert (await api.post(f"/v1/drafts/{draft['id']}/approve", headers=if_match(1))).status_code == 200
    assert [e["action"] for e in await audit(api, draft["id"])] == ["create", "approve"]


# ---------------------------------------------------------------- concurrency
async def test_fifty_concurrent_reviews_exactly_one_wins(make_settings: Any) -> None:
    settings = make_settings()
    await asyncio.to_thread(migrate, settings)

    headers = {"Authorization": f"Bearer {await create_key(settings, ['drafts:read', 'drafts:write'], name='agents')}"}
    async with live_server(settings) as client:
        created = await client.post("/v1/drafts", json={**ticket("hd-race"), "generator": "template"}, headers=headers)
        assert created.status_code == 201, created.text
        draft_id = created.json()["id"]

        def attempt(i: int) -> Any:
            agent = {**headers, "X-Agent-Id": f"agent-{i}"}
            if i % 2:
                return client.post(
                    f"/v1/drafts/{draft_id}/edit",
                    json={"body": f"Reply written by agent {i}."},
                    headers={**agent, **if_match(1)},
                )
            # Half of the approvals send no version at all: the state check must still hold.
            return client.post(
                f"/v1/drafts/{draft_id}/approve", headers={**agent, **(if_match(1) if i % 4 == 0 else {})}
            )

        responses = await asyncio.gather(*(attempt(i) for i in range(50)))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 409: 49}, statuses
        for response in responses:
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "conflict"
        (winner,) = [r for r in responses if r.status_code == 200]
        won = winner.json()

        final = (await client.get(f"/v1/drafts/{draft_id}", headers=headers)).json()
        assert final == won and final["version"] == 2 and final["state"] in ("approved", "edited")
        events = (await client.get(f"/v1/drafts/{draft_id}/audit", headers=headers)).json()
        reviews = [e for e in events if e["action"] != "create"]
        assert len(reviews) == 1, reviews
        (review,) = reviews
        assert review["actor"] == won["reviewed_by"] and review["to_state"] == won["state"]
        assert review["from_state"] == "suggested" and review["draft_version"] == 2
        assert review["after_body"] == won["final_body"]


async def test_concurrent_ticket_retries_create_one_ticket(make_settings: Any) -> None:
    """Webhook retries that arrive together: one ticket, by external id and by Idempotency-Key."""
    settings = make_settings()
    await asyncio.to_thread(migrate, settings)

    headers = {"Authorization": f"Bearer {await create_key(settings, ['drafts:write'], name='webhook')}"}
    async with live_server(settings) as client:
        by_external = await asyncio.gather(
            *(client.post("/v1/tickets", json=ticket("hd-dup"), headers=headers) for _ in range(20))
        )
        assert Counter(r.status_code for r in by_external) == {201: 1, 200: 19}
        assert len({r.json()["id"] for r in by_external}) == 1

        keyed = {**headers, "Idempotency-Key": "retry-storm"}
        by_key = await asyncio.gather(*(client.post("/v1/tickets", json=ticket(), headers=keyed) for _ in range(20)))
        statuses = Counter(r.status_code for r in by_key)
        assert not any(s >= 500 for s in statuses), statuses
        # Each retry either gets the first answer replayed or is told the first is still running.
        assert statuses[201] >= 1 and set(statuses) <= {201, 409}, statuses
        assert len({r.json()["id"] for r in by_key if r.status_code == 201}) == 1
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Ticket)) == 2
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- feedback
async def test_feedback_export_writes_labeled_rows(api: Api, tmp_path: Path) -> None:
    edited = await new_draft(api, "fb-1")
    final = edited["body"] + "\nWe will send a prepaid return label today."
    assert (await api.post(f"/v1/drafts/{edited['id']}/edit", {"body": final})).status_code == 200

    edited_sent = await new_draft(api, "fb-2")
    final_sent = "Dear Maria, sorry about the kettle: a replacement is on its way."
    assert (await api.post(f"/v1/drafts/{edited_sent['id']}/edit", {"body": final_sent})).status_code == 200
    assert (await api.post(f"/v1/drafts/{edited_sent['id']}/sent")).status_code == 200

    rejected = await new_draft(api, "fb-3")
    assert (
        await api.post(f"/v1/drafts/{rejected['id']}/reject", {"reason": "wrong_facts", "comment": "wrong date"})
    ).status_code == 200
    wrong_intent = await new_draft(api, "fb-4")
    assert (await api.post(f"/v1/drafts/{wrong_intent['id']}/reject", {"reason": "wrong_intent"})).status_code == 200

    # Not exported: approved as is (also once sent), and not reviewed yet.
    approved = await new_draft(api, "fb-5")
    assert (await api.post(f"/v1/drafts/{approved['id']}/approve")).status_code == 200
    assert (await api.post(f"/v1/drafts/{approved['id']}/sent")).status_code == 200
    await new_draft(api, "fb-6")

    out = tmp_path / "feedback" / "reviewed.jsonl"
    assert await export_feedback(api.settings, out, since=None) == 4
    rows = {row["id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {f"fb-{d['id']}" for d in (edited, edited_sent, rejected, wrong_intent)}

    row = rows[f"fb-{edited['id']}"]
    intent = edited["triage"]["intent"]["label"]
    assert row["message"] == TICKET["message"] and row["subject"] == TICKET["subject"] and row["channel"] == "email"
    assert row["customer"]["name"] == "Maria Rossi" and row["order"]["id"] == "TW-4821-7730"
    assert row["history"] == [{"role": "buyer", "text": "Hello? Anyone there?"}] and row["received_at"].endswith("Z")
    assert row["labels"] == {"intent": intent, "language": "en", "review": "edited"}
    assert row["reference_reply"] == final
    assert row["draft"]["id"] == edited["id"] and row["draft"]["body"] == edited["body"]
    assert row["draft"]["generator"] == "template" and 0 < row["draft"]["edit_distance"] < 1
    assert row["draft"]["prompt_version"] == f"{edited['prompt']['id']}@{edited['prompt']['version']}"

    assert rows[f"fb-{edited_sent['id']}"]["reference_reply"] == final_sent
    assert rows[f"fb-{edited_sent['id']}"]["labels"]["review"] == "edited"
    reject = rows[f"fb-{rejected['id']}"]
    assert reject["labels"] == {
        "intent": intent,
        "language": "en",
        "review": "rejected",
        "reject_reason": "wrong_facts",
    }
    assert "reference_reply" not in reject
    # A rejection for the wrong intent must not label the ticket with that intent.
    assert rows[f"fb-{wrong_intent['id']}"]["labels"] == {
        "language": "en",
        "review": "rejected",
        "reject_reason": "wrong_intent",
    }
    assert rows[f"fb-{wrong_intent['id']}"]["draft"]["intent"] == intent

    # The rows are a valid eval dataset.
    dataset = load_dataset(out)
    assert not dataset.errors and len(dataset.tickets) == 4
    loaded = {t.id: t for t in dataset.tickets}
    assert loaded[f"fb-{edited['id']}"].reference_reply == final
    assert loaded[f"fb-{edited['id']}"].to_ticket().order is not None

    assert await export_feedback(api.settings, tmp_path / "later.jsonl", since="2999-01-01") == 0
    assert await export_feedback(api.settings, tmp_path / "all.jsonl", since="2000-01-01T00:00:00Z") == 4
    with pytest.raises(ValueError, match="--since"):
        await export_feedback(api.settings, tmp_path / "bad.jsonl", since="last tuesday")
    assert await count_rows(api, AuditEvent) == 6 + 7  # six creates; edit, edit+sent, reject, reject, approve+sent


async def test_a_draft_never_asks_for_an_order_number_it_already_has(api: Api) -> None:
    payload = {
        "message": "Hallo, mein Wasserkocher ist mit einem Riss im Deckel angekommen.",
        "customer": {"name": "Jonas Weber", "locale": "de-DE"},
        "order": {
            "id": "TW-4821-7730",
            "status": "delivered",
            "delivered_at": "2026-11-18",
            "seller": {"id": "nordic-home", "name": "Nordic Home"},
            "payment_method": "card",
        },
    }
    draft = (await api.post("/v1/drafts", payload)).json()
    assert "TW-4821-7730" in draft["body"]
    assert "Bestellnummer schicken" not in draft["body"]  # no item name: the plain phrasing is used
    assert "beschädigt angekommen" in draft["body"]


async def test_the_quoted_policy_sentence_backs_the_reply(api: Api) -> None:
    # The order has not shipped, so the reply says it can be cancelled; the quote must not be the
    # cancellation article's "once shipped, it can no longer be cancelled" sentence.
    payload = {
        "message": "kann ich die bestellung TW-7455-3106 noch stornieren? hab den stuhl woanders günstiger gefunden",
        "customer": {"name": "Tim Neumann", "locale": "de-DE"},
        "order": {
            "id": "TW-7455-3106",
            "status": "paid",
            "placed_at": "2026-12-14",
            "seller": {"id": "pixelport", "name": "PixelPort"},
            "payment_method": "paypal",
        },
    }
    draft = (await api.post("/v1/drafts", payload)).json()
    body = draft["body"]
    assert "kostenlos stornieren" in body
    quote = body.split("heißt es dazu:", 1)[1].split("\n", 1)[0]
    assert "stornier" in quote and "nicht mehr" not in quote, quote
