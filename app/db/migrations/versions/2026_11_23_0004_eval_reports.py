"""Eval reports listed to QA over the API.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.base import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("generator", sa.String(120), nullable=True),
        sa.Column("n_tickets", sa.Integer(), nullable=False),
        sa.Column("summary", JSONType, nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.Column("directory", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_eval_reports"),
    )
    op.create_index("ix_eval_reports_created_at", "eval_reports", ["created_at"])


def downgrade() -> None:
    op.drop_table("eval_reports")
