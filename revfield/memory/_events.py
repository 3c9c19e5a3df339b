"""Field events: storing what detection raised (routed to an agent), reading one back for its
agent run, and the events that wait for their run. Statuses move through
:func:`~revfield.memory._lifecycle.transition`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.domain import ActionStatus, EventStatus, ReviewStatus, initial
from revfield.memory._claims import ClaimKind, Claims, account_lock
from revfield.memory._sql import chunks
from revfield.memory._tables import ACTIONS, DEALS, EVENTS, REVIEWS
from revfield.memory._together import Run, run_together
from revfield.memory._types import as_utc

__all__ = [
    "EventView",
    "NewFieldEvent",
    "add_field_event_once",
    "add_field_events",
    "answered_while_waiting",
    "event_of",
    "event_of_action",
    "event_read",
    "event_standing",
    "event_status",
    "holding_run",
    "last_raised",
    "load_event",
    "lock_event",
    "runnable_events",
    "waiting_events",
    "waiting_with_answers",
]


@dataclass(frozen=True)
class EventView:
    """A field event as its agent run sees it."""

    id: int
    kind: str
    account_id: str
    signal_ids: tuple[int, ...]
    detail: str
    occurred_at: datetime
    contact_id: int | None = None
    deal_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewFieldEvent:
    """A field event to store, with the agent the router chose (None: no agent acts)."""

    account_id: str
    kind: str
    key: str
    signal_ids: tuple[int, ...]
    detail: str
    data: dict[str, Any]
    occurred_at: datetime
    detected_at: datetime
    agent: str | None
    status: EventStatus
    contact_id: int | None = None
    deal_id: str | None = None


_LOAD = sa.select(EVENTS).where(EVENTS.c.id == sa.bindparam("id"))


def _view(row: Any) -> EventView:
    return EventView(
        id=row["id"],
        kind=row["kind"],
        account_id=row["account_id"],
        signal_ids=tuple(row["signal_ids"] or ()),
        detail=row["detail"],
        occurred_at=row["occurred_at"],
        contact_id=row["contact_id"],
        deal_id=row["deal_id"],
        data=dict(row["data"] or {}),
    )


def _the_event(rows: list[dict[str, Any]], event_id: int) -> dict[str, Any]:
    if not rows:
        raise LookupError(f"no field event #{event_id}")
    return rows[0]


def load_event(session: Session, event_id: int) -> EventView:
    """The field event ``event_id`` as its agent run sees it."""
    (rows,) = run_together(session, [event_read(event_id)])
    return event_of(rows, event_id)


def event_read(event_id: int) -> Run:
    """The read of :func:`load_event`, to run with others (``recall_for_event``)."""
    return _LOAD, {"id": event_id}


def event_of(rows: list[dict[str, Any]], event_id: int) -> EventView:
    """The event :func:`event_read` read (``LookupError`` when there is none)."""
    return _view(_the_event(rows, event_id))


_LOCK = _LOAD.with_for_update()
_LOCK_ACCOUNT = account_lock(
    sa.select(EVENTS.c.account_id).where(EVENTS.c.id == sa.bindparam("id")).scalar_subquery()
)


def lock_event(session: Session, event_id: int) -> tuple[EventView, EventStatus]:
    """The field event and its status, locked for this transaction, and its account held as
    :func:`~revfield.memory.lock_account` holds it: the event's row first, then the account
    (``FOR UPDATE`` and an advisory lock on PostgreSQL, in one round trip; SQLite's write
    lock is already held)."""
    reads: list[Run] = [(_LOCK, {"id": event_id})]
    if session.get_bind().dialect.name == "postgresql":
        reads.append((_LOCK_ACCOUNT, {"id": event_id}))
    rows, *_ = run_together(session, reads)
    row = _the_event(rows, event_id)
    return _view(row), EventStatus(row["status"])


def runnable_events(session: Session, limit: int | None = None) -> list[tuple[int, str, bool]]:
    """``(id, agent, cut off)`` of events waiting for their agent, and of events whose run
    was cut off (``running``: the process died mid-run), oldest first."""
    query = (
        sa.select(EVENTS.c.id, EVENTS.c.agent, EVENTS.c.status)
        .where(
            EVENTS.c.status.in_([EventStatus.PENDING, EventStatus.RUNNING]),
            EVENTS.c.agent.is_not(None),
        )
        .order_by(EVENTS.c.id)
    )
    rows = session.execute(query.limit(limit) if limit else query)
    return [(r.id, r.agent, r.status == EventStatus.RUNNING) for r in rows]


def event_of_action(session: Session, action_id: int) -> tuple[int, str]:
    """``(field event id, agent)`` of the run that proposed an action."""
    row = session.execute(
        sa.select(ACTIONS.c.field_event_id, ACTIONS.c.agent).where(ACTIONS.c.id == action_id)
    ).one()
    return int(row.field_event_id), str(row.agent)


_ANSWERED = [s for s in ActionStatus if s is not ActionStatus.PENDING_REVIEW]


def answered_while_waiting(session: Session) -> list[tuple[int, ActionStatus, str, int]]:
    """``(action id, status, agent, event id)`` of answered actions whose run still waits."""
    rows = session.execute(
        sa.select(ACTIONS.c.id, ACTIONS.c.status, ACTIONS.c.agent, ACTIONS.c.field_event_id)
        .select_from(ACTIONS.join(EVENTS, EVENTS.c.id == ACTIONS.c.field_event_id))
        .where(EVENTS.c.status == EventStatus.WAITING, ACTIONS.c.status.in_(_ANSWERED))
        .order_by(ACTIONS.c.id)
    )
    return [(r.id, ActionStatus(r.status), r.agent, r.field_event_id) for r in rows]


def waiting_with_answers(session: Session) -> dict[int, tuple[str, frozenset[int]]]:
    """Runs that wait for a person although some of their review items were answered or
    moved on: ``event id → (agent, the ids of those items)``. (A run is resumed on each
    answer; these are left when the answering process died before it resumed the run.)"""
    rows = session.execute(
        sa.select(EVENTS.c.id, EVENTS.c.agent, REVIEWS.c.id.label("review_id"))
        .select_from(
            EVENTS.join(ACTIONS, ACTIONS.c.field_event_id == EVENTS.c.id).join(
                REVIEWS, REVIEWS.c.action_id == ACTIONS.c.id
            )
        )
        .where(
            EVENTS.c.status == EventStatus.WAITING,
            EVENTS.c.agent.is_not(None),
            REVIEWS.c.status != ReviewStatus.PENDING,
        )
    )
    found: dict[int, tuple[str, set[int]]] = {}
    for r in rows:
        found.setdefault(r.id, (r.agent, set()))[1].add(r.review_id)
    return {e: (agent, frozenset(ids)) for e, (agent, ids) in found.items()}


def last_raised(
    session: Session, account_ids: Iterable[str], kinds: Iterable[str]
) -> dict[tuple[str, str, str], datetime]:
    """When each ``(account, kind, key)`` situation was last raised, for these accounts and
    kinds (detection's cooldown)."""
    out: dict[tuple[str, str, str], datetime] = {}
    wanted = sorted(set(kinds))
    for part in chunks(sorted(set(account_ids)), 1000):
        query = (
            sa.select(
                EVENTS.c.account_id, EVENTS.c.kind, EVENTS.c.key, sa.func.max(EVENTS.c.occurred_at)
            )
            .where(EVENTS.c.account_id.in_(part), EVENTS.c.kind.in_(wanted))
            .group_by(EVENTS.c.account_id, EVENTS.c.kind, EVENTS.c.key)
        )
        for account_id, kind, key, last in session.execute(query):
            out[(account_id, kind, key)] = as_utc(last)
    return out


def add_field_events(session: Session, events: Sequence[NewFieldEvent]) -> None:
    """Store field events. A link to a deal the memory doesn't hold (a stage change naming
    an unknown deal) is dropped and kept in the event's data as ``deal_ref``."""
    if not events:
        return
    named = {e.deal_id for e in events if e.deal_id}
    known: set[str] = set()
    if named:
        known = set(session.scalars(sa.select(DEALS.c.id).where(DEALS.c.id.in_(sorted(named)))))
    rows = []
    for e in events:
        if not initial(e.status):
            raise ValueError(f"a field event can't start as {e.status}")
        data, deal = json_ready(e.data), e.deal_id
        if deal and deal not in known:
            data, deal = {**data, "deal_ref": deal}, None
        rows.append(
            {
                "account_id": e.account_id,
                "kind": e.kind,
                "key": e.key[:200],
                "signal_ids": list(e.signal_ids),
                "contact_id": e.contact_id,
                "deal_id": deal,
                "detail": e.detail,
                "data": data,
                "occurred_at": e.occurred_at,
                "detected_at": e.detected_at,
                "agent": e.agent,
                "status": e.status.value,
            }
        )
    session.execute(sa.insert(EVENTS), rows)


def add_field_event_once(session: Session, event: NewFieldEvent) -> tuple[int, bool]:
    """Store one field event unless the account already has one of its kind and key;
    ``(id, stored now)``. What makes a resubmitted action the same action: on PostgreSQL,
    submissions of one key wait for each other (a transaction-scoped advisory lock), so
    retries arriving at the same moment store one event."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.select(
                sa.func.pg_advisory_xact_lock(
                    sa.func.hashtextextended(f"{event.account_id}|{event.kind}|{event.key}", 0)
                )
            )
        )
    found = session.execute(
        sa.select(EVENTS.c.id).where(
            EVENTS.c.account_id == event.account_id,
            EVENTS.c.kind == event.kind,
            EVENTS.c.key == event.key[:200],
        )
    ).first()
    if found is not None:
        return int(found.id), False
    add_field_events(session, [event])
    new_id = session.execute(
        sa.select(sa.func.max(EVENTS.c.id)).where(
            EVENTS.c.account_id == event.account_id,
            EVENTS.c.kind == event.kind,
            EVENTS.c.key == event.key[:200],
        )
    ).scalar_one()
    return int(new_id), True


def waiting_events(session: Session) -> list[tuple[int, str]]:
    """``(id, agent)`` of field events whose run waits for a person."""
    rows = session.execute(
        sa.select(EVENTS.c.id, EVENTS.c.agent)
        .where(EVENTS.c.status == EventStatus.WAITING, EVENTS.c.agent.is_not(None))
        .order_by(EVENTS.c.id)
    )
    return [(r.id, r.agent) for r in rows]


_STATUS = sa.select(EVENTS.c.status, EVENTS.c.account_id).where(EVENTS.c.id == sa.bindparam("id"))


def event_status(session: Session, event_id: int) -> EventStatus:
    """Where a field event stands."""
    return event_standing(session, event_id)[0]


def _standing(event_id: int) -> Run:
    return _STATUS, {"id": event_id}


def event_standing(session: Session, event_id: int) -> tuple[EventStatus, str]:
    """Where a field event stands, and its account's id."""
    (rows,) = run_together(session, [_standing(event_id)])
    row = _the_event(rows, event_id)
    return EventStatus(row["status"]), row["account_id"]


@contextmanager
def holding_run(
    claims: Claims, event_id: int, *, wait: float = 0.0
) -> Iterator[tuple[EventStatus, str] | None]:
    """``with holding_run(claims, event_id) as standing:`` — the claim on the agent run of
    ``event_id`` (see :meth:`Claims.holding`) and, when this process has it, where the event
    stands and its account's id (:func:`event_standing`), read with the claim: one round trip
    on PostgreSQL, where the claim and a read of their own took two. None: another process
    (or thread) runs it, and still did after ``wait`` seconds."""
    held = claims.held_here(ClaimKind.THREAD, event_id)  # by the caller, who runs it
    rows = None if held else claims.claim_reading(ClaimKind.THREAD, event_id, [_standing(event_id)])
    if rows is not None:
        try:
            row = _the_event(rows[0], event_id)
            yield EventStatus(row["status"]), row["account_id"]
        finally:
            claims.release(ClaimKind.THREAD, event_id)
        return
    if not held and wait <= 0:  # someone else has it
        yield None
        return
    # the caller's own claim, or someone else's to wait for: the claim, then the read
    with claims.holding(ClaimKind.THREAD, event_id, wait=wait) as mine:
        if not mine:
            yield None
            return
        with claims.store.read() as session:
            standing = event_standing(session, event_id)
        yield standing
