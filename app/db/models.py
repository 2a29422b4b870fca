"""All tables. Columns mirror the API's typed results; the full typed result is also kept as JSON
so nothing a later feature needs is lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, JSONType, UTCDateTime, new_id, utcnow


class TriageRecord(Base):
    """Every triage request and its result (migration 0001)."""

    __tablename__ = "triage_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    intent: Mapped[str] = mapped_column(String(64), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    sentiment: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(120))
    latency_ms: Mapped[float] = mapped_column(Float)
    api_key_id: Mapped[str | None] = mapped_column(String(36))  # migration 0003


class Ticket(Base):
    """A buyer conversation as the helpdesk knows it (migration 0002)."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    source: Mapped[str] = mapped_column(String(64), default="api")
    external_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    order: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    language: Mapped[str | None] = mapped_column(String(8))
    intent: Mapped[str | None] = mapped_column(String(64), index=True)
    urgency: Mapped[str | None] = mapped_column(String(16))
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    triage_id: Mapped[str | None] = mapped_column(String(36))

    drafts: Mapped[list[Draft]] = relationship(back_populates="ticket", order_by="Draft.created_at")


class Draft(Base):
    """A generated reply and its review state (migration 0002; review columns 0003)."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="suggested", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    intent: Mapped[str | None] = mapped_column(String(64), index=True)
    instructions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    passages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    translation: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prompt_id: Mapped[str] = mapped_column(String(120))
    prompt_version: Mapped[str] = mapped_column(String(32))
    generator: Mapped[str] = mapped_column(String(120))
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Review (migration 0003)
    final_body: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column(Float)
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    reject_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket | None] = relationship(back_populates="drafts")


class AuditEvent(Base):
    """Append-only log of every action on a draft (migration 0003)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_draft_at", "draft_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    ticket_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    draft_version: Mapped[int] = mapped_column(Integer)
    before_body: Mapped[str | None] = mapped_column(Text)
    after_body: Mapped[str | None] = mapped_column(Text)
    diff: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    prompt_version: Mapped[str | None] = mapped_column(String(160))
    model: Mapped[str | None] = mapped_column(String(120))


class ApiKey(Base):
    """API keys: only a hash of the secret is stored (migration 0003)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """Responses remembered per Idempotency-Key so retried webhooks never create twins (0003)."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    route: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EvalReportRecord(Base):
    """An eval run's report, listed to QA over the API (migration 0004)."""

    __tablename__ = "eval_reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    name: Mapped[str] = mapped_column(String(200))
    dataset: Mapped[str] = mapped_column(Text)
    generator: Mapped[str | None] = mapped_column(String(120))
    n_tickets: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    directory: Mapped[str | None] = mapped_column(Text)
