"""The memory's connection to its database. The only module that opens a SQLAlchemy session.

SQLite (the default, embedded) runs in WAL mode with foreign keys on; write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing half-way.
PostgreSQL is the system of record for a team. The same Alembic migrations build both.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from revfield.errors import RevfieldError

__all__ = ["Session", "Store", "StoreError"]

MIGRATIONS = Path(__file__).parent / "migrations"


_URL_HELP = (
    "  help: use sqlite:///path/to/revfield.db (embedded) or "
    "postgresql+psycopg://user@host:5432/database"
)


class StoreError(RevfieldError, RuntimeError):
    """The database can't be used as it is: unreachable, or its schema missing or behind (the
    help line says to run ``revfield init``). Still a :class:`RuntimeError`, as it always was."""


class Store:
    """An engine plus the ways to open sessions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # built once: execution_options() makes a new engine proxy on every call
        self._writer = engine.execution_options(sqlite_immediate=True)
        self._reader = engine.execution_options(sqlite_immediate=False)

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> Store:
        """The database at ``url`` (SQLite or PostgreSQL). Nothing connects yet; a URL that
        isn't one, or names another database, is a :class:`StoreError` saying what works."""
        kwargs: dict[str, Any] = {"echo": echo}
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise StoreError(f"`{url}` is not a database URL\n{_URL_HELP}") from None
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise StoreError(
                f"revfield keeps its memory in SQLite or PostgreSQL, not "
                f"`{parsed.get_backend_name()}`\n{_URL_HELP}"
            )
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
        try:
            engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise StoreError(f"cannot use the database URL `{url}`: {exc}\n{_URL_HELP}") from None
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        bind = self._writer if write else self._reader
        with Session(bind=bind, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (never takes SQLite's write lock)."""
        with self.session(write=False) as session:
            yield session

    # -- schema -----------------------------------------------------------------------------

    def _alembic(self, connection: sa.Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest). Safe to run again."""
        self._migrating(lambda cfg: command.upgrade(cfg, revision))

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (``base``: no revfield tables at all)."""
        self._migrating(lambda cfg: command.downgrade(cfg, revision))

    def _migrating(self, run: Callable[[Config], None]) -> None:
        """Run a migration in one transaction. On SQLite, foreign keys are checked once at the
        end rather than per statement: a migration that rebuilds a table others refer to
        (SQLite alters tables by copying them) would otherwise fail on a database with rows."""
        with self._opening(), self.engine.connect() as conn:
            sqlite = self.dialect == "sqlite"
            if sqlite:  # only outside a transaction does the pragma take effect
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    run(self._alembic(conn))
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise StoreError(
                                f"the migration would leave {len(broken)} rows pointing at "
                                f"rows that don't exist (first: {tuple(broken[0])}); nothing "
                                "was changed"
                            )
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]

    def current_revision(self) -> str | None:
        """The schema revision the database is at (None: no revfield schema yet)."""
        with self._opening(), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """A database that can't be opened is a :class:`StoreError` naming it, with a hint."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            hint = (
                "  help: does its folder exist, and may revfield write there?"
                if self.dialect == "sqlite"
                else "  help: is the server running, and do the host, user and database exist?"
            )
            raise StoreError(f"cannot open the database {self.url}: {exc.orig}\n{hint}") from None

    def head_revision(self) -> str | None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def check_current(self) -> None:
        """Raise :class:`StoreError` with the fix when the schema is missing or behind."""
        current = self.current_revision()
        head = self.head_revision()
        if current != head:
            state = "has no revfield schema" if current is None else f"is at {current}"
            raise StoreError(
                f"the database {self.url} {state}; the code expects {head}\n"
                "  help: run `revfield init` to create or upgrade it"
            )

    # -- SQLite file header ------------------------------------------------------------------

    def set_application_id(self, value: int) -> None:
        """Write ``value`` into the SQLite file's header (``PRAGMA application_id``)."""
        if self.dialect != "sqlite":
            raise StoreError(f"an application id is a SQLite header field, not {self.dialect}'s")
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"PRAGMA application_id = {int(value)}")

    @staticmethod
    def application_id_of(path: Path) -> int | None:
        """The application id in an SQLite file's header; None if it is not an SQLite file."""
        try:
            with closing(sqlite3.connect(path)) as conn:
                (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        except sqlite3.DatabaseError:
            return None
        return int(app_id)

    def beside(self, name: str) -> Path:
        """A file that belongs with this database: next to a SQLite file, named after it
        (``revfield.db`` → ``revfield-<name>``); for an in-memory or PostgreSQL database, in
        the user's data folder (``$XDG_DATA_HOME/revfield``, else ``~/.local/share/revfield``),
        named after the database."""
        url = self.engine.url
        if self.dialect == "sqlite" and url.database not in (None, "", ":memory:"):
            db = Path(str(url.database))
            return db.with_name(f"{db.stem}-{name}")
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        label = url.database if self.dialect != "sqlite" and url.database else "memory"
        return Path(base) / "revfield" / f"{label}-{name}"

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own
        # transaction handling would start transactions late, at the first write).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
