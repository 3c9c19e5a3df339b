"""Migrations build the same schema as the models on both backends, and run down and up."""

from __future__ import annotations

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
