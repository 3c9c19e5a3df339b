"""Detection: field events, which signals went through detection, and model calls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "field_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("signal_ids", JSONType, nullable=False),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("deal_id", sa.String(128), sa.ForeignKey("deals.id"), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_field_events_account_id_kind_key", "field_events", ["account_id", "kind", "key"]
    )
    op.create_index("ix_field_events_status_id", "field_events", ["status", "id"])
    op.create_table(
        "signal_detections",
        sa.Column("signal_id", BigId, sa.ForeignKey("signals.id"), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "model_calls",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("signal_id", BigId, sa.ForeignKey("signals.id"), nullable=True, index=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_calls")
    op.drop_table("signal_detections")
    op.drop_table("field_events")
