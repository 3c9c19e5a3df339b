"""Decisions: every policy decision with its rule trace, policy version and context.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("deal_id", sa.String(128), sa.ForeignKey("deals.id"), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("action_kind", sa.String(64), nullable=False),
        sa.Column("motion", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("matched_rules", JSONType, nullable=False),
        sa.Column("guardrails", JSONType, nullable=False),
        sa.Column("errors", JSONType, nullable=False),
        sa.Column("missing_criteria", JSONType, nullable=False),
        sa.Column("escalate_to", sa.String(32), nullable=True),
        sa.Column("policy_version", sa.String(80), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("context", JSONType, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_decisions_account_id_decided_at", "decisions", ["account_id", "decided_at"])
    op.create_index("ix_decisions_contact_id_decided_at", "decisions", ["contact_id", "decided_at"])
    op.create_index(
        "ix_decisions_motion_verdict_decided_at", "decisions", ["motion", "verdict", "decided_at"]
    )


def downgrade() -> None:
    op.drop_table("decisions")
