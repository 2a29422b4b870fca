"""Triage records: every triage request and its result.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.base import JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("request", JSONType, nullable=False),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("escalate", sa.Boolean(), nullable=False),
        sa.Column("model_version", sa.String(120), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triage_records"),
    )
    op.create_index("ix_triage_records_created_at", "triage_records", ["created_at"])
    op.create_index("ix_triage_records_external_id", "triage_records", ["external_id"])
    op.create_index("ix_triage_records_intent", "triage_records", ["intent"])


def downgrade() -> None:
    op.drop_table("triage_records")
