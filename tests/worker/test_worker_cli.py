"""``revfield worker`` as a user runs it: real processes, real signals, the real database."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.demo.book import generate_book
from revfield.demo.replay import load_book
from revfield.ingest import ingest_signals
from revfield.memory import Store
from revfield.policies import load_pack
from revfield.worker import check_invariants

ROOT = Path(__file__).resolve().parents[2]
PACK = load_pack(ROOT / "policies")


def _book(store: Store, size: int = 15) -> int:
    """A small generated book of business, its signals waiting for detection."""
    book = generate_book(5, prospects=size, customers=size * 2 // 3)
    load_book(store, book)
    return ingest_signals(book.signals, store=store, source="book").accepted


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REVFIELD_DATABASE_URL": url,
        "REVFIELD_POLICIES": str(ROOT / "policies"),
        "REVFIELD_LLM": "offline",
        "REVFIELD_OUTBOX_LOG": str(tmp_path / "outbox.jsonl"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "REVFIELD_CONFIG": str(tmp_path / "absent.toml"),
    }


WORKER = [sys.executable, "-m", "revfield.cli", "worker", "--heartbeat", "0.2", "--lease", "2"]


def _worker(url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WORKER, *args],
        env=_env(url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.05)  # noqa: TID251 — waiting on another process


def _count(store: Store, sql: str) -> int:
    with store.read() as s:
        return int(s.execute(sa.text(sql)).scalar_one())


def _effects(tmp_path: Path) -> dict[str, int]:
    import json
    from collections import Counter

    path = tmp_path / "outbox.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(Counter(json.loads(line)["idempotency_key"] for line in lines))


def test_once_works_through_everything_and_says_what_it_did(store, db_url, tmp_path):
    accepted = _book(store)
    proc = _worker(db_url, tmp_path, "--once")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "1 worker" in out and "signals detected" in out and "agent runs" in out
    assert f"{accepted:,}" in out
    report = check_invariants(store, PACK, effects=_effects(tmp_path))
    assert report.ok, [str(v) for v in report.violations]
    assert report.counts["executed"] > 0
    assert _count(store, "SELECT count(*) FROM workers WHERE status = 'stopped'") == 1


def test_one_worker_per_sqlite_file(store, db_url, tmp_path):
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL takes any number of workers")
    with store.beside("worker.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a worker runs already
        proc = _worker(db_url, tmp_path, "--once")
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "another `revfield worker` already works on" in err and "PostgreSQL" in err
    assert "Traceback" not in err
    proc = _worker(db_url, tmp_path, "--once", "--concurrency", "2")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "--concurrency 2 needs PostgreSQL" in err


@pytest.mark.postgres
def test_sigterm_finishes_the_unit_in_hand_and_exits_0(store, db_url, tmp_path):
    if store.dialect != "postgresql":
        pytest.skip("several workers: PostgreSQL")
    _book(store, size=40)
    proc = _worker(db_url, tmp_path)
    _wait_for(lambda: _count(store, "SELECT count(*) FROM field_events WHERE status='done'") > 5)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "worker stopped" in err and "Traceback" not in err
    # nothing half done: no run left running, no claim left held, the worker marked stopped
    assert _count(store, "SELECT count(*) FROM field_events WHERE status = 'running'") == 0
    held = (  # in this database: pg_locks is the whole cluster's
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    assert _count(store, held) == 0
    assert _count(store, "SELECT count(*) FROM workers WHERE status = 'stopped'") == 1
    assert _count(store, "SELECT count(*) FROM field_events WHERE status = 'pending'") > 0
    report = check_invariants(store, PACK, effects=_effects(tmp_path), drained=False)
    assert report.ok, [str(v) for v in report.violations]


@pytest.mark.postgres
def test_sigkill_loses_nothing_and_two_workers_finish_the_work(store, db_url, tmp_path):
    if store.dialect != "postgresql":
        pytest.skip("several workers: PostgreSQL")
    _book(store, size=40)
    proc = _worker(db_url, tmp_path)
    _wait_for(lambda: _count(store, "SELECT count(*) FROM field_events WHERE status='done'") > 5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    rest = _worker(db_url, tmp_path, "--once", "--concurrency", "2")
    out, err = rest.communicate(timeout=300)
    assert rest.returncode == 0, err[-3000:]
    assert "2 workers" in out
    report = check_invariants(store, PACK, effects=_effects(tmp_path))
    assert report.ok, [str(v) for v in report.violations]
    assert _count(store, "SELECT count(*) FROM workers WHERE status = 'stopped'") == 2
