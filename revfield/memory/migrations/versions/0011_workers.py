"""Workers: one row per ``revfield worker`` process (its heartbeat, and the database session
that holds its claims, so a worker that stopped beating can be cut off and its claims taken
over), and the schedule of the sweeps that run once per period whichever worker runs them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("backend_pid", sa.Integer, nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("beat_at", UTC_TIME, nullable=False),
        sa.Column("stopped_at", UTC_TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_index("ix_workers_status_beat_at", "workers", ["status", "beat_at"])
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_at", UTC_TIME, nullable=False),
        sa.Column("worker_id", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_index("ix_workers_status_beat_at", table_name="workers")
    op.drop_table("workers")
