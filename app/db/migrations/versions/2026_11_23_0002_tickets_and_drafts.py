"""Tickets and drafts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.base import JSONType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("customer", JSONType, nullable=True),
        sa.Column("order", JSONType, nullable=True),
        sa.Column("history", JSONType, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("urgency", sa.String(16), nullable=True),
        sa.Column("sla_due_at", UTCDateTime(), nullable=True),
        sa.Column("triage", JSONType, nullable=True),
        sa.Column("triage_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),
    )
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_tickets_intent", "tickets", ["intent"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("instructions", JSONType, nullable=False),
        sa.Column("citations", JSONType, nullable=False),
        sa.Column("passages", JSONType, nullable=False),
        sa.Column("facts", JSONType, nullable=False),
        sa.Column("findings", JSONType, nullable=False),
        sa.Column("translation", JSONType, nullable=True),
        sa.Column("prompt_id", sa.String(120), nullable=False),
        sa.Column("prompt_version", sa.String(32), nullable=False),
        sa.Column("generator", sa.String(120), nullable=False),
        sa.Column("fallback_reason", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency", JSONType, nullable=False),
        sa.Column("triage", JSONType, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_drafts_ticket_id_tickets", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
    )
    op.create_index("ix_drafts_created_at", "drafts", ["created_at"])
    op.create_index("ix_drafts_ticket_id", "drafts", ["ticket_id"])
    op.create_index("ix_drafts_state", "drafts", ["state"])
    op.create_index("ix_drafts_intent", "drafts", ["intent"])


def downgrade() -> None:
    op.drop_table("drafts")
    op.drop_table("tickets")
