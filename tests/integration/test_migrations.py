"""Alembic migrations on SQLite: upgrade from the first revision keeps rows, models match the
migrated schema, and downgrade to base works. (tests/integration/test_postgres.py runs the same
history against PostgreSQL.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text

from app.db.base import create_engine
from app.db.migrate import current_revision, head_revision
from tests.conftest import start_api
from tests.support.history import (
    LEGACY_BODY,
    LEGACY_DRAFT_ID,
    TABLES_AT_HEAD,
    TRIAGE_0001,
    downgrade_to,
    migrate_from_first_revision,
    migrate_to,
    run_sync,
    schema_diffs,
    table_names,
)


def sqlite_url(tmp_path: Path, name: str = "replydesk.db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'nested' / name}"


async def test_upgrade_from_first_migration_keeps_rows(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await migrate_from_first_revision(url)
    assert await current_revision(url) == head_revision() == "0004"
    # Upgrading an up-to-date database is a no-op.
    await asyncio.to_thread(migrate_to, url, "head")
    assert await current_revision(url) == "0004"
    assert await run_sync(url, lambda c: c.scalar(sa.select(sa.func.count()).select_from(TRIAGE_0001))) == 3


async def test_migrated_rows_work_with_the_current_app(make_settings: Any, tmp_path: Path) -> None:
    """A draft written before the review workflow existed can be reviewed after the upgrade."""
    url = sqlite_url(tmp_path, "upgraded.db")
    await migrate_from_first_revision(url)
    async for api in start_api(make_settings(database_url=url)):
        draft = (await api.get(f"/v1/drafts/{LEGACY_DRAFT_ID}")).json()
        assert draft["body"] == LEGACY_BODY and draft["state"] == "suggested" and draft["final_body"] is None
        approved = await api.post(f"/v1/drafts/{LEGACY_DRAFT_ID}/approve", headers={"If-Match": '"1"'})
        assert approved.status_code == 200, approved.text
        assert approved.json()["final_body"] == LEGACY_BODY and approved.headers["etag"] == '"2"'
        (event,) = (await api.get(f"/v1/drafts/{LEGACY_DRAFT_ID}/audit")).json()
        assert (event["action"], event["from_state"], event["to_state"]) == ("approve", "suggested", "approved")
        assert event["prompt_version"] == "reply/en@2026.11"
        ticket = (
            await api.post("/v1/tickets", {"message": "My kettle arrived broken.", "external_id": "legacy-ticket"})
        ).json()
        assert ticket["id"] == "11111111-1111-1111-1111-111111111111"  # the old ticket, not a twin
        assert (await api.client.get("/ready")).json()["ready"] is True


async def test_models_equal_the_migrated_schema(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await asyncio.to_thread(migrate_to, url, "head")
    assert await run_sync(url, table_names) == TABLES_AT_HEAD
    assert await run_sync(url, schema_diffs) == []


async def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    triage = await migrate_from_first_revision(url)

    # Back to 0001: the later tables go, the triage rows (and their table's old shape) stay.
    await asyncio.to_thread(downgrade_to, url, "0001")
    assert await current_revision(url) == "0001"
    assert await run_sync(url, table_names) == {"alembic_version", "triage_records"}
    columns = await run_sync(url, lambda c: {col["name"] for col in sa.inspect(c).get_columns("triage_records")})
    assert columns == {c.name for c in TRIAGE_0001.columns}
    ids = await run_sync(
        url, lambda c: [r.id for r in c.execute(sa.select(TRIAGE_0001.c.id).order_by(TRIAGE_0001.c.id))]
    )
    assert ids == [r["id"] for r in triage]

    await asyncio.to_thread(downgrade_to, url, "base")
    assert await current_revision(url) is None
    assert await run_sync(url, table_names) == {"alembic_version"}

    await asyncio.to_thread(migrate_to, url, "head")
    assert await current_revision(url) == "0004"
    assert await run_sync(url, schema_diffs) == []


async def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await asyncio.to_thread(migrate_to, url, "head")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
