"""Actions, reviews, the outbox and the audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("deal_id", sa.String(128), sa.ForeignKey("deals.id"), nullable=True),
        sa.Column("field_event_id", BigId, sa.ForeignKey("field_events.id"), nullable=True),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("motion", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("proposal", JSONType, nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("thread_id", sa.String(120), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint("field_event_id", "agent", "kind", "target"),
    )
    op.create_index("ix_actions_account_id_created_at", "actions", ["account_id", "created_at"])
    op.create_index("ix_actions_status", "actions", ["status"])
    op.create_table(
        "reviews",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("action_id", BigId, sa.ForeignKey("actions.id"), nullable=False, index=True),
        sa.Column("decision_id", BigId, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("assignee_role", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.String(64), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action_digest", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        ts("deadline_at"),
        ts("created_at"),
        ts("answered_at", nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("edits", JSONType, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_reviews_status_assignee_role", "reviews", ["status", "assignee_role"])
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("action_id", BigId, sa.ForeignKey("actions.id"), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
        sa.Column("executor", sa.String(32), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        ts("claimed_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", JSONType, nullable=True),
        ts("created_at"),
        ts("executed_at", nullable=True),
    )
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        ts("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("action_id", BigId, sa.ForeignKey("actions.id"), nullable=True),
        sa.Column("review_id", BigId, sa.ForeignKey("reviews.id"), nullable=True),
        sa.Column("detail", JSONType, nullable=False),
    )
    op.create_index("ix_audit_log_account_id_at", "audit_log", ["account_id", "at"])


def downgrade() -> None:
    for table in ("audit_log", "outbox", "reviews", "actions"):
        op.drop_table(table)
