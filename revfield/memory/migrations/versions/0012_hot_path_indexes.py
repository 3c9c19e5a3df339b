"""Indexes for lookups on the hot path that scanned a table growing with the book: an action's
decisions (read for the trace of every approved action) and the churn risk an action is the
save play of (read when a save play goes out). Found by reading the replay's query plans
(``tests/test_query_plans.py`` keeps them found).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decisions_action_id", "decisions", ["action_id"])
    op.create_index("ix_churn_risks_save_play_action_id", "churn_risks", ["save_play_action_id"])


def downgrade() -> None:
    op.drop_index("ix_churn_risks_save_play_action_id", table_name="churn_risks")
    op.drop_index("ix_decisions_action_id", table_name="decisions")
