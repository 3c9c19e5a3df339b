"""A full disk under SQLite, through the real CLI: one clear ``error:`` line naming the
database and a help line, exit code 1, no traceback; every batch committed before the failure
is kept and readable, and running the same command again once there is room finishes the
work with nothing stored twice.

The full disk is SQLite's own: ``PRAGMA max_page_count`` (set on every pooled connection of
the CLI's store) makes writes past the limit fail with SQLITE_FULL, "database or disk is
full", exactly as a full disk does."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from revfield.cli import app
from revfield.memory import Store, StoreError

PACK = Path(__file__).resolve().parents[1] / "policies"
BATCH = 250
ROWS = 2000
BAD = 3

runner = CliRunner()


@dataclass
class Disk:
    """The room SQLite may use, in pages (None: no limit), read by every new connection."""

    pages: int | None = None


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    """Every store the CLI opens gets a ``connect`` hook setting ``max_page_count``."""
    room = Disk()
    real = Store.from_url

    def from_url(cls: type[Store], url: str, **kwargs: Any) -> Store:
        store = real(url, **kwargs)

        @sa.event.listens_for(store.engine, "connect")
        def _limit(dbapi_conn: Any, _record: Any) -> None:
            if room.pages is not None:
                dbapi_conn.execute(f"PRAGMA max_page_count = {room.pages}")

        return store

    monkeypatch.setattr(Store, "from_url", classmethod(from_url))
    return room


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("REVFIELD_POLICIES", str(PACK))


def fresh_db(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "revfield.db"
    shutil.copy(template, path)
    return path


def cli(db: Path, *args: str) -> Any:
    return runner.invoke(app, ["--db", f"sqlite:///{db}", *args])


def pages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("PRAGMA page_count").fetchone()
    return int(count)


def signals_csv(path: Path, *, kind: str = "web_visit", bad: int = BAD) -> Path:
    """``ROWS`` good signals (several batches' worth of text), then ``bad`` rows of an
    unknown kind."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["source", "external_id", "kind", "occurred_at", "account_domain", "text"])
        for i in range(ROWS):
            occurred = f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00"
            text = f"visit {i} " + "looked at pricing and the integrations page " * 4
            out.writerow(["web", f"e-{i:05d}", kind, occurred, f"co{i % 40}.com", text])
        for j in range(bad):
            out.writerow(
                ["web", f"bad-{j}", "not_a_kind", "2026-10-01T00:00:00+00:00", "x.com", ""]
            )
    return path


def intent_csv(path: Path, rows: int) -> Path:
    """``rows`` intent surges, each on its own topic: each raises one field event."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["source", "external_id", "kind", "occurred_at", "account_domain", "payload"])
        for i in range(rows):
            payload = {"score": 80, "baseline": 30, "topic": f"topic-{i}"}
            occurred = f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00"
            out.writerow(
                ["bombora", f"s-{i}", "intent_surge", occurred, f"co{i}.com", json.dumps(payload)]
            )
    return path


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read through a store of revfield's own, as a later command would."""
    store = Store.from_url(f"sqlite:///{db}")
    try:
        with store.read() as session:
            return [tuple(row) for row in session.execute(sa.text(sql))]
    finally:
        store.dispose()


def assert_disk_full_error(result: Any, db: Path) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    error = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert lines[error] == (
        f"error: the disk holding the database {db} is full: database or disk is full"
    )
    help_line = lines[error + 1]
    assert help_line.startswith(f"  help: free space on the disk holding {db.parent}")
    assert "run the same command again: everything written before this error is kept" in (help_line)
    assert "sending the same file again stores each row once" in help_line


def half_of_the_growth(db: Path, *args: str) -> int:
    """The pages ``revfield *args`` adds to a copy of ``db``, halved: a limit at which the
    command fails part-way."""
    scratch = db.parent / "scratch" / "revfield.db"
    scratch.parent.mkdir()
    shutil.copy(db, scratch)
    before = pages(scratch)
    assert cli(scratch, *args).exit_code == 0
    grown = pages(scratch) - before
    assert grown > 4
    return before + grown // 2


def test_ingest_on_a_full_disk_keeps_every_committed_batch_and_resumes_without_duplicates(
    sqlite_template, tmp_path, disk
):
    db = fresh_db(sqlite_template, tmp_path / "db")
    file = signals_csv(tmp_path / "signals.csv")
    args = ("ingest", str(file), "--batch-size", str(BATCH))
    disk.pages = half_of_the_growth(db, *args)

    full = cli(db, *args)

    assert_disk_full_error(full, db)
    ((kept,),) = query(db, "SELECT count(*) FROM signals")
    assert 0 < kept < ROWS and kept % BATCH == 0  # whole batches, and nothing after the failure
    ids = [row[0] for row in query(db, "SELECT external_id FROM signals ORDER BY external_id")]
    assert ids == [f"e-{i:05d}" for i in range(kept)]  # the file's first batches, readable
    assert query(db, "SELECT count(*) FROM dead_letters") == [(0,)]

    disk.pages = None  # space freed
    again = cli(db, *args)

    assert again.exit_code == 0, again.output
    out = " ".join(again.output.split())
    assert f"accepted {ROWS - kept:,}" in out and f"duplicates {kept:,}" in out
    assert f"dead-lettered {BAD}" in out
    assert query(db, "SELECT count(*), count(DISTINCT external_id) FROM signals") == [(ROWS, ROWS)]
    assert query(db, "SELECT count(*) FROM dead_letters") == [(BAD,)]


def test_detection_on_a_full_disk_keeps_its_committed_batches_and_finishes_on_the_next_run(
    sqlite_template, tmp_path, disk
):
    db = fresh_db(sqlite_template, tmp_path / "db")
    file = intent_csv(tmp_path / "intent.csv", 600)
    assert cli(db, "ingest", str(file)).exit_code == 0
    args = ("run", "--no-agents", "--batch-size", "100")
    disk.pages = half_of_the_growth(db, *args)

    full = cli(db, *args)

    assert_disk_full_error(full, db)
    ((detected,),) = query(db, "SELECT count(*) FROM signal_detections")
    assert 0 < detected < 600 and detected % 100 == 0
    assert query(db, "SELECT count(*) FROM field_events") == [(detected,)]

    disk.pages = None
    again = cli(db, *args)

    assert again.exit_code == 0, again.output
    assert f"signals processed {600 - detected}" in " ".join(again.output.split())
    assert query(db, "SELECT count(*), count(DISTINCT signal_id) FROM signal_detections") == [
        (600, 600)
    ]
    assert query(db, "SELECT count(*), count(DISTINCT signal_ids) FROM field_events") == [
        (600, 600)
    ]


def test_agents_on_a_full_disk_execute_each_action_once_after_the_rerun(
    sqlite_template, tmp_path, disk
):
    db = fresh_db(sqlite_template, tmp_path / "db")
    assert cli(db, "ingest", str(intent_csv(tmp_path / "intent.csv", 40))).exit_code == 0
    assert cli(db, "run", "--no-agents").exit_code == 0  # detection done: 40 field events
    disk.pages = half_of_the_growth(db, "run")

    full = cli(db, "run")

    assert_disk_full_error(full, db)
    disk.pages = None
    again = cli(db, "run")

    assert again.exit_code == 0, again.output
    assert query(db, "SELECT count(*), count(DISTINCT field_event_id) FROM actions") == [(40, 40)]
    assert query(db, "SELECT status, count(*) FROM outbox GROUP BY status") == [("sent", 40)]
    executed = [
        json.loads(line)["idempotency_key"]
        for line in (db.parent / "revfield-outbox.jsonl").read_text().splitlines()
    ]
    assert len(executed) == len(set(executed)) == 40  # each action carried out once


def test_a_full_disk_from_the_checkpointer_s_own_connection_says_the_same(tmp_path):
    db = tmp_path / "revfield.db"
    error = StoreError.from_exception(
        sqlite3.OperationalError("database or disk is full"), f"sqlite:///{db}"
    )
    assert error is not None
    first, help_line = str(error).splitlines()
    assert first == f"the disk holding the database {db} is full: database or disk is full"
    assert help_line.startswith(f"  help: free space on the disk holding {tmp_path}")


def test_a_full_disk_on_the_postgresql_server_names_the_server_s_disk():
    failure = psycopg.errors.DiskFull(
        'could not extend file "base/16384/16390": No space left on device\n'
        "HINT:  Check free disk space."
    )
    url = "postgresql+psycopg://revfield:secret@db.internal:5432/revfield"
    error = StoreError.from_exception(failure, url)
    assert error is not None
    first, help_line = str(error).splitlines()
    assert first == (
        "the disk of the PostgreSQL server holding "
        "postgresql+psycopg://revfield:***@db.internal:5432/revfield is full: "
        'could not extend file "base/16384/16390": No space left on device'
    )
    assert help_line.startswith("  help: free space on the server's data volume")


def test_other_write_failures_keep_their_own_message(tmp_path):
    error = StoreError.from_exception(
        sqlite3.OperationalError("disk I/O error"), f"sqlite:///{tmp_path / 'r.db'}"
    )
    assert error is not None
    assert "is full" not in str(error)
    assert "failing or network drive" in str(error)
