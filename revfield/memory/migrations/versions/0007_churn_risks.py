"""Churn risks with a lifecycle (open → addressed → resolved), and indexes for counting the
touches actions made (what went out, from the action's state).

Existing customers with current churn-risk facts get an open risk (addressed if their newest
save play since then was carried out).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
CHURN = re.compile(r"\bchurn")


def upgrade() -> None:
    op.create_table(
        "churn_risks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fact_ids", JSONType, nullable=False),
        sa.Column("save_play_action_id", BigId, nullable=True),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("addressed_at", UTC_TIME, nullable=True),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_churn_risks_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["save_play_action_id"],
            ["actions.id"],
            name="fk_churn_risks_save_play_action_id_actions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_churn_risks"),
    )
    op.create_index("ix_churn_risks_account_id_status", "churn_risks", ["account_id", "status"])
    op.create_index("ix_actions_contact_id_updated_at", "actions", ["contact_id", "updated_at"])
    op.create_index("ix_actions_account_id_updated_at", "actions", ["account_id", "updated_at"])
    _open_existing_risks()


def _open_existing_risks() -> None:
    conn = op.get_bind()
    facts: dict[str, list[Any]] = {}
    for row in conn.execute(
        sa.text(
            "SELECT f.id, f.account_id, f.subject, f.observed_at FROM facts f "
            "JOIN accounts a ON a.id = f.account_id WHERE f.type = 'risk' "
            "AND f.superseded_by IS NULL AND a.customer_state = 'customer' "
            "ORDER BY f.observed_at, f.id"
        )
    ):
        if row.subject and CHURN.search(row.subject.lower()):
            facts.setdefault(row.account_id, []).append(row)
    for account_id, rows in facts.items():
        opened = rows[0].observed_at
        play = conn.execute(
            sa.text(
                "SELECT id, status, updated_at FROM actions WHERE account_id = :a "
                "AND kind = 'save_play' AND status NOT IN "
                "('rejected', 'blocked', 'cancelled', 'failed') "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"a": account_id},
        ).first()
        executed = play.updated_at if play is not None and play.status == "executed" else None
        conn.execute(
            sa.text(
                "INSERT INTO churn_risks (account_id, status, fact_ids, save_play_action_id, "
                "opened_at, addressed_at, updated_at) VALUES (:a, :s, :f, :p, :o, :ad, :u)"
            ),
            {
                "a": account_id,
                "s": "addressed" if executed is not None else "open",
                "f": json.dumps([r.id for r in rows]),
                "p": play.id if play is not None else None,
                "o": opened,
                "ad": executed,
                "u": executed if executed is not None else opened,
            },
        )


def downgrade() -> None:
    op.drop_index("ix_actions_account_id_updated_at", "actions")
    op.drop_index("ix_actions_contact_id_updated_at", "actions")
    op.drop_index("ix_churn_risks_account_id_status", "churn_risks")
    op.drop_table("churn_risks")
