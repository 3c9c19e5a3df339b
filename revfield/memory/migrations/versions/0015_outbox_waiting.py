"""Outbox items that wait for another action are ``waiting``, not ``pending``: a claim read
every pending item and rejected those whose prerequisite was not executed yet, one by one (a
follow-up waits for its email, which may sit in review for days), so its cost grew with the
follow-ups waiting. Now they become ``pending`` when their prerequisite is executed, and a
claim reads only what is due. No new index: ``ix_outbox_status_id`` serves the claim.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE outbox SET status = 'waiting' WHERE status = 'pending' AND action_id IN ("
        "SELECT a.id FROM actions a JOIN actions pre ON pre.id = a.after_action_id "
        "WHERE pre.status <> 'executed')"
    )


def downgrade() -> None:
    # before 0015 a claim skipped a pending item whose prerequisite was not executed
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'waiting'")
