"""Rows as older versions of Replydesk wrote them, for migration tests on SQLite and PostgreSQL.

The tables below are frozen copies of what migrations 0001 and 0002 create (not the current
models, which have columns those databases did not have yet).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.db.base import Base, JSONType, UTCDateTime, create_engine
from app.db.migrate import alembic_config, upgrade

_old = sa.MetaData()

TRIAGE_0001 = sa.Table(
    "triage_records",
    _old,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("external_id", sa.String(200)),
    sa.Column("channel", sa.String(32)),
    sa.Column("message", sa.Text()),
    sa.Column("subject", sa.Text()),
    sa.Column("request", JSONType),
    sa.Column("result", JSONType),
    sa.Column("intent", sa.String(64)),
    sa.Column("urgency", sa.String(16)),
    sa.Column("sentiment", sa.String(16)),
    sa.Column("language", sa.String(8)),
    sa.Column("escalate", sa.Boolean()),
    sa.Column("model_version", sa.String(120)),
    sa.Column("latency_ms", sa.Float()),
)

TICKETS_0002 = sa.Table(
    "tickets",
    _old,
    *(
        sa.Column(name, type_)
        for name, type_ in [
            ("id", sa.String(36)),
            ("created_at", UTCDateTime()),
            ("updated_at", UTCDateTime()),
            ("source", sa.String(64)),
            ("external_id", sa.String(200)),
            ("channel", sa.String(32)),
            ("subject", sa.Text()),
            ("message", sa.Text()),
            ("customer", JSONType),
            ("order", JSONType),
            ("history", JSONType),
            ("received_at", UTCDateTime()),
            ("language", sa.String(8)),
            ("intent", sa.String(64)),
            ("urgency", sa.String(16)),
            ("sla_due_at", UTCDateTime()),
            ("triage", JSONType),
            ("triage_id", sa.String(36)),
        ]
    ),
)

DRAFTS_0002 = sa.Table(
    "drafts",
    _old,
    *(
        sa.Column(name, type_)
        for name, type_ in [
            ("id", sa.String(36)),
            ("created_at", UTCDateTime()),
            ("updated_at", UTCDateTime()),
            ("ticket_id", sa.String(36)),
            ("state", sa.String(16)),
            ("version", sa.Integer()),
            ("body", sa.Text()),
            ("language", sa.String(8)),
            ("intent", sa.String(64)),
            ("instructions", JSONType),
            ("citations", JSONType),
            ("passages", JSONType),
            ("facts", JSONType),
            ("findings", JSONType),
            ("translation", JSONType),
            ("prompt_id", sa.String(120)),
            ("prompt_version", sa.String(32)),
            ("generator", sa.String(120)),
            ("fallback_reason", sa.Text()),
            ("prompt_tokens", sa.Integer()),
            ("completion_tokens", sa.Integer()),
            ("cost_usd", sa.Float()),
            ("latency", JSONType),
            ("triage", JSONType),
        ]
    ),
)

WHEN = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)
TABLES_AT_HEAD = {
    "alembic_version",
    "triage_records",
    "tickets",
    "drafts",
    "audit_events",
    "api_keys",
    "idempotency_keys",
    "eval_reports",
}
LEGACY_TICKET_ID = "11111111-1111-1111-1111-111111111111"
LEGACY_DRAFT_ID = "22222222-2222-2222-2222-222222222222"
LEGACY_BODY = "Dear Maria, we are sorry about the kettle. A replacement is on its way."


def triage_rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "id": f"00000000-0000-0000-0000-00000000000{i}",
            "created_at": WHEN,
            "external_id": f"legacy-{i}",
            "channel": "email",
            "message": f"Where is my parcel number {i}? — ¿dónde está?",
            "subject": None,
            "request": {"message": f"Where is my parcel number {i}?", "nested": {"list": [1, 2, i]}},
            "result": {"intent": {"label": "order_status", "confidence": 0.9}},
            "intent": "order_status",
            "urgency": "normal",
            "sentiment": "neutral",
            "language": "en",
            "escalate": i == 2,
            "model_version": "triage-2026.11",
            "latency_ms": 3.5 + i,
        }
        for i in range(1, n + 1)
    ]


def migrate_to(url: str, revision: str) -> None:
    """Upgrade to ``revision`` (synchronous: Alembic's env runs its own event loop)."""
    upgrade(url, revision)


def downgrade_to(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def run_sync(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def seed_0001(url: str) -> list[dict[str, Any]]:
    rows = triage_rows()
    await run_sync(url, lambda c: c.execute(TRIAGE_0001.insert(), rows))
    return rows


async def seed_0002(url: str) -> None:
    ticket = {
        "id": LEGACY_TICKET_ID,
        "created_at": WHEN,
        "updated_at": WHEN,
        "source": "api",
        "external_id": "legacy-ticket",
        "channel": "email",
        "subject": "Broken kettle",
        "message": "My kettle arrived broken.",
        "customer": {"name": "Maria"},
        "order": {"id": "TW-1"},
        "history": [],
        "received_at": WHEN,
        "language": "en",
        "intent": "damaged_item",
        "urgency": "normal",
        "sla_due_at": None,
        "triage": None,
        "triage_id": None,
    }
    draft = {
        "id": LEGACY_DRAFT_ID,
        "created_at": WHEN,
        "updated_at": WHEN,
        "ticket_id": LEGACY_TICKET_ID,
        "state": "suggested",
        "version": 1,
        "body": LEGACY_BODY,
        "language": "en",
        "intent": "damaged_item",
        "instructions": [],
        "citations": [],
        "passages": [],
        "facts": {},
        "findings": [],
        "translation": None,
        "prompt_id": "reply/en",
        "prompt_version": "2026.11",
        "generator": "template",
        "fallback_reason": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "latency": {"total_ms": 12.5},
        "triage": None,
    }

    def insert(connection: Connection) -> None:
        connection.execute(TICKETS_0002.insert(), [ticket])
        connection.execute(DRAFTS_0002.insert(), [draft])

    await run_sync(url, insert)


def table_names(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def schema_diffs(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
    return list(compare_metadata(context, Base.metadata))


async def assert_history_survived(url: str, triage: list[dict[str, Any]]) -> None:
    """The rows written at 0001 and 0002 are intact at head, with the new columns empty."""

    def check(connection: Connection) -> None:
        assert table_names(connection) >= TABLES_AT_HEAD
        records = Base.metadata.tables["triage_records"]
        stored = {r.id: r for r in connection.execute(sa.select(records).order_by(records.c.id))}
        assert sorted(stored) == [r["id"] for r in triage]
        for row in triage:
            got = stored[row["id"]]
            for key, value in row.items():
                assert getattr(got, key) == value, (key, getattr(got, key), value)
            assert got.api_key_id is None
        drafts = Base.metadata.tables["drafts"]
        (draft,) = connection.execute(sa.select(drafts)).all()
        assert (draft.id, draft.state, draft.version, draft.body) == (LEGACY_DRAFT_ID, "suggested", 1, LEGACY_BODY)
        assert draft.latency == {"total_ms": 12.5} and draft.created_at == WHEN
        assert draft.final_body is None and draft.reviewed_at is None and draft.edit_distance is None
        tickets = Base.metadata.tables["tickets"]
        (ticket,) = connection.execute(sa.select(tickets)).all()
        assert ticket.customer == {"name": "Maria"} and ticket.received_at == WHEN

    await run_sync(url, check)


async def migrate_from_first_revision(url: str) -> list[dict[str, Any]]:
    """0001 → rows → 0002 → rows → head, as an upgrading installation would."""
    await asyncio.to_thread(migrate_to, url, "0001")
    assert await run_sync(url, table_names) == {"alembic_version", "triage_records"}
    triage = await seed_0001(url)
    await asyncio.to_thread(migrate_to, url, "0002")
    await seed_0002(url)
    await asyncio.to_thread(migrate_to, url, "head")
    await assert_history_survived(url, triage)
    return triage
