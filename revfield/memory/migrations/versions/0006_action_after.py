""" "Waits for" is stored once, on the action, when it is recorded (it was worked out again at
queue time, at review time and in the outbox sweep): ``actions.after_action_id`` replaces
``outbox.after_action_id``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FK = "fk_actions_after_action_id_actions"


def _proposal(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("after_action_id", BigId, nullable=True))
        batch.create_foreign_key(FK, "actions", ["after_action_id"], ["id"])
    conn = op.get_bind()
    # An action waits for the same run's action of the kind its proposal names in `after`.
    rows = conn.execute(
        sa.text("SELECT id, field_event_id, agent, kind, proposal FROM actions")
    ).all()
    runs: dict[tuple[Any, str, str], int] = {}
    for r in rows:
        runs.setdefault((r.field_event_id, r.agent, r.kind), r.id)
    links = []
    for r in rows:
        after = _proposal(r.proposal).get("after")
        if after and (pre := runs.get((r.field_event_id, r.agent, after))) not in (None, r.id):
            links.append({"id": r.id, "pre": pre})
    if links:
        conn.execute(sa.text("UPDATE actions SET after_action_id = :pre WHERE id = :id"), links)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_after_action_id", type_="foreignkey")
        batch.drop_column("after_action_id")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("after_action_id", BigId, nullable=True))
        batch.create_foreign_key(
            "fk_outbox_after_action_id", "actions", ["after_action_id"], ["id"]
        )
    op.execute(
        "UPDATE outbox SET after_action_id = "
        "(SELECT a.after_action_id FROM actions a WHERE a.id = outbox.action_id)"
    )
    with op.batch_alter_table("actions") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("after_action_id")
