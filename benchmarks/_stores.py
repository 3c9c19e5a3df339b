"""Fresh databases for the benchmarks: a SQLite file made anew (its WAL files too) and an
empty PostgreSQL database on the local server."""

from __future__ import annotations

from pathlib import Path

from revfield.memory import Store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def remove_sqlite(db: Path) -> None:
    """Delete a SQLite file and its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def fresh_sqlite(db: Path) -> Store:
    """A new, migrated memory in the SQLite file ``db`` (whatever was there is deleted)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    remove_sqlite(db)
    store = Store.from_url(f"sqlite:///{db}")
    store.migrate()
    return store


def fresh_postgres(name: str) -> str | None:
    """A new empty PostgreSQL database (dropped first), or None without a server."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as pg:
            pg.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            pg.execute(f"CREATE DATABASE {name}")
    except psycopg.Error:
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
