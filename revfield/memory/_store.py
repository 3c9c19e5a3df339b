"""The memory's connection to its database. The only module that opens a SQLAlchemy session.

SQLite (the default, embedded) runs in WAL mode with foreign keys on; write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing half-way.
PostgreSQL is the system of record for a team. The same Alembic migrations build both.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from revfield.errors import RevfieldError
from revfield.memory._together import Rows, Run, run_together, watched

if TYPE_CHECKING:  # Alembic is imported only to migrate, or to explain a schema that is off
    from alembic.config import Config

__all__ = ["Session", "Store", "StoreError"]

MIGRATIONS = Path(__file__).parent / "migrations"


_URL_HELP = (
    "  help: use sqlite:///path/to/revfield.db (embedded) or "
    "postgresql+psycopg://user@host:5432/database"
)


class StoreError(RevfieldError, RuntimeError):
    """The database can't be used as it is: unreachable, not a database, read-only, its driver
    missing, or its schema missing or behind (the help line says what to do, such as running
    ``revfield init``). Still a :class:`RuntimeError`, as it always was."""

    @classmethod
    def from_exception(
        cls, exc: BaseException, url: str, *, opening: bool = False
    ) -> StoreError | None:
        """What a database driver's failure means for the database at ``url``, with a help
        line; None when ``exc`` is not a failure of the database itself (a constraint
        violated or a malformed statement is a bug, not a setting a user can fix)."""
        orig: BaseException = exc
        if isinstance(exc, sa.exc.DBAPIError):
            if type(exc) not in (sa.exc.OperationalError, sa.exc.DatabaseError):
                return None
            orig = exc.orig if exc.orig is not None else exc
        elif isinstance(exc, sqlite3.Error):  # from a connection of the checkpointer's own
            if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                return None
        elif not _is_psycopg_operational(exc):
            return None
        return cls(_failure(_shown(url), str(orig).strip(), opening=opening))


class Store:
    """An engine plus the ways to open sessions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # built once: execution_options() makes a new engine proxy on every call
        self._writer = engine.execution_options(sqlite_immediate=True)
        # a read on PostgreSQL runs without BEGIN and COMMIT: under READ COMMITTED each
        # statement sees its own snapshot either way, so the transaction bought nothing but
        # two round trips (reads take no locks: those belong to the unit that writes)
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine.execution_options(sqlite_immediate=False)
        )

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> Store:
        """The database at ``url`` (SQLite or PostgreSQL; ``postgresql://`` without a driver
        means psycopg, which revfield installs). Nothing connects yet; a URL that isn't one,
        names another database, or needs a driver that isn't installed (or an asyncio one) is
        a :class:`StoreError` saying what works."""
        kwargs: dict[str, Any] = {"echo": echo}
        parsed = _parse(url)
        try:
            dialect = parsed.get_dialect()
        except sa.exc.NoSuchModuleError:
            raise StoreError(
                f"`{parsed.drivername}` in `{_shown(url)}` is not a database driver SQLAlchemy "
                f"knows\n{_URL_HELP}"
            ) from None
        if dialect.is_async:
            raise StoreError(
                f"`{parsed.get_driver_name()}` (in `{_shown(url)}`) is an asyncio driver; "
                f"revfield talks to its database synchronously\n{_URL_HELP}"
            )
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
        try:
            engine = sa.create_engine(parsed, **kwargs)
        except ImportError as exc:
            driver = exc.name or parsed.get_driver_name()
            raise StoreError(
                f"the database driver `{driver}` that `{_shown(url)}` asks for is not "
                f"installed\n{_URL_HELP} (revfield installs psycopg), or install `{driver}`"
            ) from None
        except sa.exc.ArgumentError as exc:
            raise StoreError(
                f"cannot use the database URL `{_shown(url)}`: {exc}\n{_URL_HELP}"
            ) from None
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return cls(engine)

    @staticmethod
    def sqlite_file(url: str) -> Path | None:
        """The file a SQLite URL names (``sqlite:///revfield.db`` → ``revfield.db``); None for
        SQLite in memory, a ``file:`` URI, or another database. A URL that isn't one, or names
        a database revfield does not keep its memory in, is a :class:`StoreError`."""
        return _file_of(_parse(url))

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

    def run_alone(self, runs: Sequence[Run]) -> list[Rows]:
        """``runs`` (see :func:`~revfield.memory._together.run_together`) in a write
        transaction of their own; each one's rows. On PostgreSQL the transaction's BEGIN and
        COMMIT travel with the statements, one round trip in all, where a :meth:`session`
        takes three for a single statement (the driver sends its BEGIN alone, then the
        statement, then the COMMIT). A statement that fails rolls the whole back."""
        if self.dialect != "postgresql":
            with self.session() as session:
                return run_together(session, runs)
        with self._writer.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # BEGIN, COMMIT: ours
            return run_together(conn, [(_BEGIN, {}), *runs, (_COMMIT, {})])[1:-1]

    # -- schema -----------------------------------------------------------------------------

    def _alembic(self, connection: sa.Connection) -> Config:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest). Safe to run again."""
        from alembic import command

        self._migrating(lambda cfg: command.upgrade(cfg, revision))

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (``base``: no revfield tables at all)."""
        from alembic import command

        self._migrating(lambda cfg: command.downgrade(cfg, revision))

    def _migrating(self, run: Callable[[Config], None]) -> None:
        """Run a migration in one transaction. On SQLite, foreign keys are checked once at the
        end rather than per statement: a migration that rebuilds a table others refer to
        (SQLite alters tables by copying them) would otherwise fail on a database with rows."""
        current = self.current_revision()
        if current is not None and not self._knows(current):
            self.check_current()  # says the database is newer than this revfield
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
        """The schema revision the database is at (None: no revfield schema yet). A SQLite
        file that doesn't exist is not created: it has no schema."""
        self._check_folder()
        if self._missing_file() is not None:
            return None
        with self._opening(), self.engine.connect() as conn:
            # what Alembic's MigrationContext reads, without importing Alembic (a tenth of a
            # second at every command's start)
            if not sa.inspect(conn).has_table(_VERSION_TABLE.name):
                return None
            versions = conn.execute(sa.select(_VERSION_TABLE.c.version_num)).scalars().all()
            if len(versions) > 1:  # Alembic's own error for a database with two heads
                from alembic.runtime.migration import MigrationContext

                return MigrationContext.configure(conn).get_current_revision()
            return versions[0] if versions else None

    def _missing_file(self) -> Path | None:
        """The SQLite file this store names, when it doesn't exist yet (or is empty)."""
        path = self.file
        if path is None:
            return None
        try:
            return path if path.stat().st_size == 0 else None
        except FileNotFoundError:
            return path
        except OSError:
            return None  # let SQLite say what is wrong with it

    @property
    def file(self) -> Path | None:
        """The SQLite file of this store; None in memory or on PostgreSQL."""
        return _file_of(self.engine.url)

    def _check_folder(self) -> None:
        """A SQLite file whose folder doesn't exist is a :class:`StoreError` saying so."""
        path = self.file
        if path is not None and not path.absolute().parent.is_dir():
            raise StoreError(
                f"cannot open the database {self.url}: the folder {path.absolute().parent} "
                "does not exist\n"
                "  help: create the folder, or name another file with --db or "
                "REVFIELD_DATABASE_URL"
            )

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """A database that can't be opened is a :class:`StoreError` naming it, with a hint."""
        self._check_folder()
        try:
            yield
        except sa.exc.DBAPIError as exc:
            error = StoreError.from_exception(exc, self.url, opening=True)
            if error is None:
                raise
            raise error from None

    def head_revision(self) -> str | None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def check_current(self) -> None:
        """Raise :class:`StoreError` with the fix when the schema is missing or behind (or
        ahead: written by a newer revfield). Never creates a SQLite file that isn't there."""
        current = self.current_revision()
        if current is not None and current == _scanned_head():
            return  # the usual case, told without Alembic
        head = self.head_revision()
        if current == head:
            return
        if current is None:
            missing = self._missing_file()
            where = f" (there is no file {missing})" if missing and not missing.exists() else ""
            raise StoreError(
                f"the database {self.url} has no revfield schema{where}; the code expects "
                f"{head}\n  help: run `revfield init` to create it, or name the database you "
                "meant with --db or REVFIELD_DATABASE_URL"
            )
        if not self._knows(current):
            raise StoreError(
                f"the database {self.url} is at schema {current}, which this version of "
                f"revfield does not know (it expects {head}); a newer revfield wrote it\n"
                "  help: upgrade revfield, or name another database with --db"
            )
        raise StoreError(
            f"the database {self.url} is at {current}; the code expects {head}\n"
            "  help: run `revfield init` to upgrade it"
        )

    def _knows(self, revision: str) -> bool:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            return ScriptDirectory.from_config(cfg).get_revision(revision) is not None
        except CommandError:
            return False

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


_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num", sa.String))
"""Where Alembic keeps the revision a database is at (its default table, which env.py keeps)."""

_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"$', re.M)
_DOWN = re.compile(r'^down_revision(?:: [^=]+)? = (?:None|"([^"]+)")$', re.M)
"""A migration's own lines, as ``alembic revision`` writes them (and ruff formats them)."""


@cache
def _scanned_head() -> str | None:
    """The newest migration, read from the ``revision``/``down_revision`` lines of the
    migration files (what Alembic's ``get_current_head`` returns, at a hundredth of the cost);
    None when the files don't make one plain chain (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


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
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        if watched(engine):
            conn.exec_driver_sql(begin)  # seen by the engine's listeners and in its log
        else:  # every unit of work begins here: without SQLAlchemy's per-statement work
            conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]


_BEGIN = sa.text("BEGIN")
_COMMIT = sa.text("COMMIT")


def _parse(url: str) -> sa.URL:
    """``url`` as a SQLAlchemy URL of SQLite or PostgreSQL, or a :class:`StoreError`."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"`{url}` is not a database URL\n{_URL_HELP}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"revfield keeps its memory in SQLite or PostgreSQL, not "
            f"`{parsed.get_backend_name()}`\n{_URL_HELP}"
        )
    if parsed.drivername == "postgresql":  # no driver named: the one revfield installs
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _file_of(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri") or str(url.database).startswith("file:"):
        return None
    return Path(str(url.database))


def _is_psycopg_operational(exc: BaseException) -> bool:
    """A psycopg connection's own failure (the checkpointer's); psycopg is imported only
    when a PostgreSQL database is used, and only then can it have failed."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def _shown(url: str) -> str:
    """``url`` as it may be printed: without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


Failures = tuple[tuple[tuple[str, ...], str, str], ...]
"""(words in the driver's message, what failed, the help line), first match wins."""

_SQLITE_FAILURES: Failures = (
    (
        ("file is not a database", "malformed"),
        "cannot open the database",
        "  help: --db (or REVFIELD_DATABASE_URL) must name a revfield SQLite database, or a "
        "new file for `revfield init` to create",
    ),
    (
        ("readonly", "read-only"),
        "cannot write to the database",
        "  help: may revfield write to the database file and its folder? (SQLite writes "
        "FILE-wal and FILE-shm beside it)",
    ),
    (
        ("database is locked",),
        "cannot use the database",
        "  help: another process holds its write lock; run the command again when it is done",
    ),
    (
        ("disk i/o error",),
        "cannot write to the database",
        "  help: is the disk full, or the file on a failing or network drive?",
    ),
    (
        ("unable to open database file",),
        "cannot open the database",
        "  help: does its folder exist, and may revfield write there?",
    ),
)
_POSTGRES_FAILURES: Failures = (
    (
        ("read-only transaction",),
        "cannot write to the database",
        "  help: the server is a read-only replica; connect to the primary",
    ),
)


_FULL_SQLITE = ("database or disk is full", "disk is full")
"""SQLITE_FULL's words: the disk (or the file's size limit) left no room for a write."""
_FULL_POSTGRES = ("no space left", "disk full")
"""PostgreSQL's words when the server's disk is full (``could not extend file …``)."""
_AGAIN = (
    "then run the same command again: everything written before this error is kept and "
    "the rest is taken up where it stopped (sending the same file again stores each row once)"
)


def _disk_full(url: str, message: str) -> str | None:
    """The message for a database whose disk is full (SQLite's ``SQLITE_FULL``, PostgreSQL's
    ``No space left on device``), naming the file or server and what to do; None for any
    other failure."""
    lowered = message.lower()
    if url.startswith("sqlite"):
        if not any(words in lowered for words in _FULL_SQLITE):
            return None
        try:
            path = _file_of(sa.make_url(url))
        except sa.exc.ArgumentError:
            path = None
        if path is None:  # in memory: its "disk" is the process's memory
            return (
                f"the database {url} is full: {message}\n"
                f"  help: give revfield more memory, or use a database file; {_AGAIN}"
            )
        shown = path.absolute()
        return (
            f"the disk holding the database {shown} is full: {message}\n"
            f"  help: free space on the disk holding {shown.parent} (or move the database to "
            f"a larger one and point --db at it), {_AGAIN}"
        )
    if not any(words in lowered for words in _FULL_POSTGRES):
        return None
    first = (message.splitlines() or [message])[0].strip()
    return (
        f"the disk of the PostgreSQL server holding {url} is full: {first}\n"
        f"  help: free space on the server's data volume (or grow it), {_AGAIN}"
    )


def _failure(url: str, message: str, *, opening: bool = False) -> str:
    """One message for a database failure: what failed, where, and what to do."""
    full = _disk_full(url, message)
    if full is not None:
        return full
    lowered = message.lower()
    sqlite = url.startswith("sqlite")
    for needles, what, hint in _SQLITE_FAILURES if sqlite else _POSTGRES_FAILURES:
        if any(n in lowered for n in needles):
            return f"{what} {url}: {message}\n{hint}"
    what = "cannot open the database" if opening else "cannot use the database"
    hint = (
        "  help: is the file a revfield database, and may revfield read and write it?"
        if sqlite
        else "  help: is the server running, and do the host, user and database exist?"
    )
    return f"{what} {url}: {message}\n{hint}"
