"""Motion budgets: a motion's automated actions per day, one counter row per motion and day
(UTC), spent one slot at a time.

The counter is what keeps the budget under concurrency. A decision that would automate a
budgeted motion takes its slot with one conditional update (``spent < cap``); on PostgreSQL that
update commits in a transaction of its own, so two workers deciding for different accounts wait
for each other only for the update, not for each other's whole decision. A run hands back the
slots it took ahead and did not use (:func:`release_budget`); a slot whose decision was lost
before its commit (a killed process, a retried transaction) stays taken, which leaves the day a
slot under budget, never over it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._counters import AUTO_SINCE, BUDGET_SPENT, day_start
from revfield.memory._sql import insert_ignore
from revfield.memory._tables import MOTION_BUDGETS
from revfield.memory._together import Rows, Run, run_together

__all__ = ["budget_spent", "release_budget", "reserve_budget"]

_B = sa.bindparam
_T = MOTION_BUDGETS.c
_ROW = (_T.motion == _B("b_motion"), _T.day == _B("b_day"))
_SPENT = sa.select(BUDGET_SPENT)
_TAKE = sa.update(MOTION_BUDGETS).where(*_ROW).values(spent=_T.spent + 1).returning(_T.spent)
_TAKE_CAPPED = (
    sa.update(MOTION_BUDGETS)
    .where(*_ROW, _T.spent < _B("b_cap"))
    .values(spent=_T.spent + 1)
    .returning(_T.spent)
)
_TAKE_MANY = (
    sa.update(MOTION_BUDGETS)
    .where(*_ROW, _T.spent + _B("b_n") <= _B("b_cap"))
    .values(spent=_T.spent + _B("b_n"))
    .returning(_T.spent)
)
_TAKE_MANY_UNCAPPED = (
    sa.update(MOTION_BUDGETS).where(*_ROW).values(spent=_T.spent + _B("b_n")).returning(_T.spent)
)
_GIVE = (
    sa.update(MOTION_BUDGETS).where(*_ROW, _T.spent >= _B("b_n")).values(spent=_T.spent - _B("b_n"))
)
_DECIDED = AUTO_SINCE.scalar_subquery()  # where a new day's counter starts


def _day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def budget_spent(session: Session, motion: str, now: datetime) -> int:
    """The slots of ``motion``'s budget taken on the day of ``now`` (UTC): its automated
    decisions that day (and any lost with their run). Before the day's first slot, the count
    of the day's automated decisions."""
    day = _day(now)
    params = {"b_motion": motion, "b_day": day, "b_since": day_start(day)}
    return int(session.execute(_SPENT, params).scalar_one())


def reserve_budget(
    session: Session, motion: str, now: datetime, cap: int | None, want: int = 1
) -> tuple[int, int]:
    """Take up to ``want`` of ``motion``'s slots for the day of ``now`` (UTC), of ``cap`` (None:
    count them without a cap). Returns how many were taken before these, and how many were
    taken (0 when all ``cap`` are taken already).

    On PostgreSQL the slots are taken and committed at once, in a transaction of their own, and
    stay taken whatever becomes of ``session``'s transaction (:func:`release_budget` hands back
    what a run took and did not use); on SQLite, whose one writer at a time already serializes
    deciders, they are part of ``session``'s transaction."""
    with _own_transaction(session) as tx:
        if want > 1:  # all at once when they are there (one statement)
            many = _TAKE_MANY if cap is not None else _TAKE_MANY_UNCAPPED
            params = {"b_motion": motion, "b_day": _day(now), "b_n": want, "b_cap": cap}
            spent = tx.spent(many, params)
            if spent is None:  # the day's first slots (its counter row, then them), or too few
                _, took = tx.together([(_seed(tx.dialect), _seeding(motion, now)), (many, params)])
                spent = took[0]["spent"] if took else None
            if spent is not None:
                return int(spent) - want, want
        first = _take(tx, motion, now, cap)
        if first is None:
            return 0, 0
        taken = 1
        while taken < want and _take(tx, motion, now, cap) is not None:
            taken += 1
        return first, taken


def release_budget(session: Session, motion: str, now: datetime, slots: int) -> None:
    """Hand back ``slots`` of ``motion``'s slots for the day of ``now`` that a run took ahead
    (:func:`reserve_budget`) and did not use; like the taking, in a transaction of its own on
    PostgreSQL."""
    if slots <= 0:
        return
    with _own_transaction(session) as tx:
        tx.run(_GIVE, {"b_motion": motion, "b_day": _day(now), "b_n": slots})


_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")
_BEGIN = sa.text("BEGIN")
_COMMIT = sa.text("COMMIT")


@dataclass
class _Transaction:
    """Where the counter is updated: the session's transaction, or (``own``) a transaction of
    its own per statement."""

    conn: Session | sa.Connection
    dialect: str
    own: bool = False
    """Each statement commits on its own: its BEGIN, ``SET LOCAL synchronous_commit`` and
    COMMIT travel with it, one round trip on PostgreSQL (a slot taken is kept whatever else
    happens, so nothing is gained by holding the counter's row for two statements)."""

    def run(self, statement: sa.Update | sa.Insert, params: dict[str, object]) -> Rows:
        return self.together([(statement, params)])[0]

    def together(self, runs: list[Run]) -> list[Rows]:
        """``runs`` in one transaction (one round trip on PostgreSQL); each one's rows."""
        if not self.own:
            return run_together(self.conn, runs)
        # durable as soon as anything that used the slot commits (WAL is flushed in order)
        return run_together(self.conn, [(_BEGIN, {}), (_ASYNC_COMMIT, {}), *runs, (_COMMIT, {})])[
            2:-1
        ]

    def spent(self, take: sa.Update, params: dict[str, object]) -> Any:
        """The counter after ``take`` (None: no row, or no slot left)."""
        rows = self.run(take, params)
        return rows[0]["spent"] if rows else None


@contextmanager
def _own_transaction(session: Session) -> Iterator[_Transaction]:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")  # BEGIN and COMMIT are ours
            yield _Transaction(conn, bind.dialect.name, own=True)
    else:
        yield _Transaction(session, bind.dialect.name)


_SEEDS: dict[str, sa.Insert] = {}


def _seed(dialect: str) -> sa.Insert:
    """The day's counter row, starting from the day's automated decisions (none if it is
    there already)."""
    if dialect not in _SEEDS:
        _SEEDS[dialect] = insert_ignore(dialect, MOTION_BUDGETS).values(
            motion=_B("b_motion"), day=_B("b_day"), spent=_DECIDED
        )
    return _SEEDS[dialect]


def _seeding(motion: str, now: datetime) -> dict[str, object]:
    """:func:`_seed`'s parameters: the motion's counter for the day of ``now``."""
    day = _day(now)
    return {"b_motion": motion, "b_day": day, "b_since": day_start(day)}


def _take(tx: _Transaction, motion: str, now: datetime, cap: int | None) -> int | None:
    """One slot: the count before it, or None when none is left."""
    day = _day(now)
    params: dict[str, object] = {"b_motion": motion, "b_day": day}
    take = _TAKE
    if cap is not None:
        take, params["b_cap"] = _TAKE_CAPPED, cap
    spent = tx.spent(take, params)
    if spent is None:  # the day's first slot (its counter row and the slot, together), or none
        _, taken = tx.together([(_seed(tx.dialect), _seeding(motion, now)), (take, params)])
        spent = taken[0]["spent"] if taken else None
    return None if spent is None else int(spent) - 1
