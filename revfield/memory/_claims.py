"""Claims on work and locks on accounts: how several workers share one PostgreSQL database.

- A **claim** says "this process is working on that unit" (an agent run's thread, a bucket of
  signals, a sweep). It is a PostgreSQL *session* advisory lock held by one connection the
  process keeps for its claims, so it ends with that connection: a worker killed with
  SIGKILL, or cut off from the database, frees its claims at once, and another worker takes
  the work over. A worker that hangs without dying stops beating; another worker terminates
  its claims' connection once its heartbeat is older than the lease (see
  :func:`cut_off_lost_workers`).
- An **account lock** (:func:`lock_account`) is a *transaction* advisory lock: a transaction
  that decides for an account holds it, so guardrail counters, caps and budgets are read and
  written serially per account while different accounts run in parallel. A motion's daily
  budget, which spans accounts, needs no lock: it is a counter that an automated decision
  takes a slot of with one conditional update (:func:`~revfield.memory.reserve_budget`).

On SQLite there is one writer at a time (every write transaction starts with ``BEGIN
IMMEDIATE``), so the locks are not needed and the claims are kept in the process; a second
worker process on the same SQLite file is refused by :func:`~revfield.memory.Store`'s caller
(``revfield worker`` holds a lock file).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from revfield.memory._sql import insert_ignore
from revfield.memory._store import Store, StoreError
from revfield.memory._tables import SCHEDULES, WORKERS
from revfield.memory._together import Rows, Run, run_together
from revfield.memory._types import as_utc

__all__ = [
    "BUCKETS",
    "ClaimKind",
    "Claims",
    "account_lock",
    "beat",
    "bucket_expr",
    "claim_schedule",
    "cut_off_lost_workers",
    "lock_account",
    "lock_buckets",
    "new_worker_id",
    "register_worker",
    "stop_worker",
    "worker_rows",
]

BUCKETS = 16
"""Signals are detected in this many buckets of accounts: one worker per bucket at a time, so
detection's cooldown and effects stay serial per account."""

_CLASS = 0x52460000
"""High bits of the first key of every revfield advisory lock (``RF``), so revfield's locks
don't meet another application's in the same database."""
_KEYS = (sa.bindparam("c_class", type_=sa.Integer), sa.bindparam("c_key", type_=sa.Integer))
_TRY = sa.select(sa.func.pg_try_advisory_lock(*_KEYS))
_UNLOCK = sa.select(sa.func.pg_advisory_unlock(*_KEYS))


class ClaimKind(IntEnum):
    """What a claim is on; the second key is the unit's id."""

    THREAD = 1
    """An agent run (its field event's id): a run, its resumption, its settling."""
    DETECT = 2
    """A bucket of accounts whose pending signals one worker detects."""
    SWEEP = 3
    """A periodic sweep (the key says which)."""
    ACCOUNT_BUCKET = 4
    """Transaction locks: detection's writes for a bucket of accounts."""


def bucket_expr(account_id: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """The detection bucket of an account, in SQL (PostgreSQL's ``hashtext``; signals that name
    no account are in bucket 0): one definition for the claims and the locks."""
    hashed = sa.func.hashtext(account_id).op("&")(BUCKETS - 1)
    return sa.func.coalesce(hashed, 0)


def _pg(session_or_conn: Session | sa.Connection) -> bool:
    bind = session_or_conn.get_bind() if isinstance(session_or_conn, Session) else session_or_conn
    return bind.dialect.name == "postgresql"


def account_lock(account_id: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The statement that holds the account ``account_id`` (an expression: a parameter, or a
    subquery) for the rest of the transaction (PostgreSQL; see :func:`lock_account`)."""
    key = sa.func.hashtextextended(sa.literal("account:", sa.Text) + account_id, 0)
    return sa.select(sa.func.pg_advisory_xact_lock(key))


_ACCOUNT_LOCK = account_lock(sa.bindparam("account_id", type_=sa.Text))


def lock_account(session: Session, account_id: str) -> None:
    """Hold the account for the rest of this transaction: another transaction deciding for it
    waits here, and then reads what this one wrote (PostgreSQL; SQLite's write lock already
    serializes every writer)."""
    if _pg(session):
        session.execute(_ACCOUNT_LOCK, {"account_id": account_id})


def lock_buckets(session: Session, account_ids: Iterable[str | None]) -> None:
    """Hold the detection buckets of these accounts for the rest of this transaction, in
    order: detection's writes for one account never run side by side (PostgreSQL)."""
    if not _pg(session):
        return
    given = set(account_ids)
    ids = sorted(a for a in given if a is not None)
    buckets: set[int] = {0} if None in given else set()
    if ids:
        unnested = (
            sa.func.unnest(sa.literal(ids, sa.ARRAY(sa.Text)))
            .table_valued("value")
            .render_derived()
        )
        found = sa.select(bucket_expr(unnested.c.value)).distinct()
        buckets.update(int(b) for b in session.scalars(found))
    for bucket in sorted(buckets):
        session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(_CLASS + ClaimKind.ACCOUNT_BUCKET, bucket))
        )


class Claims:
    """The claims of one process, held by one connection of their own (PostgreSQL) or in the
    process (SQLite). Thread-safe: ``revfield serve`` answers from several threads.

    ``keep``: keep the connection between claims (a worker, whose heartbeat names it so a
    lost worker's claims can be freed); otherwise it goes back to the pool whenever nothing
    is claimed."""

    def __init__(self, store: Store, *, keep: bool = False) -> None:
        self.store = store
        self.keep = keep
        self._lock = threading.Condition()
        self._held: dict[tuple[int, int], int] = {}
        """Claims held, and the thread that holds each."""
        self._conn: sa.Connection | None = None

    @property
    def postgres(self) -> bool:
        return self.store.dialect == "postgresql"

    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._held.clear()  # a new session holds nothing
        return self._conn

    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the claims' connection (None on SQLite)."""
        if not self.postgres:
            return None
        with self._lock:
            return int(self._run(sa.select(sa.func.pg_backend_pid())))

    def _run(self, statement: sa.Select[tuple[Any]], params: dict[str, Any] | None = None) -> Any:
        """One statement on the claims' connection. A connection that broke (the database
        restarted, the worker was cut off) took every claim with it: it is dropped, and the
        failure is a :class:`StoreError`, which a worker answers by reconnecting."""
        try:
            return self._connection().execute(statement, params).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            self._drop()
            raise StoreError(
                f"lost the connection that holds this process's claims: {str(exc).splitlines()[0]}"
            ) from exc

    def try_claim(self, kind: ClaimKind, key: int) -> bool:
        """Claim a unit unless another process (or another thread of this one) holds it;
        returns whether this call claimed it. A unit this thread holds already is not claimed
        again (False): see :meth:`holding`, which lets code under a claim run."""
        k = (int(kind), int(key))
        with self._lock:
            if k in self._held:
                return False
            if self.postgres:
                got = self._run(_TRY, {"c_class": _CLASS + k[0], "c_key": k[1]})
                if not got:
                    return False
            self._held[k] = threading.get_ident()
            return True

    def held_here(self, kind: ClaimKind, key: int) -> bool:
        """Whether this thread holds the unit (it claimed it, and works on it)."""
        with self._lock:
            return self._held.get((int(kind), int(key))) == threading.get_ident()

    def claim_reading(self, kind: ClaimKind, key: int, runs: Sequence[Run]) -> list[Rows] | None:
        """:meth:`try_claim`, and when claimed, ``runs`` (reads) right after the claim: on
        PostgreSQL in the same round trip, on the claims' connection. Returns each read's
        rows, or None when the unit was not claimed (what was read then is dropped)."""
        k = (int(kind), int(key))
        if not self.postgres:
            if not self.try_claim(kind, key):
                return None
            try:
                with self.store.read() as session:
                    return run_together(session, runs)
            except BaseException:
                self.release(kind, key)
                raise
        with self._lock:
            if k in self._held:
                return None
            params = {"c_class": _CLASS + k[0], "c_key": k[1]}
            try:
                got, *rows = run_together(self._connection(), [(_TRY, params), *runs])
            except sa.exc.SQLAlchemyError as exc:
                self._drop()
                raise StoreError(
                    "lost the connection that holds this process's claims: "
                    f"{str(exc).splitlines()[0]}"
                ) from exc
            if not next(iter(got[0].values())):
                self._return_idle()
                return None
            self._held[k] = threading.get_ident()
            return rows

    def release(self, kind: ClaimKind, key: int) -> None:
        """Let go of a unit this process claimed."""
        k = (int(kind), int(key))
        with self._lock:
            if self._held.pop(k, None) is None:
                return
            self._lock.notify_all()
            if self.postgres and self._conn is not None and not self._conn.closed:
                try:
                    self._conn.execute(_UNLOCK, {"c_class": _CLASS + k[0], "c_key": k[1]})
                except sa.exc.SQLAlchemyError:  # the connection is gone: so is the claim
                    self._drop()
                    return
                self._return_idle()

    @contextmanager
    def holding(self, kind: ClaimKind, key: int, *, wait: float = 0.0) -> Iterator[bool]:
        """``with claims.holding(kind, id) as mine:`` — the block may work on the unit when
        ``mine``: claimed now (and released after the block), or held already by this thread
        (a worker that claimed a run, then runs it). False: someone else works on it (and
        still did after ``wait`` seconds, when given: a thread of this process is waited for
        until it lets go, another process is asked again every 50 ms)."""
        k = (int(kind), int(key))
        with self._lock:
            already = self._held.get(k) == threading.get_ident()
        if already:
            yield True
            return
        mine = self.try_claim(kind, key)
        deadline = time.monotonic() + wait
        while not mine and time.monotonic() < deadline:
            with self._lock:
                self._lock.wait(min(0.05, max(deadline - time.monotonic(), 0.0)))
            mine = self.try_claim(kind, key)
        try:
            yield mine
        finally:
            if mine:
                self.release(kind, key)

    def _return_idle(self) -> None:
        """The connection back to the pool when it holds no claim (unless kept)."""
        if not self._held and not self.keep and self._conn is not None:
            self._conn.close()
            self._conn = None

    def held(self) -> set[tuple[int, int]]:
        with self._lock:
            return set(self._held)

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(sa.exc.SQLAlchemyError):
                self._conn.invalidate()
            with suppress(sa.exc.SQLAlchemyError):
                self._conn.close()
        self._conn = None
        self._held.clear()

    def reset(self) -> None:
        """Forget every claim and the connection (after the database went away: PostgreSQL
        freed the claims when the connection ended)."""
        with self._lock:
            self._drop()

    def close(self) -> None:
        """Release every claim (closing the connection ends them all)."""
        with self._lock:
            if self._conn is not None:
                try:
                    if self.postgres and not self._conn.closed:
                        self._conn.execute(sa.select(sa.func.pg_advisory_unlock_all()))
                    self._conn.close()
                except sa.exc.SQLAlchemyError:
                    self._drop()
            self._conn = None
            self._held.clear()


# -- workers: heartbeat, lease, schedules ----------------------------------------------------


def new_worker_id() -> str:
    """``<host>:<pid>:<random>``: unique per process start."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(3)}"


def _count(result: object) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _db_now(session: Session) -> datetime:
    """The database's time (aware UTC): the one clock every worker's heartbeat is read by."""
    return as_utc(session.execute(sa.select(sa.func.current_timestamp())).scalar_one())


def register_worker(session: Session, worker_id: str, backend_pid: int | None) -> None:
    """A worker starts: its row, beating from now (the database's clock: one for every host)."""
    now = _db_now(session)
    session.execute(
        sa.insert(WORKERS).values(
            id=worker_id,
            host=worker_id.split(":")[0],
            pid=os.getpid(),
            backend_pid=backend_pid,
            started_at=now,
            beat_at=now,
            stopped_at=None,
            status="running",
            units=0,
        )
    )


def beat(session: Session, worker_id: str, units: int, backend_pid: int | None) -> bool:
    """The worker is alive (and has done ``units``). False when another worker has marked it
    lost meanwhile: its claims were taken over, and it must stop."""
    done = session.execute(
        sa.update(WORKERS)
        .where(WORKERS.c.id == worker_id, WORKERS.c.status == "running")
        .values(beat_at=_db_now(session), units=units, backend_pid=backend_pid)
    )
    return _count(done) > 0


def stop_worker(session: Session, worker_id: str, units: int) -> None:
    """A worker shut down cleanly."""
    session.execute(
        sa.update(WORKERS)
        .where(WORKERS.c.id == worker_id, WORKERS.c.status == "running")
        .values(status="stopped", stopped_at=_db_now(session), units=units, backend_pid=None)
    )


def cut_off_lost_workers(session: Session, lease: timedelta, *, me: str) -> list[str]:
    """Workers whose heartbeat is older than ``lease``: each is marked ``lost`` and, on
    PostgreSQL, the connection holding its claims is terminated, which frees them for the
    others. Returns their ids."""
    now = _db_now(session)
    rows = session.execute(
        sa.select(WORKERS.c.id, WORKERS.c.backend_pid)
        .where(
            WORKERS.c.status == "running",
            WORKERS.c.beat_at < now - lease,
            WORKERS.c.id != me,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        if row.backend_pid is not None and _pg(session):
            session.execute(
                # waiting (up to 5 s) until it is gone, and its claims with it
                sa.text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid = :pid"
                ),
                {"pid": row.backend_pid},
            )
        session.execute(
            sa.update(WORKERS)
            .where(WORKERS.c.id == row.id)
            .values(status="lost", stopped_at=now, backend_pid=None)
        )
    return [row.id for row in rows]


def worker_rows(session: Session) -> list[Any]:
    """``(id, host, pid, status, beat_at, units)`` of every worker, newest first."""
    return list(
        session.execute(
            sa.select(
                WORKERS.c.id,
                WORKERS.c.host,
                WORKERS.c.pid,
                WORKERS.c.status,
                WORKERS.c.beat_at,
                WORKERS.c.units,
            ).order_by(WORKERS.c.started_at.desc())
        ).all()
    )


def claim_schedule(
    session: Session,
    name: str,
    *,
    now: datetime,
    every: timedelta,
    worker_id: str,
    first: bool = True,
) -> bool:
    """Whether this worker runs sweep ``name`` now: yes when it last ran ``every`` ago or
    more (by the business clock), or (``first``) never ran; at most one worker gets yes per
    period."""
    updated = session.execute(
        sa.update(SCHEDULES)
        .where(SCHEDULES.c.name == name, SCHEDULES.c.last_at <= now - every)
        .values(last_at=now, worker_id=worker_id)
    )
    if _count(updated):
        return True
    exists = session.execute(
        sa.select(SCHEDULES.c.name).where(SCHEDULES.c.name == name).with_for_update()
    ).first()
    if exists is not None or not first:
        return False
    dialect = session.get_bind().dialect.name
    inserted = session.execute(
        insert_ignore(dialect, SCHEDULES)
        .values(name=name, last_at=now, worker_id=worker_id)
        .returning(SCHEDULES.c.name)
    )
    return inserted.first() is not None
