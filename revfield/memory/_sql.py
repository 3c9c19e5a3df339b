"""Dialect-aware SQL building blocks shared by ingestion and the importers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

__all__ = ["chunks", "insert_ignore", "is_retryable"]

T = TypeVar("T")


def insert_ignore(dialect: str, table: sa.Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL (any unique key)."""
    if dialect == "postgresql":  # each dialect's package loads when its database asks
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"revfield supports SQLite and PostgreSQL, not {dialect}")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_retryable(exc: BaseException) -> bool:
    """A transaction that lost a race and can simply be run again (any other exception: no)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(orig or "")
