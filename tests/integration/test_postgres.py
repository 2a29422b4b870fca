"""The same database code against PostgreSQL: migrations from 0001, the review flow, concurrency.

Needs ``REPLYDESK_TEST_POSTGRES_URL`` = a ``postgresql+asyncpg://`` URL of an empty database that
these tests may fill and empty again (each test starts from, and ends at, migration base).
Skipped when it is unset. A throwaway server for it (Debian, as root)::

    PGBIN=/usr/lib/postgresql/15/bin PGDIR=/tmp/replydesk-pg
    mkdir -p $PGDIR && chown postgres:postgres $PGDIR
    runuser -u postgres -- $PGBIN/initdb -D $PGDIR/data -U postgres --auth=trust
    runuser -u postgres -- $PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -o "-h 127.0.0.1 -p 55432 -k $PGDIR" -w start
    runuser -u postgres -- $PGBIN/createdb -h 127.0.0.1 -p 55432 -U postgres replydesk_test
    REPLYDESK_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:55432/replydesk_test pytest -m postgres
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from app.db.migrate import current_revision
from tests.conftest import create_key
from tests.support.history import (
    TABLES_AT_HEAD,
    downgrade_to,
    migrate_from_first_revision,
    migrate_to,
    run_sync,
    schema_diffs,
    table_names,
)
from tests.support.live_server import live_server

PG_URL = os.environ.get("REPLYDESK_TEST_POSTGRES_URL", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="set REPLYDESK_TEST_POSTGRES_URL to a postgresql+asyncpg URL of an empty database"
    ),
]

TICKET = {
    "message": "Hi, my kettle arrived with a cracked lid and it leaks everywhere. I want a replacement or my money back.",
    "subject": "Broken kettle",
    "order": {
        "id": "TW-4821-7730",
        "status": "delivered",
        "delivered_at": "2026-11-18",
        "seller": {"id": "nordic-home"},
    },
}


async def _reset() -> None:
    """Back to an empty database; refuse to touch one that holds tables that are not ours."""
    tables = await run_sync(PG_URL, table_names)
    if tables - TABLES_AT_HEAD:
        pytest.fail(
            f"REPLYDESK_TEST_POSTGRES_URL must point to an empty database; it has {sorted(tables - TABLES_AT_HEAD)}"
        )
    if "alembic_version" in tables:
        await asyncio.to_thread(downgrade_to, PG_URL, "base")
        await run_sync(PG_URL, lambda c: c.execute(sa.text("DROP TABLE alembic_version")))
    assert await run_sync(PG_URL, table_names) == set()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    assert PG_URL.startswith("postgresql+asyncpg://"), "REPLYDESK_TEST_POSTGRES_URL must use the asyncpg driver"
    await _reset()
    yield PG_URL
    await _reset()


async def test_migrations_from_first_revision_keep_rows(pg_url: str) -> None:
    await migrate_from_first_revision(pg_url)
    assert await current_revision(pg_url) == "0004"
    assert await run_sync(pg_url, schema_diffs) == []
    assert await run_sync(pg_url, lambda c: c.dialect.name) == "postgresql"
    await asyncio.to_thread(downgrade_to, pg_url, "0001")
    assert await run_sync(pg_url, table_names) == {"alembic_version", "triage_records"}
    assert await run_sync(pg_url, lambda c: c.scalar(sa.text("SELECT count(*) FROM triage_records"))) == 3


async def test_review_flow_and_concurrency(pg_url: str, make_settings: Any) -> None:
    settings = make_settings(database_url=pg_url, database_pool_size=10)
    await asyncio.to_thread(migrate_to, pg_url, "head")
    headers = {"Authorization": f"Bearer {await create_key(settings, ['drafts:read', 'drafts:write'], name='agents')}"}

    async with live_server(settings) as client:
        # Tickets: idempotent on external id, also under simultaneous retries.
        first = await client.post("/v1/tickets", json={**TICKET, "external_id": "pg-1"}, headers=headers)
        assert first.status_code == 201, first.text
        retries = await asyncio.gather(
            *(client.post("/v1/tickets", json={**TICKET, "external_id": "pg-1"}, headers=headers) for _ in range(10))
        )
        assert {r.status_code for r in retries} == {200} and {r.json()["id"] for r in retries} == {first.json()["id"]}
        racing = await asyncio.gather(
            *(client.post("/v1/tickets", json={**TICKET, "external_id": "pg-2"}, headers=headers) for _ in range(20))
        )
        assert Counter(r.status_code for r in racing) == {201: 1, 200: 19}, [
            r.text for r in racing if r.status_code >= 500
        ][:1]
        assert len({r.json()["id"] for r in racing}) == 1
        keyed = {**headers, "Idempotency-Key": "pg-retry-storm"}
        by_key = await asyncio.gather(*(client.post("/v1/tickets", json=TICKET, headers=keyed) for _ in range(20)))
        statuses = Counter(r.status_code for r in by_key)
        assert statuses[201] >= 1 and set(statuses) <= {201, 409}, statuses
        replay = await client.post("/v1/tickets", json=TICKET, headers=keyed)
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"

        # Draft, approve with If-Match, stale If-Match, sent, audit.
        created = await client.post(
            f"/v1/tickets/{first.json()['id']}/drafts", json={"generator": "template"}, headers=headers
        )
        assert created.status_code == 201 and created.headers["etag"] == '"1"', created.text
        draft = created.json()
        approved = await client.post(f"/v1/drafts/{draft['id']}/approve", headers={**headers, "If-Match": '"1"'})
        assert approved.status_code == 200 and approved.json()["edit_distance"] == 0.0, approved.text
        stale = await client.post(
            f"/v1/drafts/{draft['id']}/edit", json={"body": "late"}, headers={**headers, "If-Match": '"1"'}
        )
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
        assert (
            await client.post(f"/v1/drafts/{draft['id']}/sent", headers={**headers, "If-Match": '"2"'})
        ).status_code == 200
        trail = (await client.get(f"/v1/drafts/{draft['id']}/audit", headers=headers)).json()
        assert [(e["action"], e["from_state"], e["to_state"]) for e in trail] == [
            ("create", None, "suggested"),
            ("approve", "suggested", "approved"),
            ("sent", "approved", "sent"),
        ]

        edited = (await client.post("/v1/drafts", json={**TICKET, "generator": "template"}, headers=headers)).json()
        response = await client.post(
            f"/v1/drafts/{edited['id']}/edit", json={"body": edited["body"] + "\nP.S. Sorry!"}, headers=headers
        )
        assert response.status_code == 200 and 0 < response.json()["edit_distance"] < 1
        rejected = (await client.post("/v1/drafts", json={**TICKET, "generator": "template"}, headers=headers)).json()
        response = await client.post(f"/v1/drafts/{rejected['id']}/reject", json={"reason": "bogus"}, headers=headers)
        assert response.status_code == 422
        response = await client.post(f"/v1/drafts/{rejected['id']}/reject", json={"reason": "tone"}, headers=headers)
        assert response.status_code == 200 and response.json()["reject_reason"] == "tone"

        # 20 agents at once on one draft: one wins, the audit trail agrees, nothing 5xx.
        target = (await client.post("/v1/drafts", json={**TICKET, "generator": "template"}, headers=headers)).json()

        def attempt(i: int) -> Any:
            agent = {**headers, "X-Agent-Id": f"agent-{i}"}
            if i % 2:
                return client.post(
                    f"/v1/drafts/{target['id']}/edit",
                    json={"body": f"Reply by agent {i}."},
                    headers={**agent, "If-Match": '"1"'},
                )
            return client.post(f"/v1/drafts/{target['id']}/approve", headers=agent)

        responses = await asyncio.gather(*(attempt(i) for i in range(20)))
        assert Counter(r.status_code for r in responses) == {200: 1, 409: 19}
        (winner,) = [r.json() for r in responses if r.status_code == 200]
        final = (await client.get(f"/v1/drafts/{target['id']}", headers=headers)).json()
        assert final == winner and final["version"] == 2
        reviews = [
            e
            for e in (await client.get(f"/v1/drafts/{target['id']}/audit", headers=headers)).json()
            if e["action"] != "create"
        ]
        assert (
            len(reviews) == 1
            and reviews[0]["actor"] == winner["reviewed_by"]
            and reviews[0]["to_state"] == winner["state"]
        )

    def counts(connection: Any) -> dict[str, int]:
        return {
            t: connection.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in ("tickets", "drafts", "audit_events")
        }

    # Tickets: pg-1, pg-2, the keyed one, and one per POST /v1/drafts without external id (3).
    # Audit: create per draft (4) + approve, sent, edit, reject, one race winner.
    assert await run_sync(pg_url, counts) == {"tickets": 6, "drafts": 4, "audit_events": 9}
