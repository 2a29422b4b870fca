"""API keys, scopes, rate limits and CORS; the metrics summary and the Prometheus endpoint."""

from __future__ import annotations

import hashlib
import re
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import select

from app.db.base import create_engine, create_sessionmaker
from app.db.models import ApiKey
from tests.conftest import Api, start_api

MESSAGE = {"message": "Hi, my kettle arrived with a cracked lid and it leaks everywhere. I want a replacement."}

# One route per scope family: (scope that opens it, method, path, body).
FAMILIES: list[tuple[str, str, str, Any]] = [
    ("triage", "post", "/v1/triage", MESSAGE),
    ("drafts:read", "get", "/v1/tickets", None),
    ("drafts:write", "post", "/v1/tickets", MESSAGE),
    ("kb:admin", "get", "/v1/kb/documents", None),
    ("evals", "get", "/v1/evals", None),
    ("admin", "get", "/v1/keys", None),
]
# Scopes that must NOT open each family's route (kb documents are also readable by drafts:read).
WRONG = {
    "triage": ["drafts:read", "drafts:write", "kb:admin", "evals"],
    "drafts:read": ["triage", "drafts:write", "kb:admin", "evals"],
    "drafts:write": ["triage", "drafts:read", "kb:admin", "evals"],
    "kb:admin": ["triage", "drafts:write", "evals"],
    "evals": ["triage", "drafts:read", "drafts:write", "kb:admin"],
    "admin": ["triage", "drafts:read", "drafts:write", "kb:admin", "evals"],
}


async def call(
    api: Api, method: str, path: str, body: Any, key: str | None = None, headers: dict[str, str] | None = None
) -> Any:
    if key is None:  # no Authorization header at all
        return await api.client.request(method, path, json=body, headers=headers or {})
    return await api.client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {key}", **(headers or {})}
    )


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code and error["message"], error


# ---------------------------------------------------------------- authentication and scopes
async def test_every_v1_route_needs_a_key(api: Api) -> None:
    app = api.client.app
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1"):
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            for headers in (
                {},
                {"Authorization": "Bearer rdk_0123456789_not-a-real-key-at-all"},
                {"X-API-Key": "nope"},
            ):
                response = await api.client.request(method, path, json={}, headers=headers)
                assert_error(response, 401, "unauthorized")
            checked += 1
    assert checked >= 15, checked  # the walk really found the API


async def test_open_routes(api: Api) -> None:
    assert (await api.client.get("/health")).status_code == 200
    assert (await api.client.get("/ready")).status_code == 200
    assert (await api.client.get("/metrics")).status_code == 200


@pytest.mark.parametrize(("scope", "method", "path", "body"), FAMILIES, ids=[f[0] for f in FAMILIES])
async def test_scopes(api: Api, scope: str, method: str, path: str, body: Any) -> None:
    right = await api.key_with(scope)
    response = await call(api, method, path, body, right)
    assert response.status_code in (200, 201), response.text
    # X-API-Key is the other way to send a key.
    assert (await call(api, method, path, body, None, {"X-API-Key": right})).status_code in (200, 201)
    for wrong_scope in WRONG[scope]:
        wrong = await api.key_with(wrong_scope)
        assert_error(await call(api, method, path, body, wrong), 403, "forbidden")
    assert_error(await call(api, method, path, body), 401, "unauthorized")


async def test_review_and_metrics_routes_check_scopes(api: Api) -> None:
    reader, writer, evals = (
        await api.key_with("drafts:read"),
        await api.key_with("drafts:write"),
        await api.key_with("evals"),
    )
    created = await api.post("/v1/drafts", {**MESSAGE, "generator": "template"}, key=writer)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    assert_error(await api.post(f"/v1/drafts/{draft_id}/approve", key=reader), 403, "forbidden")
    assert_error(await api.post("/v1/drafts", {**MESSAGE, "generator": "template"}, key=reader), 403, "forbidden")
    assert (await api.get(f"/v1/drafts/{draft_id}/audit", key=reader)).status_code == 200
    assert_error(await api.get(f"/v1/drafts/{draft_id}/audit", key=evals), 403, "forbidden")
    assert_error(await api.get("/v1/metrics/summary", key=writer), 403, "forbidden")
    assert (await api.get("/v1/metrics/summary", key=evals)).status_code == 200
    assert (await api.post(f"/v1/drafts/{draft_id}/approve", key=writer)).status_code == 200


# ---------------------------------------------------------------- keys
async def test_keys_api_shows_the_secret_once_and_revokes(api: Api) -> None:
    created = await api.post("/v1/keys", {"name": "zendesk-webhook", "scopes": ["drafts:write", "drafts:read"]})
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("rdk_") and len(secret) > 40
    assert body["scopes"] == ["drafts:read", "drafts:write"] and body["name"] == "zendesk-webhook"

    listing = await api.get("/v1/keys")
    assert secret not in listing.text and secret.split("_", 2)[2] not in listing.text
    (info,) = [k for k in listing.json() if k["id"] == body["id"]]
    assert "secret" not in info and "secret_hash" not in info
    assert info["prefix"] == "_".join(secret.split("_")[:2])
    assert info["last_used_at"] is None and info["revoked_at"] is None

    # Used: last_used_at is set (the admin key's too).
    before = datetime.now(UTC)
    assert (await api.get("/v1/tickets", key=secret)).status_code == 200
    listing = {k["id"]: k for k in (await api.get("/v1/keys")).json()}
    assert datetime.fromisoformat(listing[body["id"]]["last_used_at"]) >= before - timedelta(seconds=1)
    assert all(k["last_used_at"] for k in listing.values() if k["name"] == "admin")

    # Only the hash is stored.
    engine = create_engine(api.settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            row = await session.get(ApiKey, body["id"])
            assert row is not None
            assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
            stored = [getattr(row, c.key) for c in ApiKey.__table__.columns]
            assert not any(secret in str(value) or secret.split("_", 2)[2] in str(value) for value in stored)
            assert len((await session.scalars(select(ApiKey))).all()) == 2
    finally:
        await engine.dispose()

    # Revoked: refused at once (by this process's key cache too).
    revoked = await api.post(f"/v1/keys/{body['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error(await api.get("/v1/tickets", key=secret), 401, "unauthorized")
    assert_error(await api.post("/v1/tickets", MESSAGE, key=secret), 401, "unauthorized")
    again = await api.post(f"/v1/keys/{info['prefix']}/revoke")  # by the prefix as listed; idempotent
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]

    assert_error(await api.post("/v1/keys/no-such-key/revoke"), 404, "not_found")
    assert_error(await api.post("/v1/keys", {"name": "x", "scopes": ["superuser"]}), 422, "validation_failed")
    assert_error(await api.post("/v1/keys", {"name": "x", "scopes": []}), 422, "validation_failed")
    writer = await api.key_with("drafts:write")
    assert_error(await api.post("/v1/keys", {"name": "escalate", "scopes": ["admin"]}, key=writer), 403, "forbidden")


# ---------------------------------------------------------------- rate limits and CORS
async def test_rate_limit_per_key(make_settings: Any) -> None:
    async for api in start_api(make_settings(rate_limit_per_minute=3)):
        for _ in range(3):
            assert (await api.get("/v1/tickets")).status_code == 200
        limited = await api.get("/v1/tickets")
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 61
        assert_error(await api.post("/v1/tickets", MESSAGE), 429, "rate_limited")
        # Another key has its own budget; open routes have none.
        other = await api.key_with("drafts:read")
        assert (await api.get("/v1/tickets", key=other)).status_code == 200
        for _ in range(5):
            assert (await api.client.get("/health")).status_code == 200


async def test_cors_closed_by_default(api: Api) -> None:
    origin = {"Origin": "https://desk.example"}
    response = await api.get("/v1/tickets", headers=origin)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await api.client.options(
        "/v1/tickets",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_when_configured(make_settings: Any) -> None:
    async for api in start_api(make_settings(cors_allow_origins=["https://desk.example"])):
        response = await api.get("/v1/tickets", headers={"Origin": "https://desk.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://desk.example"
        assert "etag" in response.headers.get("access-control-expose-headers", "").lower()
        preflight = await api.client.options(
            "/v1/drafts/x/approve",
            headers={
                "Origin": "https://desk.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, if-match",
            },
        )
        assert preflight.status_code in (200, 204), preflight.text
        assert preflight.headers["access-control-allow-origin"] == "https://desk.example"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "if-match" in allowed
        stranger = await api.get("/v1/tickets", headers={"Origin": "https://evil.example"})
        assert stranger.headers.get("access-control-allow-origin") != "https://evil.example"


# ---------------------------------------------------------------- metrics
def prometheus_value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels in any order), 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', series))
        if series.split("{")[0] == name and found == labels:
            return float(value)
    return 0.0


async def test_metrics_summary_after_scripted_reviews(api: Api) -> None:
    received = datetime.now(UTC) - timedelta(minutes=90)
    ids: list[str] = []
    for i in range(8):
        payload = {**MESSAGE, "external_id": f"m-{i}", "received_at": received.isoformat(), "generator": "template"}
        response = await api.post("/v1/drafts", payload)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    scrape_before = (await api.client.get("/metrics")).text

    reviews: dict[str, Any] = {}
    for draft_id in ids[:2]:
        reviews[draft_id] = (await api.post(f"/v1/drafts/{draft_id}/approve")).json()
    for draft_id, extra in zip(
        ids[2:4], ("\nWe will refund the shipping too.", "\nThanks for your patience!"), strict=True
    ):
        body = (await api.get(f"/v1/drafts/{draft_id}")).json()["body"]
        reviews[draft_id] = (await api.post(f"/v1/drafts/{draft_id}/edit", {"body": body + extra})).json()
    for draft_id, reason in zip(ids[4:7], ("wrong_policy", "tone", "tone"), strict=True):
        reviews[draft_id] = (await api.post(f"/v1/drafts/{draft_id}/reject", {"reason": reason})).json()
    assert (await api.post(f"/v1/drafts/{ids[0]}/sent")).status_code == 200
    # ids[7] stays unreviewed.

    response = await api.get("/v1/metrics/summary")
    assert response.status_code == 200, response.text
    overall = response.json()["overall"]
    edits = [reviews[i]["edit_distance"] for i in ids[2:4]]
    assert overall["drafts_created"] == 8 and overall["reviewed"] == 7
    assert overall["acceptance_rate"] == round(2 / 7, 4)
    assert overall["edit_rate"] == round(2 / 7, 4)
    assert overall["rejection_rate"] == round(3 / 7, 4)
    assert (
        overall["mean_edit_distance"] == pytest.approx(statistics.fmean(edits), abs=1e-4)
        and overall["mean_edit_distance"] > 0
    )
    assert overall["rejection_reasons"] == {"tone": 2, "wrong_policy": 1}
    assert overall["sent"] == 1 and overall["llm_fallbacks"] == 0 and overall["cost_usd"] == 0
    assert overall["median_first_response_minutes"] == pytest.approx(90, abs=1.5)
    # SLA, from the stored due times: answered tickets are met or missed, open ones count once overdue.
    now = datetime.now(UTC)
    sla_total = sla_met = 0
    for i, draft_id in enumerate(ids):
        draft = reviews.get(draft_id) or (await api.get(f"/v1/drafts/{draft_id}")).json()
        due = datetime.fromisoformat((await api.get(f"/v1/tickets/{draft['ticket_id']}")).json()["sla_due_at"])
        if i < 4:
            sla_total += 1
            sla_met += datetime.fromisoformat(draft["reviewed_at"]) <= due
        elif due <= now:
            sla_total += 1
    assert overall["sla_tickets"] == sla_total >= 4
    assert overall["sla_adherence"] == round(sla_met / sla_total, 4)

    by_generator = (await api.get("/v1/metrics/summary", params={"group_by": "generator"})).json()
    assert by_generator["group_by"] == "generator" and set(by_generator["groups"]) == {"template"}
    assert by_generator["groups"]["template"] == overall
    by_intent = (await api.get("/v1/metrics/summary", params={"group_by": "intent"})).json()
    assert sum(g["drafts_created"] for g in by_intent["groups"].values()) == 8
    by_language = (await api.get("/v1/metrics/summary", params={"group_by": "language"})).json()
    assert by_language["groups"]["en"]["reviewed"] == 7

    past = (
        await api.get("/v1/metrics/summary", params={"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"})
    ).json()
    assert past["overall"]["drafts_created"] == 0 and past["overall"]["acceptance_rate"] is None
    assert_error(await api.get("/v1/metrics/summary", params={"group_by": "colour"}), 422, "validation_failed")
    assert_error(
        await api.get("/v1/metrics/summary", params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        422,
        "validation_failed",
    )

    # Prometheus: gauges from the database, counters that moved with the requests above.
    scrape = await api.client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert "# TYPE replydesk_drafts_by_state gauge" in text and "# TYPE replydesk_http_requests_total counter" in text
    states = {
        s: prometheus_value(text, "replydesk_drafts_by_state", state=s)
        for s in ("suggested", "approved", "edited", "rejected", "sent")
    }
    assert states == {"suggested": 1, "approved": 1, "edited": 2, "rejected": 3, "sent": 1}
    for action, count in (("approve", 2), ("edit", 2), ("reject", 3), ("sent", 1)):
        moved = prometheus_value(text, "replydesk_review_actions_total", action=action) - prometheus_value(
            scrape_before, "replydesk_review_actions_total", action=action
        )
        assert moved == count, action
    route = "/v1/drafts/{draft_id}/reject"
    moved = prometheus_value(
        text, "replydesk_http_requests_total", method="POST", route=route, status="200"
    ) - prometheus_value(scrape_before, "replydesk_http_requests_total", method="POST", route=route, status="200")
    assert moved == 3
    assert prometheus_value(text, "replydesk_http_request_seconds_count", method="POST", route=route) >= 3
    assert prometheus_value(text, "replydesk_drafts_created_total", generator="template") >= 8
    assert "draft_id=" not in text and ids[0] not in text  # ids never become label values
