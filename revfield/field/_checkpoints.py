"""The durable checkpointer for agent runs, on the same database as the memory.

SQLite memory → LangGraph's ``SqliteSaver`` on the same file (its own connection, WAL);
PostgreSQL memory → ``PostgresSaver`` on the same database. A run paused for a person is
in the checkpoint tables, so it survives the process that started it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from revfield.memory import Store

__all__ = ["CHECKPOINT_TABLES", "open_checkpointer"]

CHECKPOINT_TABLES = {
    "sqlite": ("checkpoints", "writes"),
    "postgresql": ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"),
}
"""Tables the savers create next to revfield's own (not managed by revfield's migrations)."""

SETUP_LOCK = 0x5246_0000_0000_0001
"""The PostgreSQL advisory lock that lets one process at a time set the saver's tables up."""


def _one_at_a_time(pg: Any, setup: Callable[[], None]) -> None:
    """Run ``setup`` while holding :data:`SETUP_LOCK`. Waiting is a poll, not a blocking
    lock: the saver creates its indexes ``CONCURRENTLY``, which waits for every open statement,
    a blocked lock request included (a deadlock)."""
    for _ in range(600):
        row = pg.execute("SELECT pg_try_advisory_lock(%s) AS got", (SETUP_LOCK,)).fetchone()
        if row and row["got"]:
            break
        time.sleep(0.1)  # noqa: TID251 — another process is creating the tables right now
    else:
        raise TimeoutError("another process held the checkpoint tables' setup for 60 s")
    try:
        setup()
    finally:
        pg.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))


@contextmanager
def open_checkpointer(store: Store) -> Iterator[BaseCheckpointSaver[str]]:
    """The durable LangGraph checkpointer for :class:`~revfield.field.Field`'s agent runs, on
    the memory's own database (``SqliteSaver`` or ``PostgresSaver``; in memory for an in-memory
    SQLite database), open for the ``with`` block. A run paused for a person waits in it."""
    url = store.engine.url
    if store.dialect == "sqlite":
        if url.database in (None, "", ":memory:"):
            yield InMemorySaver()  # an in-memory database can't outlive its process anyway
            return
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(url.database, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
        return
    if store.dialect == "postgresql":
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(
            conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as pg:
            saver_pg = PostgresSaver(pg)
            # workers starting at once on a new database would all create the saver's tables:
            # one at a time (the others then find them made)
            _one_at_a_time(pg, saver_pg.setup)
            yield saver_pg
        return
    raise ValueError(f"no durable checkpointer for {store.dialect}")
