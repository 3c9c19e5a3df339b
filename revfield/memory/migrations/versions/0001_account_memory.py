"""Account memory: teams, users, accounts, contacts, deals, signals, facts, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Self-contained on purpose: plain column types only, so the migration keeps working when the
application's models move on. Enums are VARCHAR validated by the application.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Money = sa.Numeric(14, 2, asdecimal=False)


def ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        ts("created_at"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(64), sa.ForeignKey("teams.id"), nullable=True, index=True),
        ts("created_at"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(255), nullable=True, unique=True),
        sa.Column("segment", sa.String(32), nullable=True),
        sa.Column("industry", sa.String(120), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(120), nullable=True),
        sa.Column("customer_state", sa.String(32), nullable=False, index=True),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("users.id"), nullable=True, index=True),
        sa.Column("plan", sa.String(64), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("mrr", Money, nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True, index=True
        ),
        sa.Column("email", sa.String(320), nullable=True, unique=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("role", sa.String(120), nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False, server_default=sa.false()),
        ts("created_at"),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column(
            "account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("users.id"), nullable=True, index=True),
        sa.Column("name", sa.String(300), nullable=True),
        sa.Column("stage", sa.String(64), nullable=False),
        ts("stage_entered_at", nullable=True),
        sa.Column("amount", Money, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("product", sa.String(120), nullable=True),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_table(
        "signals",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=True, index=True),
        sa.Column("contact_email", sa.String(320), nullable=True),
        ts("occurred_at"),
        ts("received_at"),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.UniqueConstraint("source", "external_id"),
    )
    op.create_index("ix_signals_account_id_occurred_at", "signals", ["account_id", "occurred_at"])
    op.create_table(
        "facts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("contact_id", BigId, sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("span", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column(
            "source_signal_id", BigId, sa.ForeignKey("signals.id"), nullable=False, index=True
        ),
        ts("observed_at"),
        ts("created_at"),
        sa.Column("superseded_by", BigId, sa.ForeignKey("facts.id"), nullable=True),
    )
    op.create_index("ix_facts_account_id_type", "facts", ["account_id", "type"])
    op.create_table(
        "dead_letters",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source_file", sa.String(1024), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("raw_digest", sa.String(32), nullable=False),
        ts("created_at"),
        sa.UniqueConstraint("source_file", "line", "raw_digest"),
    )


def downgrade() -> None:
    for table in ("dead_letters", "facts", "signals", "deals", "contacts", "accounts", "users"):
        op.drop_table(table)
    op.drop_table("teams")
