"""Shared fixtures. Every database test runs on SQLite and, when REVFIELD_TEST_DATABASE_URL
is set (CI sets it), on PostgreSQL too: one parametrised ``store`` fixture, not two copies."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.clock import ManualClock
from revfield.field._checkpoints import CHECKPOINT_TABLES
from revfield.memory import Store
from revfield.memory.models import Base

PG_URL = os.environ.get("REVFIELD_TEST_DATABASE_URL")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not PG_URL, reason="REVFIELD_TEST_DATABASE_URL is not set (CI sets it)"
            ),
        ],
    ),
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = Store.from_url(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A private PostgreSQL database for this test session, migrated once, dropped at the end."""
    assert PG_URL
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"revfield_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    store = Store.from_url(url)
    store.migrate()
    store.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "revfield.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        # agent runs are keyed by field event id, which restarts: drop the old checkpoints too
        checkpoints = set(CHECKPOINT_TABLES["postgresql"]) - {
            "checkpoint_migrations"
        }  # keep the saver's schema
        present = set(sa.inspect(conn).get_table_names()) & checkpoints
        if present:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(sorted(present))}")
    engine.dispose()
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.from_url(db_url)
    yield s
    s.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (CI has it)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files revfield keeps in the user's data folder (the log executor's file beside a
    PostgreSQL database) go to a temporary folder, never the real home."""
    path = tmp_path_factory.getbasetemp() / "data-home"
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture
def small_db(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite file (its schema current), and ``tiny.jsonl`` (five of the shipped
    sample signals) beside it: what the command-line start tests run against."""
    path = tmp_path / "small.db"
    path.write_bytes(sqlite_template.read_bytes())
    samples = Path(__file__).resolve().parents[1] / "revfield" / "samples" / "signals.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines()[:5]
    (tmp_path / "tiny.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"sqlite:///{path}"
