"""Motion budgets as a counter per motion and day: a decision that would automate a budgeted
motion takes a slot with one short update, instead of every such decision holding the motion's
lock until its transaction commits (which made workers for different accounts wait in line).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "motion_budget_days",
        sa.Column("motion", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("spent", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("motion", "day", name="pk_motion_budget_days"),
    )


def downgrade() -> None:
    op.drop_table("motion_budget_days")
