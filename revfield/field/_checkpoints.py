"""The durable checkpointer for agent runs, on the same database as the memory.

SQLite memory → LangGraph's ``SqliteSaver`` on the same file (its own connection, WAL);
PostgreSQL memory → ``PostgresSaver`` on the same database. A run paused for a person is
in the checkpoint tables, so it survives the process that started it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from revfield.memory import Store

__all__ = ["CHECKPOINT_TABLES", "open_checkpointer"]

CHECKPOINT_TABLES = {
    "sqlite": ("checkpoints", "writes"),
    "postgresql": ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"),
}
"""Tables the savers create next to revfield's own (not managed by revfield's migrations)."""


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
            saver_pg.setup()
            yield saver_pg
        return
    raise ValueError(f"no durable checkpointer for {store.dialect}")
