"""Motion budgets: a motion's automated actions per day, one counter row per motion and day
(UTC), spent one slot at a time.

The counter is what keeps the budget under concurrency. A decision that would automate a
budgeted motion takes its slot with one conditional update (``spent < cap``); on PostgreSQL that
update commits in a transaction of its own, so two workers deciding for different accounts wait
for each other only for the update, not for each other's whole decision. The slot is never
handed back: a decision lost before its commit (a killed process, a retried transaction) leaves
the day a slot under budget, never over it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._counters import auto_decisions_since
from revfield.memory._sql import insert_ignore
from revfield.memory._tables import DECISIONS, MOTION_BUDGETS

__all__ = ["budget_spent", "reserve_budget"]

_B = sa.bindparam
_T = MOTION_BUDGETS.c
_ROW = (_T.motion == _B("b_motion"), _T.day == _B("b_day"))
_SPENT = sa.select(_T.spent).where(*_ROW)
_TAKE = sa.update(MOTION_BUDGETS).where(*_ROW).values(spent=_T.spent + 1).returning(_T.spent)
_TAKE_CAPPED = (
    sa.update(MOTION_BUDGETS)
    .where(*_ROW, _T.spent < _B("b_cap"))
    .values(spent=_T.spent + 1)
    .returning(_T.spent)
)
_DECIDED = (  # the day's automated decisions so far: where a new day's counter starts
    sa.select(sa.func.count())
    .select_from(DECISIONS)
    .where(
        DECISIONS.c.motion == _B("b_motion"),
        DECISIONS.c.verdict == "auto",
        DECISIONS.c.decided_at >= _B("b_since"),
    )
    .scalar_subquery()
)


def _day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def budget_spent(session: Session, motion: str, now: datetime) -> int:
    """The slots of ``motion``'s budget taken on the day of ``now`` (UTC): its automated
    decisions that day (and any lost with their run). Before the day's first slot, the count
    of the day's automated decisions."""
    day = _day(now)
    found = session.execute(_SPENT, {"b_motion": motion, "b_day": day}).scalar_one_or_none()
    if found is not None:
        return int(found)
    return auto_decisions_since(session, motion, _start(day))


def reserve_budget(session: Session, motion: str, now: datetime, cap: int | None) -> int | None:
    """Take one of ``motion``'s slots for the day of ``now`` (UTC), of ``cap`` (None: count it
    without a cap). Returns how many were taken before this one, or None when all ``cap`` are
    taken already (nothing is taken then).

    On PostgreSQL the slot is taken and committed at once, in a transaction of its own, and
    stays taken whatever becomes of ``session``'s transaction; on SQLite, whose one writer at a
    time already serializes deciders, it is part of ``session``'s transaction."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            # durable as soon as anything that used the slot commits (WAL is flushed in order)
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            return _take(conn, bind.dialect.name, motion, now, cap)
    return _take(session, bind.dialect.name, motion, now, cap)


def _take(
    conn: Session | sa.Connection, dialect: str, motion: str, now: datetime, cap: int | None
) -> int | None:
    day = _day(now)
    params: dict[str, object] = {"b_motion": motion, "b_day": day}
    take = _TAKE
    if cap is not None:
        take, params["b_cap"] = _TAKE_CAPPED, cap
    spent = conn.execute(take, params).scalar_one_or_none()
    if spent is None:  # the day's first slot, or none left
        seed = insert_ignore(dialect, MOTION_BUDGETS).values(
            motion=_B("b_motion"), day=_B("b_day"), spent=_DECIDED
        )
        started = conn.execute(seed, {"b_motion": motion, "b_day": day, "b_since": _start(day)})
        if not started.rowcount:  # type: ignore[attr-defined]
            return None
        spent = conn.execute(take, params).scalar_one_or_none()
    return None if spent is None else int(spent) - 1
