"""What the invariant checker reads (``revfield check``, run after a soak of many workers): the
rows that say what was stored, decided, queued, answered and audited, each as a small frozen
row, read in one consistent snapshot (:func:`checked_consistently`). Read-only; the judging is
pure logic in :mod:`revfield.worker._invariants`.

Only the columns the checks need are read (no payloads, no contexts), so a soak's tables of
tens of thousands of rows fit in memory.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._sql import chunks
from revfield.memory._tables import (
    ACTIONS,
    AUDIT,
    DECISIONS,
    DETECTIONS,
    EVENTS,
    MOTION_BUDGETS,
    OUTBOX,
    REVIEWS,
    SIGNALS,
)
from revfield.memory._types import as_utc

__all__ = [
    "CheckedAction",
    "CheckedAudit",
    "CheckedDecision",
    "CheckedEvent",
    "CheckedOutbox",
    "CheckedReview",
    "CheckedSignals",
    "CheckedTouch",
    "checked_actions",
    "checked_audit",
    "checked_budgets",
    "checked_consistently",
    "checked_decisions",
    "checked_events",
    "checked_keys",
    "checked_outbox",
    "checked_reviews",
    "checked_signals",
    "checked_touches",
]

_SAMPLE = 20
"""At most this many ids of one kind of problem are read back (a message names them)."""
_CHUNK = 2000


def checked_consistently(session: Session) -> None:
    """Make every later read of ``session`` see one snapshot: on PostgreSQL the transaction
    runs ``REPEATABLE READ`` (call this before any other statement of the session); SQLite's
    read transaction is one snapshot already."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


@dataclass(frozen=True, slots=True)
class CheckedSignals:
    """The signals stored and what detection did with them."""

    stored: int
    detected: int
    """Signals with their detection record (a signal has at most one: it is the key)."""
    undetected: int
    undetected_ids: tuple[int, ...]
    """The first few signals not through detection, by id."""
    shared_keys: tuple[tuple[str, str, int], ...]
    """``(source, external id, rows)`` of keys stored more than once (the unique index
    forbids it: any here means the index is gone)."""
    multi_detected: tuple[tuple[int, int], ...]
    """``(signal id, detection records)`` of signals detected more than once."""


def checked_signals(session: Session) -> CheckedSignals:
    """How many signals are stored and detected, with samples of what is wrong."""
    stored = int(session.execute(sa.select(sa.func.count()).select_from(SIGNALS)).scalar_one())
    detected = int(
        session.execute(
            sa.select(sa.func.count(sa.distinct(DETECTIONS.c.signal_id))).select_from(DETECTIONS)
        ).scalar_one()
    )
    missing = ~sa.exists().where(DETECTIONS.c.signal_id == SIGNALS.c.id)
    undetected = int(
        session.execute(sa.select(sa.func.count()).select_from(SIGNALS).where(missing)).scalar_one()
    )
    sample = session.execute(
        sa.select(SIGNALS.c.id).where(missing).order_by(SIGNALS.c.id).limit(_SAMPLE)
    ).scalars()
    n = sa.func.count().label("n")
    shared = session.execute(
        sa.select(SIGNALS.c.source, SIGNALS.c.external_id, n)
        .group_by(SIGNALS.c.source, SIGNALS.c.external_id)
        .having(sa.func.count() > 1)
        .order_by(SIGNALS.c.source, SIGNALS.c.external_id)
        .limit(_SAMPLE)
    )
    multi = session.execute(
        sa.select(DETECTIONS.c.signal_id, n)
        .group_by(DETECTIONS.c.signal_id)
        .having(sa.func.count() > 1)
        .order_by(DETECTIONS.c.signal_id)
        .limit(_SAMPLE)
    )
    return CheckedSignals(
        stored=stored,
        detected=detected,
        undetected=undetected,
        undetected_ids=tuple(int(i) for i in sample),
        shared_keys=tuple((s, e, int(k)) for s, e, k in shared),
        multi_detected=tuple((int(i), int(k)) for i, k in multi),
    )


def checked_keys(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """``(source, external id) → rows stored`` for ``keys`` (a key not stored is absent)."""
    by_source: dict[str, set[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, set()).add(external_id)
    found: dict[tuple[str, str], int] = {}
    for source, ids in sorted(by_source.items()):
        for part in chunks(sorted(ids), _CHUNK):
            query = (
                sa.select(SIGNALS.c.external_id, sa.func.count())
                .where(SIGNALS.c.source == source, SIGNALS.c.external_id.in_(list(part)))
                .group_by(SIGNALS.c.external_id)
            )
            for external_id, n in session.execute(query):
                found[(source, external_id)] = int(n)
    return found


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """A field event: who acts on it and where it stands."""

    id: int
    account_id: str
    kind: str
    agent: str | None
    status: str


def checked_events(session: Session) -> list[CheckedEvent]:
    """Every field event, by id."""
    query = sa.select(
        EVENTS.c.id, EVENTS.c.account_id, EVENTS.c.kind, EVENTS.c.agent, EVENTS.c.status
    ).order_by(EVENTS.c.id)
    return [CheckedEvent(*row) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CheckedAction:
    """An action: what identifies it, whom it touches, and where it stands."""

    id: int
    account_id: str
    contact_id: int | None
    field_event_id: int | None
    agent: str
    kind: str
    motion: str
    target: str
    status: str
    after_action_id: int | None


def checked_actions(session: Session) -> list[CheckedAction]:
    """Every action, by id."""
    c = ACTIONS.c
    query = sa.select(
        c.id,
        c.account_id,
        c.contact_id,
        c.field_event_id,
        c.agent,
        c.kind,
        c.motion,
        c.target,
        c.status,
        c.after_action_id,
    ).order_by(c.id)
    return [CheckedAction(**row._asdict()) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CheckedDecision:
    """A decision: on which action, of which motion, with which verdict, when."""

    id: int
    action_id: int | None
    account_id: str | None
    contact_id: int | None
    action_kind: str
    motion: str
    verdict: str
    decided_at: datetime


def checked_decisions(session: Session) -> list[CheckedDecision]:
    """Every decision, by id (ids are the order decisions were made in, per account)."""
    c = DECISIONS.c
    query = sa.select(
        c.id,
        c.action_id,
        c.account_id,
        c.contact_id,
        c.action_kind,
        c.motion,
        c.verdict,
        c.decided_at,
    ).order_by(c.id)
    return [
        CheckedDecision(*row[:-1], decided_at=as_utc(row[-1])) for row in session.execute(query)
    ]


def checked_budgets(session: Session) -> dict[tuple[str, date], int]:
    """The slots taken of each motion's budget per day: ``(motion, day) → spent``."""
    t = MOTION_BUDGETS.c
    return {(m, d): int(n) for m, d, n in session.execute(sa.select(t.motion, t.day, t.spent))}


@dataclass(frozen=True, slots=True)
class CheckedOutbox:
    """An outbox item: its action, key, executor and where it stands."""

    id: int
    action_id: int
    idempotency_key: str
    executor: str
    status: str
    attempts: int


def checked_outbox(session: Session) -> list[CheckedOutbox]:
    """Every outbox item, by id."""
    c = OUTBOX.c
    query = sa.select(
        c.id, c.action_id, c.idempotency_key, c.executor, c.status, c.attempts
    ).order_by(c.id)
    return [CheckedOutbox(*row) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CheckedReview:
    """A review item: its action, rung, and how it ended."""

    id: int
    action_id: int
    level: int
    assignee_role: str
    status: str
    answered_by: str | None


def checked_reviews(session: Session) -> list[CheckedReview]:
    """Every review item, by id."""
    c = REVIEWS.c
    query = sa.select(
        c.id, c.action_id, c.level, c.assignee_role, c.status, c.answered_by
    ).order_by(c.id)
    return [CheckedReview(*row) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CheckedAudit:
    """An audit entry: what happened to which action or review item."""

    id: int
    event: str
    action_id: int | None
    review_id: int | None
    from_review: int | None = None
    """For an ``escalated`` entry: the item that climbed (the entry's review is the new one)."""


def checked_audit(session: Session) -> list[CheckedAudit]:
    """Every audit entry, by id; ``escalated`` ones with the item they climbed from (read from
    their detail)."""
    c = AUDIT.c
    query = sa.select(c.id, c.event, c.action_id, c.review_id).order_by(c.id)
    out = [CheckedAudit(*row) for row in session.execute(query)]
    climbs = {
        i: _int(detail.get("from_review")) if isinstance(detail, dict) else None
        for i, detail in session.execute(sa.select(c.id, c.detail).where(c.event == "escalated"))
    }
    if climbs:
        out = [
            CheckedAudit(a.id, a.event, a.action_id, a.review_id, climbs.get(a.id))
            if a.event == "escalated"
            else a
            for a in out
        ]
    return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class CheckedTouch:
    """An observed touch (an ``email_sent`` …): what, whom, when it happened, when it
    arrived."""

    id: int
    kind: str
    account_id: str | None
    contact_id: int | None
    occurred_at: datetime
    received_at: datetime


def checked_touches(session: Session, kinds: Collection[str]) -> list[CheckedTouch]:
    """Signals of ``kinds`` attributed to an account, by id."""
    if not kinds:
        return []
    c = SIGNALS.c
    query = (
        sa.select(c.id, c.kind, c.account_id, c.contact_id, c.occurred_at, c.received_at)
        .where(c.kind.in_(sorted(kinds)), c.account_id.is_not(None))
        .order_by(c.id)
    )
    return [
        CheckedTouch(i, str(k), a, ct, as_utc(o), as_utc(r))
        for i, k, a, ct, o, r in session.execute(query)
    ]
