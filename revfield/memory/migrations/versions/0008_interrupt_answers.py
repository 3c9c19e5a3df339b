"""Answers given to review items' interrupts from LangGraph clients, kept so a replayed run
reuses them (one typed interrupt per review item).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "interrupt_answers",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("review_id", BigId, sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("interrupt_answers")
