"""The SQL of signal ingestion: identity lookups, first-sight prospects and contacts, and
signals stored once per ``(source, external_id)``.

Lookups run in sorted chunks, and inserts go in sorted order, so two writers take their
locks in the same order. On SQLite the signals go in through the driver's ``executemany``;
on PostgreSQL through ``COPY`` into a temporary table. Both store the payload as the same
canonical JSON text, so the two backends hold the same values. Stored keys are looked up with
the ids of a source as one parameter (a JSON array on SQLite, an array joined on PostgreSQL):
one statement per source, whatever the number of ids, each id one probe of the unique index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeAlias

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import CustomerState
from revfield.memory._sql import chunks, insert_ignore
from revfield.memory._tables import ACCOUNTS, CONTACTS

__all__ = [
    "NewContact",
    "SignalKey",
    "SignalRow",
    "StoredSignal",
    "accounts_by_domain",
    "add_contacts",
    "add_prospect_accounts",
    "contacts_by_email",
    "insert_signals",
    "refused_row",
    "stored_signals",
]

LOOKUP_CHUNK = 2000
INSERT_CHUNK = LOOKUP_CHUNK // 4
SIGNAL_LOOKUP_CHUNK = 10_000
"""External ids per statement when looking up stored signals (they go as one parameter)."""

SignalKey: TypeAlias = tuple[str, str]
"""``(source, external_id)``: a signal's identity."""

StoredSignal: TypeAlias = tuple[int, str]
"""``(id, digest)`` of a stored signal."""

SignalRow: TypeAlias = tuple[
    str,  # source
    str,  # external_id
    str,  # kind
    str | None,  # account_id
    int | None,  # contact_id
    str | None,  # contact_email
    datetime,  # occurred_at (aware; UTC spares a conversion)
    dict[str, Any],  # payload
    str,  # payload, serialised as JSON (stored as is)
    str | None,  # text
    str,  # digest
]
"""A new signal as a plain tuple, in the order above (no object per row on the hot path)."""


class NewContact(NamedTuple):
    """A contact seen for the first time, under the account it resolved to."""

    email: str
    account_id: str
    name: str | None
    role: str | None


# -- identities --------------------------------------------------------------------------------


def contacts_by_email(session: Session, emails: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """``email → (contact id, account id)`` of the stored contacts among ``emails``."""
    found: dict[str, tuple[int, str | None]] = {}
    for part in chunks(sorted(emails), LOOKUP_CHUNK):
        q = sa.select(CONTACTS.c.email, CONTACTS.c.id, CONTACTS.c.account_id).where(
            CONTACTS.c.email.in_(part)
        )
        found.update({e: (i, a) for e, i, a in session.execute(q)})
    return found


def accounts_by_domain(session: Session, domains: Iterable[str]) -> dict[str, str]:
    """``domain → account id`` of the stored accounts among ``domains``."""
    found: dict[str, str] = {}
    for part in chunks(sorted(domains), LOOKUP_CHUNK):
        q = sa.select(ACCOUNTS.c.domain, ACCOUNTS.c.id).where(ACCOUNTS.c.domain.in_(part))
        for row in session.execute(q):
            found[row[0]] = row[1]
    return found


def add_prospect_accounts(session: Session, domains: Sequence[str], *, now: datetime) -> int:
    """Start a prospect account per domain (id, name and domain = the domain, source
    ``signal``) unless one exists; the number created."""
    values = [
        {
            "id": d,
            "name": d,
            "domain": d,
            "customer_state": CustomerState.PROSPECT.value,
            "source": "signal",
            "created_at": now,
            "updated_at": now,
        }
        for d in sorted(domains)
    ]
    dialect = session.get_bind().dialect.name
    created = 0
    for rows in chunks(values, INSERT_CHUNK):
        stmt = insert_ignore(dialect, ACCOUNTS).returning(ACCOUNTS.c.id)
        created += len(session.execute(stmt, list(rows)).all())
    return created


def add_contacts(session: Session, contacts: Iterable[NewContact], *, now: datetime) -> int:
    """Store contacts unless their email is already stored; the number created."""
    values = [
        {
            "email": c.email,
            "account_id": c.account_id,
            "name": c.name,
            "role": c.role,
            "do_not_contact": False,
            "created_at": now,
        }
        for c in sorted(contacts, key=lambda c: c.email)
    ]
    dialect = session.get_bind().dialect.name
    created = 0
    for rows in chunks(values, INSERT_CHUNK):
        stmt = insert_ignore(dialect, CONTACTS).returning(CONTACTS.c.id)
        created += len(session.execute(stmt, list(rows)).all())
    return created


# -- signals -----------------------------------------------------------------------------------


def stored_signals(session: Session, keys: Iterable[SignalKey]) -> dict[SignalKey, StoredSignal]:
    """``(source, external_id) → (id, digest)`` of the keys already stored: one statement per
    source (and chunk of :data:`SIGNAL_LOOKUP_CHUNK` ids), each probing the unique index on
    ``(source, external_id)`` once per id."""
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    if not by_source:
        return {}
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        sql = (
            "SELECT external_id, id, digest FROM signals "
            "WHERE source = ? AND external_id IN (SELECT value FROM json_each(?))"
        )
        as_param: Callable[[Sequence[str]], object] = json.dumps
    else:
        # One index probe per id, whatever the planner's statistics say: with ``= ANY(%s)`` or
        # a plain join it may read every signal of the source (a generic plan once the driver
        # prepares the statement, or row estimates from before a large ingest), a cost that
        # grows with the book. ``LIMIT 1`` (the key is unique) keeps the probe a nested loop.
        sql = (
            "SELECT k.external_id, s.id, s.digest FROM unnest(%s::text[]) AS k(external_id) "
            "CROSS JOIN LATERAL (SELECT id, digest FROM signals "
            "WHERE source = %s AND external_id = k.external_id LIMIT 1) AS s"
        )
        as_param = list
    found: dict[SignalKey, StoredSignal] = {}
    for source, ids in sorted(by_source.items()):
        for part in chunks(sorted(set(ids)), SIGNAL_LOOKUP_CHUNK):
            params = (source, as_param(part)) if sqlite else (as_param(part), source)
            for external_id, sid, digest in conn.exec_driver_sql(sql, params):
                found[(source, external_id)] = (sid, digest)
    return found


def insert_signals(
    session: Session,
    rows: Mapping[SignalKey, SignalRow],
    *,
    now: datetime,
    stored: Mapping[SignalKey, StoredSignal] | None = None,
) -> tuple[set[SignalKey], dict[SignalKey, StoredSignal]]:
    """Insert each new signal once (``ON CONFLICT DO NOTHING``), received at ``now``; returns
    the keys inserted and, for keys found already stored, their ``(id, digest)``.

    ``stored`` is what :func:`stored_signals` found for these keys earlier in the same
    transaction, when the caller looked them up: the rows under those keys are not sent, and
    no lookup is repeated for the others (one another writer stores meanwhile is neither
    inserted nor returned: look it up again)."""
    known: dict[SignalKey, StoredSignal] = {}
    if stored is not None:
        known = {key: stored[key] for key in rows if key in stored}
        if known:
            rows = {key: row for key, row in rows.items() if key not in known}
    if session.get_bind().dialect.name == "sqlite":
        inserted, found = _insert_signals_sqlite(session, rows, now)
    else:
        found = stored_signals(session, rows.keys()) if stored is None else {}
        fresh = [row for key, row in sorted(rows.items()) if key not in found]
        inserted = _copy_signals(session, fresh, now) if fresh else set()
    if known:
        found.update(known)
    return inserted, found


SIGNAL_COLUMNS = (
    "source",
    "external_id",
    "kind",
    "account_id",
    "contact_id",
    "contact_email",
    "occurred_at",
    "received_at",
    "payload",
    "text",
    "digest",
)


def _sqlite_time(value: datetime) -> str:
    # Exactly how SQLAlchemy stores a DateTime on SQLite (naive UTC), so reads agree: the
    # UTC ISO text without its "+00:00" (astimezone returns a UTC value as it is).
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _insert_signals_sqlite(
    session: Session, rows: Mapping[SignalKey, SignalRow], now: datetime
) -> tuple[set[SignalKey], dict[SignalKey, StoredSignal]]:
    """SQLite fast path: returns the keys inserted and what is stored for the others.

    The batch holds SQLite's write lock from ``BEGIN IMMEDIATE`` and rowids only grow, so
    one ``INSERT … ON CONFLICT DO NOTHING`` through the driver's ``executemany`` tells by its
    row count whether every row went in; only when some did not are the keys looked up, and
    a row is ours if its id is above the largest id before the insert. (SQLAlchemy's
    per-value bind processing would cost a third of the ingest time here.)
    """
    if not rows:
        return set(), {}
    received = _sqlite_time(now)
    values = [
        (s, e, k, a, ci, ce, _sqlite_time(o), received, pj, t, d)
        for _, (s, e, k, a, ci, ce, o, _p, pj, t, d) in sorted(rows.items())
    ]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    (before,) = cursor.execute("SELECT coalesce(max(id), 0) FROM signals").fetchone()
    cursor.executemany(
        f"INSERT INTO signals ({', '.join(SIGNAL_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(SIGNAL_COLUMNS))}) ON CONFLICT DO NOTHING",
        values,
    )
    if cursor.rowcount == len(values):
        return set(rows), {}
    stored = stored_signals(session, rows.keys())
    inserted = {key for key, (sid, _) in stored.items() if sid > before}
    return inserted, {k: v for k, v in stored.items() if k not in inserted}


def _copy_signals(session: Session, rows: list[SignalRow], now: datetime) -> set[SignalKey]:
    """PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT
    DO NOTHING``: several times faster than multi-row ``VALUES`` through the driver. The
    payload goes in as its JSON text, which the server reads into ``jsonb``."""
    conn = session.connection()
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS revfield_signals_in "
        "(LIKE signals INCLUDING DEFAULTS EXCLUDING IDENTITY) ON COMMIT DELETE ROWS"
    )
    cols = ", ".join(SIGNAL_COLUMNS)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY revfield_signals_in ({cols}) FROM STDIN") as copy:
        for s, e, k, a, ci, ce, o, _p, pj, t, d in rows:
            copy.write_row([s, e, k, a, ci, ce, o, now, pj, t, d])
    result = conn.exec_driver_sql(
        f"INSERT INTO signals ({cols}) SELECT {cols} FROM revfield_signals_in "
        "ORDER BY source, external_id ON CONFLICT DO NOTHING RETURNING source, external_id"
    )
    inserted = {(s, e) for s, e in result}
    conn.exec_driver_sql("TRUNCATE revfield_signals_in")
    return inserted


# SQLSTATE classes of a value the database refuses: data exception, integrity constraint
# violation, program limit exceeded (a value too large to index or store).
_REFUSED_CLASSES = ("22", "23", "54")


def refused_row(exc: BaseException) -> str | None:
    """The database's reason, in one line, when ``exc`` is the database or its driver refusing
    a value of a row (bad data, a broken constraint, a value too large, text the driver can't
    encode); None for anything else (a lost connection, a lock, a bug), which no row causes."""
    orig = exc.orig if isinstance(exc, sa.exc.StatementError) and exc.orig is not None else exc
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        refused = state[:2] in _REFUSED_CLASSES
    else:
        refused = isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError) or isinstance(
            orig, sqlite3.DataError | sqlite3.IntegrityError | UnicodeError | OverflowError
        )
    if not refused:
        return None
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return text if len(text) <= 200 else text[:199] + "…"
