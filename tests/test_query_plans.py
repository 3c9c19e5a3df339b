"""No lookup on the hot path scans a table that grows with the book.

A replay of a small book (ingest, detection, agent runs, answers, the ladder, the outbox), then
the inbox and an account's memory, with every statement revfield sends captured; each is
explained (SQLite: ``EXPLAIN QUERY PLAN``; PostgreSQL: ``EXPLAIN`` with sequential scans
discouraged, so a plan that still scans has no index to use). A full scan of a table that grows
with the book fails the test, naming the statement: add the index (a migration) it needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from revfield.clock import ManualClock
from revfield.demo.book import START, generate_book
from revfield.demo.replay import load_book, replay
from revfield.field import Field, open_checkpointer
from revfield.llm import OfflineModel
from revfield.memory import Store, recall
from revfield.outbox import LogExecutor
from revfield.policies import load_pack
from revfield.review import LOCAL_ADMIN, inbox_page

POLICIES = Path(__file__).resolve().parents[1] / "policies"
GROWING = {
    "signals",
    "signal_detections",
    "facts",
    "field_events",
    "actions",
    "decisions",
    "reviews",
    "outbox",
    "audit_log",
    "model_calls",
    "notifications",
    "churn_risks",
    "interrupt_answers",
}
"""Tables with rows per signal, event, action or answer: they grow with the book."""


def _captured(store: Store, tmp_path: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "DELETE")
        ):
            seen.setdefault(statement, parameters)

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        book = generate_book(7, prospects=30, customers=20)
        load_book(store, book)
        clock = ManualClock(START)
        with open_checkpointer(store) as saver:
            fld = Field(
                store,
                load_pack(POLICIES),
                OfflineModel(),
                clock,
                saver,
                executor=LogExecutor(path=tmp_path / "outbox.jsonl"),
            )
            replay(store, book, fld, clock, days=6)
            fld.close()
        with store.read() as session:
            inbox_page(session, LOCAL_ADMIN, limit=50)
            recall(session, book.accounts[0]["id"])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    return seen


def _scans_sqlite(store: Store, statement: str, params: Any) -> list[str]:
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        rows = raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()  # type: ignore[union-attr]
    found = []
    for row in rows:
        m = re.match(r"SCAN (\w+)", row[-1])
        if m and m.group(1) in GROWING:
            found.append(row[-1])
    return found


def _scans_postgres(store: Store, statement: str, params: Any) -> list[str]:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + statement, params)
        plan = [r[0] for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()
    return [
        line.strip()
        for line in plan
        if re.search(r"Seq Scan on (\w+)", line)
        and re.search(r"Seq Scan on (\w+)", line).group(1) in GROWING
    ]  # type: ignore[union-attr]


def test_no_hot_path_lookup_scans_a_table_that_grows_with_the_book(store, tmp_path):
    statements = _captured(store, tmp_path)
    assert len(statements) > 50  # the replay went through the field
    explain = _scans_sqlite if store.dialect == "sqlite" else _scans_postgres
    scans = {}
    for statement, params in statements.items():
        found = explain(store, statement, params)
        if found:
            scans[" ".join(statement.split())[:300]] = found
    assert scans == {}, "full scans on the hot path (add an index):\n" + "\n".join(
        f"{plan}: {sql}" for sql, plan in scans.items()
    )
