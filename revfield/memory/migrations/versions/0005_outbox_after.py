"""Outbox items that wait for another action: a follow-up goes out only after its email.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("after_action_id", BigId, nullable=True))
        batch.create_foreign_key(
            "fk_outbox_after_action_id", "actions", ["after_action_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_after_action_id", type_="foreignkey")
        batch.drop_column("after_action_id")
