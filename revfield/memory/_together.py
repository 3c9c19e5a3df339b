"""Statements run together: the reads a step needs at once, in one round trip, and the writes
on an agent run's path, without SQLAlchemy's per-statement machinery.

An agent run reads the account's memory before drafting (the account, its facts, contacts,
deals, signals and churn risk), reads it again under the account's lock before deciding, and
writes its actions, decisions, outbox rows and audit entries. Through ``session.execute`` each
statement is one round trip to PostgreSQL and, on either database, some 150 Python calls of
SQLAlchemy's own (cache key, execution context, result) — more than SQLite takes to run most of
these statements, and as much as the whole of a bare LangGraph step.

:func:`run_together` runs a list of statements built once (module constants: ``select()``,
``insert()``/``update()`` with bound parameters, with or without ``RETURNING``) in the
session's own transaction:

- each statement is compiled by SQLAlchemy once per dialect, with its bind and result type
  processors, so values go in and come back exactly as ``session.execute`` takes and gives
  them (aware datetimes, JSON, enums, booleans); an ``in_()`` list's placeholders are rendered
  once per length of list;
- on PostgreSQL every statement is sent in one pipeline: one round trip for all of them;
- on SQLite each runs on the connection's cursor.

A driver error is raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, as
``session.execute`` would raise it. The engine's ``before_cursor_execute`` and
``after_cursor_execute`` listeners and its statement log see every statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

__all__ = ["Rows", "Run", "insert_of", "insert_rows", "insert_runs", "run_together", "watched"]

Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete | sa.TextClause
Run = tuple[Statement, Mapping[str, Any]]
"""A statement (built once: a module constant, or kept in a module's cache) and its
parameters."""

_Processor = Callable[[Any], Any] | None
_log = logging.getLogger("sqlalchemy.engine.Engine")
_CONNECTION = "revfield.together"  # where a session keeps its transaction's connection


class Rows(list[dict[str, Any]]):
    """One statement's rows, as dicts keyed like ``.mappings()``; ``rowcount``: the rows a
    write changed (the driver's count)."""

    rowcount: int = -1


class _Slot:
    """Stands for one parameter (one element of an ``in_()`` list) while a template of the
    statement's SQL and arguments is worked out."""

    __slots__ = ("index", "name")

    def __init__(self, name: str, index: int | None) -> None:
        self.name, self.index = name, index


_TEMPLATED = 64
"""The longest ``in_()`` list whose SQL is kept (a longer one is rendered for each call, so
a bulk update of thousands of ids keeps nothing)."""
_TEMPLATES = 128
"""The most templates kept for one statement."""

_Arg = tuple[str, str, int | None, _Processor]
"""The driver's key for an argument, the parameter it comes from, the element of that
parameter's list (``None``: the parameter itself), and its bind processor."""


class _Prepared:
    """One statement compiled for one dialect: its SQL and arguments (per length of each of
    its ``in_()`` lists) and its rows' processors."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            names = [c.name for c in (compiled.insert_prefetch or compiled.update_prefetch)]
            raise ValueError(
                f"columns with Python-side defaults are not supplied: {', '.join(names)} "
                "(give their values, or run the statement through session.execute)"
            )
        self.compiled = compiled
        self.dialect = dialect
        self.positional = bool(dialect.positional)
        self.processors: dict[str, _Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in compiled.bind_names.items()
        }
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self.expanding = tuple(name for name, b in binds.items() if b.expanding)
        self.required = frozenset(name for name, b in binds.items() if b.required)
        self.defaults = {name: b for name, b in binds.items() if not b.required}
        # values rendered into the SQL, or a list of tuples: worked out by SQLAlchemy each call
        self.literal = bool(compiled.literal_execute_params) or any(
            isinstance(b.type, sa.types.TupleType) for b in binds.values() if b.expanding
        )
        self.templates: dict[tuple[int, ...], tuple[str, tuple[_Arg, ...]]] = {}
        # a write's RETURNING columns (PostgreSQL's INSERT returns the new id unasked); a
        # text() statement's columns are unknown (its values come as the driver gives them)
        returning = compiled.effective_returning
        columns = getattr(statement, "exported_columns", ()) if returning is None else returning
        self.types = tuple(c.type for c in columns)
        self.result: tuple[tuple[str, ...], tuple[_Processor, ...]] | None = None

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and the driver's arguments for ``params``."""
        if self.literal:  # values rendered into the SQL: worked out for each call
            return self._expanded(params)
        lists = (
            {n: params[n] if n in params else self._default(n) for n in self.expanding}
            if self.expanding
            else {}
        )
        lengths = tuple(len(v) for v in lists.values())
        template = self.templates.get(lengths)
        if template is None:
            if any(n > _TEMPLATED for n in lengths) or len(self.templates) >= _TEMPLATES:
                return self._expanded(params)  # a long list: its SQL is not kept
            template = self._template(lengths)
            if template is None:  # e.g. a tuple_() in_(): worked out for each call
                self.literal = True
                return self._expanded(params)
            self.templates[lengths] = template
        sql, args = template
        values = [
            (params[name] if name in params else self._default(name))
            if index is None
            else lists[name][index]
            for _, name, index, _ in args
        ]
        processed = [v if p is None else p(v) for v, (_, _, _, p) in zip(values, args, strict=True)]
        if self.positional:
            return sql, processed
        return sql, {key: v for (key, _, _, _), v in zip(args, processed, strict=True)}

    def _default(self, name: str) -> Any:
        """The value of a parameter the caller did not give: the statement's own."""
        if name in self.required:
            raise sa.exc.InvalidRequestError(f"A value is required for bind parameter {name!r}")
        return self.defaults[name].effective_value

    def _template(self, lengths: tuple[int, ...]) -> tuple[str, tuple[_Arg, ...]] | None:
        """The SQL for lists of ``lengths``, and where each of its arguments comes from (None
        when an argument is not one parameter or one element of a list)."""
        compiled = self.compiled
        escaped: dict[str, str] = compiled.escaped_bind_names or {}
        if not self.expanding:
            names = (compiled.positiontup or []) if self.positional else list(self.processors)
            return compiled.string, tuple(
                (escaped.get(n, n), n, None, self.processors.get(n)) for n in names
            )
        slots: dict[str, Any] = {name: _Slot(name, None) for name in self.processors}
        for name, n in zip(self.expanding, lengths, strict=True):
            slots[name] = [_Slot(name, i) for i in range(n)]
        state = compiled.construct_expanded_state(slots, escape_names=False)
        processors = {**self.processors, **state.processors}
        order = (state.positiontup or []) if self.positional else list(state.parameters)
        args: list[_Arg] = []
        for key in order:
            slot = state.parameters[key]
            if not isinstance(slot, _Slot):
                return None
            args.append((escaped.get(key, key), slot.name, slot.index, processors.get(key)))
        return state.statement, tuple(args)

    def _expanded(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and arguments worked out by SQLAlchemy for this one call."""
        compiled = self.compiled
        state = compiled.construct_expanded_state(dict(params), escape_names=False)
        processors = {**self.processors, **state.processors}
        values = state.parameters
        if self.positional:
            return state.statement, [
                v if (p := processors.get(k)) is None else p(v)
                for k, v in ((k, values[k]) for k in state.positiontup or [])
            ]
        escaped: dict[str, str] = compiled.escaped_bind_names or {}
        return state.statement, {
            escaped.get(k, k): v if (p := processors.get(k)) is None else p(v)
            for k, v in values.items()
        }

    def rows(self, description: Any, raw: list[Any]) -> Rows:
        """The rows as dicts keyed by the columns' labels, their values processed."""
        out = Rows()
        if description is None:  # a write without RETURNING
            return out
        if self.result is None:  # the columns' names and types are the statement's own
            dialect = self.dialect
            self.result = (
                tuple(d[0] for d in description),
                tuple(
                    t.dialect_impl(dialect).result_processor(dialect, d[1])
                    for t, d in zip(self.types, description, strict=True)
                )
                if self.types
                else (None,) * len(description),  # text(): the driver's values
            )
        keys, processors = self.result
        if not any(processors):
            out.extend(dict(zip(keys, r, strict=True)) for r in raw)
        else:
            out.extend(
                {k: v if p is None else p(v) for k, v, p in zip(keys, r, processors, strict=True)}
                for r in raw
            )
        return out


_PREPARED: dict[tuple[int, str], tuple[Statement, _Prepared]] = {}


def _prepared(statement: Statement, dialect: Dialect) -> _Prepared:
    key = (id(statement), dialect.name)
    found = _PREPARED.get(key)
    if found is None or found[0] is not statement:
        found = (statement, _Prepared(statement, dialect))
        _PREPARED[key] = found
    return found[1]


def _connection(session: Session | sa.Connection) -> tuple[sa.Connection, Any, bool]:
    """The connection in the session's current transaction (begun if it was not), the
    driver's connection under it, and whether the engine's cursor listeners are to see its
    statements; kept for the transaction."""
    if isinstance(session, sa.Connection):
        driver = session.connection.dbapi_connection
        return session, driver, _listened(session.engine)
    transaction = session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if transaction is not None and kept is not None and kept[0] is transaction:
        return kept[1]  # type: ignore[no-any-return]
    connection = session.connection()
    driver = connection.connection.dbapi_connection
    assert driver is not None
    found = (connection, driver, _listened(connection.engine))
    session.info[_CONNECTION] = (session.get_transaction(), found)
    return found


def run_together(session: Session | sa.Connection, runs: Sequence[Run]) -> list[Rows]:
    """Run ``runs`` in the session's (or connection's) transaction, in order, in one round
    trip on PostgreSQL (with the BEGIN of a transaction they start);
    returns each statement's rows (dicts keyed like ``.mappings()``; none for a write without
    ``RETURNING``) with the rows it changed as ``rowcount``.

    Each statement must be built once (it is compiled once per dialect and kept). An
    ``insert()`` names its columns as bound parameters (``values({c: bindparam(c)})``): a
    column with a Python-side default left out is refused, as it would not be filled."""
    if isinstance(session, Session) and session.autoflush:
        session.flush()  # objects added to the session are written first, as execute() does
    connection, driver, listened = _connection(session)
    dialect = connection.dialect
    prepared = [(_prepared(s, dialect), p) for s, p in runs]
    sent = [p.arguments(params) for p, params in prepared]
    logged = _log.isEnabledFor(logging.INFO)  # echo=True, or logging set up for SQLAlchemy
    cursors: list[Any] = []

    def execute(sql: str, args: Any) -> Any:
        cursor = driver.cursor()
        cursors.append(cursor)
        if logged:
            _log.info("%s\n%r", sql, args)
        if not listened:
            cursor.execute(sql, args)
            return cursor
        context = _Context(cursor=cursor, statement=sql, parameters=args)
        connection.dispatch.before_cursor_execute(connection, cursor, sql, args, context, False)
        cursor.execute(sql, args)
        connection.dispatch.after_cursor_execute(connection, cursor, sql, args, context, False)
        return cursor

    fetched: list[tuple[Any, list[Any], int]] = []
    try:
        if dialect.name == "postgresql":  # a pipeline, even of one: a BEGIN goes with it
            with driver.pipeline():
                for sql, args in sent:
                    execute(sql, args)
            fetched = [_fetched(c, p) for c, (p, _) in zip(cursors, prepared, strict=True)]
        else:
            for (sql, args), (p, _) in zip(sent, prepared, strict=True):
                fetched.append(_fetched(execute(sql, args), p))
    except dialect.loaded_dbapi.Error as exc:
        sql, args = sent[max(len(cursors) - 1, 0)]
        raise sa.exc.DBAPIError.instance(
            sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        for c in cursors:
            c.close()
    results = []
    for (p, _), (description, raw, count) in zip(prepared, fetched, strict=True):
        rows = p.rows(description, raw)
        rows.rowcount = count
        results.append(rows)
    return results


def _fetched(cursor: Any, prepared: _Prepared) -> tuple[Any, list[Any], int]:
    """A cursor's description (only the first time its statement runs: psycopg builds it
    anew, column by column, at each look; after that, whether it returned rows), its rows and
    the rows it changed."""
    if prepared.result is None:
        description = cursor.description
    else:
        result = getattr(cursor, "pgresult", None)  # psycopg's, without building the columns
        returned = cursor.description is not None if result is None else result.nfields > 0
        description = () if returned else None
    raw = cursor.fetchall() if description is not None else []
    return description, raw, cursor.rowcount


def _listened(engine: sa.Engine) -> bool:
    return bool(engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute)


def watched(engine: sa.Engine) -> bool:
    """Whether anything watches the engine's statements: its cursor listeners, or its log
    (``echo=True``, or the ``sqlalchemy.engine`` logger at INFO)."""
    return _listened(engine) or _log.isEnabledFor(logging.INFO)


class _Context(SimpleNamespace):
    """What listeners get as the execution context (they may keep attributes on it)."""


_INSERTS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], sa.Insert] = {}
_MANY = 32
"""More rows than this are inserted with one ``executemany`` (SQLAlchemy's)."""


def insert_of(
    table: sa.Table, columns: Iterable[str], returning: tuple[str, ...] = ()
) -> sa.Insert:
    """The INSERT into ``table`` of ``columns``, each a parameter of its own name (returning
    the columns ``returning``), built once per table and columns: a statement
    :func:`run_together` runs."""
    key = (table.name, tuple(columns), returning)
    found = _INSERTS.get(key)
    if found is None:
        statement = sa.insert(table).values({c: sa.bindparam(c) for c in key[1]})
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
        found = _INSERTS[key] = statement
    return found


def insert_rows(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts of column values, each with the same columns): a few together
    (one round trip on PostgreSQL), many as one ``executemany``."""
    runs = insert_runs(session, table, rows)
    if runs:
        run_together(session, runs)


def insert_runs(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[Run]:
    """The inserts of ``rows`` to run together with others; many rows are inserted at once
    instead (one ``executemany``), and none is left to run."""
    if len(rows) > _MANY:
        session.execute(sa.insert(table), [dict(r) for r in rows])
        return []
    return [(insert_of(table, tuple(r)), r) for r in rows]
