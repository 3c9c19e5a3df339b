"""Ingestion across real processes: a SIGKILL mid-run, and two writers at once."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from revfield.ingest import ingest_file
from revfield.memory import Store
from revfield.memory.models import Account, Contact, Signal
from tests.factories import signal, write_jsonl

KILL_AFTER_SECOND_BATCH = """
import os, signal, sys
from revfield.memory import Store
from revfield.ingest import ingest_file
done = []
def progress(line):
    done.append(line)
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
ingest_file(sys.argv[2], store=Store.from_url(sys.argv[1]), batch_size=100, on_progress=progress)
"""

INGEST = """
import sys
from revfield.memory import Store
from revfield.ingest import ingest_file
r = ingest_file(sys.argv[2], store=Store.from_url(sys.argv[1]), batch_size=int(sys.argv[3]))
print(r.accepted, r.duplicates, r.dead_lettered)
"""


def _count(store: Store, table: type) -> int:
    with store.read() as s:
        return s.execute(sa.select(sa.func.count()).select_from(table.__table__)).scalar_one()


def _records(start: int, stop: int) -> list[dict]:
    return [
        signal(n, account_domain=None, contact_email=f"p{n % 97}@co{n % 97 % 31}.com")
        for n in range(start, stop)
    ]


def test_sigkill_mid_ingest_then_rerun_ends_like_one_clean_run(db_url, store, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", _records(0, 500))
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_SECOND_BATCH, db_url, str(path)], check=False
    )
    assert proc.returncode == -9
    assert _count(store, Signal) == 200  # two committed batches survive the kill
    report = ingest_file(path, store=store, batch_size=100)
    assert (report.accepted, report.duplicates) == (300, 200)
    assert _count(store, Signal) == 500
    assert _count(store, Account) == 31 and _count(store, Contact) == 97


def test_two_processes_ingesting_overlapping_files_leave_no_duplicate(db_url, store, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", _records(0, 3000))
    b = write_jsonl(tmp_path / "b.jsonl", _records(1500, 4500))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST, db_url, str(p), "250"], stdout=subprocess.PIPE, text=True
        )
        for p in (a, b)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    accepted = sum(int(o.split()[0]) for o in outputs)
    duplicates = sum(int(o.split()[1]) for o in outputs)
    assert _count(store, Signal) == 4500 == accepted
    assert duplicates == 1500
    assert _count(store, Account) == 31
    assert _count(store, Contact) == 97
    with store.read() as s:
        keys = s.execute(sa.select(sa.func.count(sa.distinct(Signal.external_id)))).scalar_one()
    assert keys == 4500
