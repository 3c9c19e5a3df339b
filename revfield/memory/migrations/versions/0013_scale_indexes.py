"""Indexes for lookups whose cost grew with the book at 16× the demo's (found by timing every
statement of the replay at 1× and 16× and reading the plans): what waits for an action (read
on every reject, block or failed send), an account's open deals (read by every agent run),
and the inbox's page of pending items in deadline order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_actions_after_action_id", "actions", ["after_action_id"])
    op.create_index("ix_deals_account_id_outcome", "deals", ["account_id", "outcome"])
    op.create_index("ix_reviews_status_deadline_at_id", "reviews", ["status", "deadline_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_reviews_status_deadline_at_id", table_name="reviews")
    op.drop_index("ix_deals_account_id_outcome", table_name="deals")
    op.drop_index("ix_actions_after_action_id", table_name="actions")
