"""Migrations build the same schema as the models on both backends, and run down and up."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revfield.field._checkpoints import CHECKPOINT_TABLES
from revfield.memory import Store, StoreError
from revfield.memory.models import Base


def _ours(name, type_, parent_names):
    """LangGraph's checkpointer keeps its own tables in the same database."""
    return not (type_ == "table" and name in {t for ts in CHECKPOINT_TABLES.values() for t in ts})


def test_migrated_schema_matches_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _ours}),
            Base.metadata,
        )
    assert diff == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(store):
    head = store.head_revision()
    store.downgrade("base")
    assert store.current_revision() is None
    assert not (set(sa.inspect(store.engine).get_table_names()) & set(Base.metadata.tables))
    store.migrate()
    assert store.current_revision() == head
    assert set(Base.metadata.tables) <= set(sa.inspect(store.engine).get_table_names())


def test_migrate_is_safe_to_run_twice(store):
    store.migrate()
    store.migrate()
    assert store.current_revision() == store.head_revision()


def test_an_unmigrated_database_is_refused_with_the_fix(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(StoreError, match=r"has no revfield schema(.|\n)*revfield init"):
        store.check_current()
    store.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_upgrading_to_0006_keeps_what_each_action_waits_for(store):
    """Rows as the 0005 code wrote them: the follow-up's outbox item named the email it
    waited for; after 0006 the follow-up action itself does (and a waiting review's too)."""
    store.downgrade("0005")
    t = "2026-11-02 09:00:00"
    with store.engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO accounts (id, name, customer_state, source, created_at, updated_at) "
            f"VALUES ('acme', 'Acme', 'prospect', 'test', '{t}', '{t}')"
        )
        c.exec_driver_sql(
            "INSERT INTO field_events (id, account_id, kind, key, signal_ids, detail, data, "
            f"occurred_at, detected_at, agent, status) VALUES (1, 'acme', 'intent_surge', 'k', "
            f"'[]', 'd', '{{}}', '{t}', '{t}', 'outreach', 'waiting')"
        )
        runs = [(1, "send_email", None), (2, "schedule_followup", "send_email")]
        for i, kind, after in [*runs, (3, "create_task", "send_email")]:
            proposal = json.dumps({"kind": kind, "after": after})
            c.exec_driver_sql(
                "INSERT INTO actions (id, account_id, field_event_id, agent, kind, motion, "
                "target, proposal, digest, status, thread_id, created_at, updated_at) VALUES "
                f"({i}, 'acme', 1, 'outreach', '{kind}', 'acquisition', 'account:acme', "
                f"'{proposal}', 'd{i}', 'queued', 'outreach:1', '{t}', '{t}')"
            )
        c.exec_driver_sql(
            "INSERT INTO outbox (action_id, idempotency_key, executor, payload, status, "
            f"attempts, created_at, after_action_id) VALUES (2, 'k2', 'log', '{{}}', 'pending', "
            f"0, '{t}', 1)"
        )
    store.migrate()
    with store.engine.connect() as c:
        rows = dict(c.exec_driver_sql("SELECT id, after_action_id FROM actions").all())
        outbox = [col["name"] for col in sa.inspect(c).get_columns("outbox")]
    assert rows == {1: None, 2: 1, 3: 1}
    assert "after_action_id" not in outbox
