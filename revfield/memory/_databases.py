"""A PostgreSQL database as a whole, for a command that sets one up for revfield (the demo):
create it when it is missing, list what it holds, mark it with the command that made it, and
take revfield's memory out of it again.

Nothing here drops a database, or a table revfield did not create: what a database holds is
the caller's to judge (:class:`DatabaseContents`), and :func:`drop_memory` drops only tables
it is given by name or that revfield's migrations make.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from revfield.memory._store import Store, StoreError
from revfield.memory.models import Base

__all__ = [
    "MAINTENANCE_DATABASE",
    "MARK_TABLE",
    "MEMORY_TABLES",
    "DatabaseContents",
    "FoundTable",
    "create_database_if_missing",
    "database_contents",
    "drop_memory",
    "mark_database",
]

MAINTENANCE_DATABASE = "postgres"
"""The server's own database, where ``CREATE DATABASE`` is run from."""

MARK_TABLE = "revfield_made_by"
"""One row naming the revfield command that made the database (``revfield demo``)."""

MEMORY_TABLES = frozenset({*Base.metadata.tables, "alembic_version", MARK_TABLE})
"""The tables revfield's migrations (and :func:`mark_database`) make."""

_AUDIT_FUNCTION = "revfield_audit_log_append_only"  # migration 0009's trigger function

_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

_RELATIONS = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
           n.nspname = current_schema() AS here,
           has_table_privilege(c.oid, 'SELECT') AS readable
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    ORDER BY n.nspname = current_schema() DESC, n.nspname, c.relname
    """
)


@dataclass(frozen=True)
class FoundTable:
    """A table (or view) in a database, outside PostgreSQL's own schemas."""

    name: str
    """Its name; ``schema.name`` when it is outside the connection's current schema."""
    kind: str
    """``table``, ``partitioned table``, ``view``, ``materialized view`` or ``foreign table``."""
    has_rows: bool | None
    """Whether it holds a row; None for a view or foreign table, or one this user may not
    read."""

    def describe(self) -> str:
        """``table orders (has rows)``: the table as a message names it."""
        rows = {True: " (has rows)", False: " (empty)", None: ""}[self.has_rows]
        return f"{self.kind} {self.name}{rows}"


@dataclass(frozen=True)
class DatabaseContents:
    """What a database holds, for deciding whether a command may use it."""

    tables: tuple[FoundTable, ...]
    """Every table and view outside PostgreSQL's own schemas (the current schema's first)."""
    made_by: str | None
    """The revfield command that marked the database as its own (:func:`mark_database`);
    None if none did."""

    @property
    def empty(self) -> bool:
        """No table or view at all."""
        return not self.tables


def create_database_if_missing(store: Store) -> bool:
    """Create the PostgreSQL database ``store`` names if it does not exist (from the server's
    ``postgres`` database, with the same user); True if it was created. A database that
    exists is never touched. One that can be neither opened nor created is a
    :class:`StoreError` saying why, with the server's own words."""
    url = store.engine.url
    name = str(url.database or "")
    try:
        with store.engine.connect():
            return False
    except sa.exc.DBAPIError as exc:
        opening = exc  # it may not exist, or exist and refuse us: the server says which
    admin = sa.create_engine(
        url.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    where = _server(url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is not None:  # there, but we could not open it: say why
                raise StoreError(
                    f"cannot open the database `{name}` on {where}: {_words(opening)}\n"
                    "  help: may this user connect to it? or name another database"
                )
            quoted = conn.dialect.identifier_preparer.quote_identifier(name)
            try:
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
            except sa.exc.DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "42P04":  # made meanwhile
                    return False
                raise StoreError(
                    f"the database `{name}` does not exist on {where}, and user "
                    f"`{url.username}` may not create it: {_words(exc)}\n"
                    f"  help: create it (`createdb -h {url.host or 'localhost'} {name}`, or ask "
                    "the server's administrator), or name an empty database this user may use"
                ) from None
    except sa.exc.DBAPIError as exc:
        first, then = _words(opening), _words(exc)
        also = (
            ""
            if then == first
            else f"; nor could the server's `{MAINTENANCE_DATABASE}` database, to create it: {then}"
        )
        raise StoreError(
            f"cannot open the database `{name}` on {where}: {first}{also}\n"
            "  help: is the server running, and are the host, port and user right? (a "
            "missing database is created from the server's `postgres` database)"
        ) from None
    finally:
        admin.dispose()
    return True


def database_contents(store: Store) -> DatabaseContents:
    """Every table and view in ``store``'s PostgreSQL database outside PostgreSQL's own
    schemas, whether each holds a row, and the mark a revfield command left (if any)."""
    found: list[FoundTable] = []
    made_by: str | None = None
    with store.read() as session:
        for row in session.execute(_RELATIONS).mappings():
            kind = _KINDS[row["kind"]]
            qualified = ".".join(
                session.get_bind().dialect.identifier_preparer.quote_identifier(part)
                for part in (row["schema"], row["name"])
            )
            has_rows: bool | None = None
            if row["readable"] and kind in ("table", "partitioned table", "materialized view"):
                has_rows = bool(
                    session.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {qualified})")).scalar()
                )
            name = row["name"] if row["here"] else f"{row['schema']}.{row['name']}"
            found.append(FoundTable(name=name, kind=kind, has_rows=has_rows))
            if row["here"] and row["name"] == MARK_TABLE and row["readable"]:
                made_by = session.execute(
                    sa.text(f"SELECT made_by FROM {qualified} ORDER BY made_by LIMIT 1")
                ).scalar()
    return DatabaseContents(tables=tuple(found), made_by=made_by)


def mark_database(store: Store, made_by: str) -> None:
    """Mark ``store``'s database as made by ``made_by`` (one row in :data:`MARK_TABLE`, in
    the current schema), so that command may later recognise it as its own."""
    with store.session() as session:
        session.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {MARK_TABLE} (made_by TEXT NOT NULL)"))
        session.execute(sa.text(f"DELETE FROM {MARK_TABLE}"))
        session.execute(
            sa.text(f"INSERT INTO {MARK_TABLE} (made_by) VALUES (:made_by)"),
            {"made_by": made_by},
        )


def drop_memory(store: Store, *, also: Collection[str] = ()) -> None:
    """Drop revfield's memory from ``store``'s PostgreSQL database, rows and schema: its
    tables, ``alembic_version``, :data:`MARK_TABLE` and its trigger function, plus the
    current schema's tables named in ``also`` (such as the checkpointer's), those that exist,
    in one transaction. Never ``CASCADE``: an object of someone else's that depends on one of
    them makes it fail, and nothing is dropped. A table another connection holds is waited
    for 30 s, then a :class:`StoreError` saying so."""
    names = sorted({*MEMORY_TABLES, *also})
    try:
        _drop(store, names)
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise StoreError(
            f"cannot reset the database `{store.engine.url.database}`: another connection is "
            f"using its tables ({_words(exc)}); nothing was dropped\n"
            "  help: stop what uses it (`revfield serve`, workers, a psql session), then run "
            "the command again"
        ) from None


def _drop(store: Store, names: list[str]) -> None:
    with store.session() as session:
        preparer = session.get_bind().dialect.identifier_preparer
        there = set(
            session.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = ANY(:names)"
                ),
                {"names": names},
            ).scalars()
        )
        session.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
        if there:
            tables = ", ".join(preparer.quote_identifier(t) for t in sorted(there))
            session.execute(sa.text(f"DROP TABLE {tables}"))
        session.execute(sa.text(f"DROP FUNCTION IF EXISTS {_AUDIT_FUNCTION}()"))


def _server(url: sa.URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _words(exc: sa.exc.DBAPIError) -> str:
    """The driver's message, on one line (without psycopg's ``connection failed: …`` lead)."""
    text = " ".join(str(exc.orig if exc.orig is not None else exc).split())
    text = text.removeprefix("connection failed: ")
    return text.split(" failed: FATAL: ")[-1] if " failed: FATAL: " in text else text
