"""Several reads in one round trip: the statements a step needs at once, run together.

An agent run reads the account's memory before drafting (the account, its facts, contacts,
deals, signals and churn risk) and again under the account's lock before deciding. Through
SQLAlchemy each read is one execution: on PostgreSQL one round trip to the server, and on
either database some 50 µs of SQLAlchemy's own work per statement, more than SQLite takes to
run most of them.

:func:`read_together` runs a list of ``select()`` statements that are built once (module
constants) in the session's own transaction:

- each statement is compiled by SQLAlchemy once per dialect, with its bind and result type
  processors, so values go in and come back exactly as ``session.execute`` gives them
  (aware datetimes, decoded JSON, enums, booleans);
- on PostgreSQL every statement is sent in one pipeline: one round trip for all of them;
- on SQLite each runs on the connection's cursor, without the per-statement machinery.

A driver error is raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, as
``session.execute`` would raise it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

__all__ = ["Read", "read_together"]

Read = tuple[sa.Select[Any], Mapping[str, Any]]
"""A statement (built once, at import) and its parameters."""

_Processor = Callable[[Any], Any] | None
_log = logging.getLogger("sqlalchemy.engine.Engine")


@dataclass
class _Prepared:
    """One statement compiled for one dialect, with its type processors."""

    compiled: Any
    """SQLAlchemy's compiled statement."""
    positional: bool
    processors: dict[str, _Processor]
    """Bind processors by parameter name."""
    types: tuple[sa.types.TypeEngine[Any], ...]
    """The selected columns' types."""
    results: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[_Processor, ...]]] = field(
        default_factory=dict
    )
    """Column names and result processors, per the driver's description of the columns."""

    @classmethod
    def of(cls, statement: sa.Select[Any], dialect: Dialect) -> _Prepared:
        compiled = statement.compile(dialect=dialect)
        return cls(
            compiled=compiled,
            positional=bool(dialect.positional),
            processors={
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for bind, name in compiled.bind_names.items()
            },
            types=tuple(c.type for c in statement.selected_columns),
        )

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and the driver's parameters for ``params``."""
        compiled = self.compiled
        if compiled.post_compile_params or compiled.literal_execute_params:
            # a list in in_(): its placeholders are rendered for its length, as SQLAlchemy does
            state = compiled.construct_expanded_state(dict(params), escape_names=False)
            sql, values, order = state.statement, state.parameters, state.positiontup
            processors = {**self.processors, **state.processors}
        else:
            sql, processors = compiled.string, self.processors
            values = compiled.construct_params(dict(params), escape_names=False)
            order = compiled.positiontup
        if self.positional:
            return sql, [
                v if (p := processors.get(k)) is None else p(v)
                for k, v in ((k, values[k]) for k in order)
            ]
        escaped = compiled.escaped_bind_names or {}
        return sql, {
            escaped.get(k, k): v if (p := processors.get(k)) is None else p(v)
            for k, v in values.items()
        }

    def rows(self, description: Any, raw: list[Any], dialect: Dialect) -> list[dict[str, Any]]:
        """The rows as dicts keyed by the columns' labels, their values processed."""
        shape = tuple((d[0], d[1]) for d in description)
        found = self.results.get(shape)
        if found is None:
            found = (
                tuple(name for name, _ in shape),
                tuple(
                    t.dialect_impl(dialect).result_processor(dialect, code)
                    for t, (_, code) in zip(self.types, shape, strict=True)
                ),
            )
            self.results[shape] = found
        keys, processors = found
        if not any(processors):
            return [dict(zip(keys, r, strict=True)) for r in raw]
        return [
            {k: v if p is None else p(v) for k, v, p in zip(keys, r, processors, strict=True)}
            for r in raw
        ]


_PREPARED: dict[tuple[int, str], tuple[sa.Select[Any], _Prepared]] = {}


def _prepared(statement: sa.Select[Any], dialect: Dialect) -> _Prepared:
    key = (id(statement), dialect.name)
    found = _PREPARED.get(key)
    if found is None or found[0] is not statement:
        found = (statement, _Prepared.of(statement, dialect))
        _PREPARED[key] = found
    return found[1]


def read_together(session: Session, reads: Sequence[Read]) -> list[list[dict[str, Any]]]:
    """Run ``reads`` in the session's transaction, in order, in one round trip on PostgreSQL;
    returns each statement's rows as dicts keyed like ``.mappings()``.

    Each statement must be built once (a module constant: it is compiled once per dialect
    and kept). The engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners
    and its log (``echo=True``, or the ``sqlalchemy.engine`` logger at INFO) see each
    statement, as they see those SQLAlchemy runs."""
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.dbapi_connection
    assert driver is not None
    prepared = [(_prepared(s, dialect), p) for s, p in reads]
    sent = [p.arguments(params) for p, params in prepared]
    cursors: list[Any] = []
    try:
        if dialect.name == "postgresql" and len(sent) > 1:
            with driver.pipeline():
                for sql, args in sent:
                    cursors.append(_execute(connection, driver.cursor(), sql, args))
            fetched = [(c.description, c.fetchall()) for c in cursors]
        else:
            fetched = []
            for sql, args in sent:
                cursor = driver.cursor()
                cursors.append(cursor)
                _execute(connection, cursor, sql, args)
                fetched.append((cursor.description, cursor.fetchall()))
    except dialect.loaded_dbapi.Error as exc:
        sql, args = sent[max(len(cursors) - 1, 0)]
        raise sa.exc.DBAPIError.instance(
            sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        for c in cursors:
            c.close()
    return [p.rows(d, raw, dialect) for (p, _), (d, raw) in zip(prepared, fetched, strict=True)]


class _Context(SimpleNamespace):
    """What listeners get as the execution context (they may keep attributes on it)."""


def _execute(connection: sa.Connection, cursor: Any, sql: str, args: Any) -> Any:
    """``cursor.execute``, logged as SQLAlchemy logs statements and seen by the engine's
    cursor listeners."""
    engine = connection.engine
    if _log.isEnabledFor(logging.INFO):  # as echo=True, or logging configured for SQLAlchemy
        _log.info("%s\n%r", sql, args)
    listened = bool(engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute)
    context = _Context(cursor=cursor, statement=sql, parameters=args) if listened else None
    if listened:
        connection.dispatch.before_cursor_execute(connection, cursor, sql, args, context, False)
    cursor.execute(sql, args)
    if listened:
        connection.dispatch.after_cursor_execute(connection, cursor, sql, args, context, False)
    return cursor
