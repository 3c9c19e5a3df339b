"""Reference rows: teams, users, accounts, contacts and deals, as CRM imports and the demo
book write them, and the account lookups they and the CLI need."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypeAlias, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import CustomerState, Segment
from revfield.memory._sql import chunks
from revfield.memory._tables import ACCOUNTS, CONTACTS, DEALS, SIGNALS, TEAMS, USERS

__all__ = [
    "AccountListing",
    "ReferenceTable",
    "TableCount",
    "UpsertTable",
    "customer_account_ids",
    "existing_account_ids",
    "insert_reference_rows",
    "list_accounts",
    "upsert",
]

LOOKUP_CHUNK = 2000
INSERT_CHUNK = 500

UpsertTable: TypeAlias = Literal["accounts", "deals", "teams", "users"]
"""The tables :func:`upsert` writes: rows keyed by a string ``id`` the source chose."""

ReferenceTable: TypeAlias = Literal["accounts", "contacts", "deals", "teams", "users"]
"""The tables :func:`insert_reference_rows` writes."""

TABLES: dict[str, sa.Table] = {
    "accounts": ACCOUNTS,
    "contacts": CONTACTS,
    "deals": DEALS,
    "teams": TEAMS,
    "users": USERS,
}
UPSERTABLE = frozenset(get_args(UpsertTable))


@dataclass
class TableCount:
    """Rows of one table an upsert inserted, updated and left unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _table(name: str, allowed: Iterable[str]) -> sa.Table:
    if name not in allowed:
        raise ValueError(f"not a reference table: {name!r} (one of {', '.join(sorted(allowed))})")
    return TABLES[name]


def upsert(
    session: Session,
    table: UpsertTable,
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> TableCount:
    """Insert new rows, update rows whose values changed, leave the rest alone.

    Rows are keyed by ``id``. ``created_at`` is only written on insert and ``updated_at``
    (when the table has it) only when something changed, so a second identical import
    touches nothing.
    """
    t = _table(table, UPSERTABLE)
    count = TableCount()
    if not rows:
        return count
    key = "id"
    keycol = t.c[key]
    existing: dict[Any, Any] = {}
    for part in chunks(sorted(r[key] for r in rows), LOOKUP_CHUNK):
        for found in session.execute(sa.select(t).where(keycol.in_(part))).mappings():
            existing[found[key]] = found
    stamp = {"created_at", "updated_at"}
    has_updated = "updated_at" in t.c
    columns = {c for r in rows for c in r}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        old = existing.get(row[key])
        if old is None:
            new = {c: row.get(c) for c in columns}  # one shape for executemany
            new.setdefault("created_at", now)
            if has_updated:
                new.setdefault("updated_at", now)
            inserts.append(new)
            continue
        changed = {c: v for c, v in row.items() if c not in stamp and not _same(old[c], v)}
        if changed:
            if has_updated:
                changed["updated_at"] = now
            updates.append({"_key": row[key], **changed})
        else:
            count.unchanged += 1
    for part in chunks(inserts, INSERT_CHUNK):
        session.execute(sa.insert(t), list(part))
    for upd in updates:
        values = {k: v for k, v in upd.items() if k != "_key"}
        session.execute(sa.update(t).where(keycol == upd["_key"]).values(**values))
    count.inserted = len(inserts)
    count.updated = len(updates)
    return count


def _same(old: Any, new: Any) -> bool:
    if hasattr(new, "value") and isinstance(old, str):  # enum member vs stored string
        new = new.value
    if isinstance(old, float) and isinstance(new, int | float):
        return round(old, 2) == round(float(new), 2)
    return bool(old == new)


def insert_reference_rows(
    session: Session, table: ReferenceTable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows as given (they must be new): one multi-row ``INSERT``."""
    t = _table(table, TABLES)
    if rows:
        session.execute(sa.insert(t), list(rows))


def existing_account_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """The ones of ``ids`` that name an account in memory."""
    found: set[str] = set()
    for part in chunks(sorted(set(ids)), LOOKUP_CHUNK):
        found.update(session.scalars(sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.id.in_(part))))
    return found


def customer_account_ids(session: Session, *, source: str | None = None) -> list[str]:
    """Ids of the accounts in state ``customer`` (only those from ``source`` if given), in
    id order."""
    q = sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.customer_state == CustomerState.CUSTOMER.value)
    if source is not None:
        q = q.where(ACCOUNTS.c.source == source)
    return list(session.scalars(q.order_by(ACCOUNTS.c.id)))


class AccountListing(NamedTuple):
    """One line of an account list: the account and how many signals it has."""

    id: str
    name: str
    customer_state: CustomerState
    segment: Segment | None
    owner_id: str | None
    source: str
    signals: int


def list_accounts(
    session: Session,
    *,
    search: str | None = None,
    customer_state: str | None = None,
    source: str | None = None,
    limit: int = 25,
) -> list[AccountListing]:
    """Accounts in id order with their signal counts; ``search`` matches part of the id, name
    or domain (any case), ``customer_state`` and ``source`` match exactly."""
    A, S = ACCOUNTS, SIGNALS
    counts = (
        sa.select(S.c.account_id, sa.func.count().label("n")).group_by(S.c.account_id).subquery()
    )
    q = (
        sa.select(
            A.c.id, A.c.name, A.c.customer_state, A.c.segment, A.c.owner_id, A.c.source, counts.c.n
        )
        .select_from(A.outerjoin(counts, counts.c.account_id == A.c.id))
        .order_by(A.c.id)
        .limit(limit)
    )
    if search:
        like = f"%{search}%"
        q = q.where(sa.or_(A.c.id.ilike(like), A.c.name.ilike(like), A.c.domain.ilike(like)))
    if customer_state:
        q = q.where(A.c.customer_state == customer_state)
    if source:
        q = q.where(A.c.source == source)
    return [
        AccountListing(i, name, state, segment, owner, src, n or 0)
        for i, name, state, segment, owner, src, n in session.execute(q)
    ]
