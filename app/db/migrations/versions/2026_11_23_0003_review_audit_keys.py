"""Review workflow: draft review columns, audit events, API keys, idempotency keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.base import JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("final_body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("edit_distance", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reject_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reject_comment", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(120), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sent_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("triage_records") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(36), nullable=True))
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=False),
        sa.Column("before_body", sa.Text(), nullable=True),
        sa.Column("after_body", sa.Text(), nullable=True),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("edit_distance", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("prompt_version", sa.String(160), nullable=True),
        sa.Column("model", sa.String(120), nullable=True),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name="fk_audit_events_draft_id_drafts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_ticket_id", "audit_events", ["ticket_id"])
    op.create_index("ix_audit_events_draft_at", "audit_events", ["draft_id", "id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("api_key_id", sa.String(36), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", "api_key_id", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("api_keys")
    op.drop_table("audit_events")
    with op.batch_alter_table("triage_records") as batch:
        batch.drop_column("api_key_id")
    with op.batch_alter_table("drafts") as batch:
        for column in ("sent_at", "reviewed_at", "reviewed_by", "reject_comment", "reject_reason", "edit_distance", "final_body"):
            batch.drop_column(column)
