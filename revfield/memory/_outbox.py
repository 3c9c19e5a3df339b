"""The outbox table: queuing an action to be carried out once, claiming what is due, and
recording how each delivery went.

An item is written in the same transaction as the decision or approval that releases it.
A claim moves items to ``sending`` (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so workers
share the queue); an item whose claim outlived its lease is claimed again, with the same
idempotency key.

An item whose action waits for another (``after_action_id``: a follow-up waits for its email,
which may sit in review for days) is written ``waiting``, and becomes ``pending`` in the
transaction that records that action executed (:func:`finish_delivery`), or is cancelled with
it (:func:`~revfield.memory.cancel_dependants`). So a claim reads only items that are due,
oldest first down the ``(status, id)`` index, however many wait.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ActionStatus, OutboxStatus, idempotency_key
from revfield.memory._audit import audit, audit_row
from revfield.memory._lifecycle import cancel_dependants, transition
from revfield.memory._risks import save_play_carried_out
from revfield.memory._tables import ACTIONS, OUTBOX
from revfield.memory._together import insert_rows

__all__ = [
    "CALLER",
    "Claimed",
    "Queueable",
    "claim_outbox",
    "claim_own",
    "delivery_targets",
    "finish_delivery",
    "queue_entry",
    "write_queue",
]


class Queueable(Protocol):
    """What queuing needs of an action."""

    @property
    def id(self) -> int: ...
    @property
    def account_id(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def proposal(self) -> dict[str, Any]: ...
    @property
    def after_action_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox item a worker claimed for delivery."""

    id: int
    action_id: int
    key: str
    payload: dict[str, Any]
    attempts: int
    """Deliveries tried, this one included."""
    redelivery: bool
    """Claimed again because an earlier worker's lease ran out."""


CALLER = "caller"
"""The executor of items their caller carries out itself (a governed LangGraph tool): the
outbox records them, exactly like any other, but never delivers them."""

_PRE = ACTIONS.alias("pre")


def queue_entry(
    action: Queueable, *, executor: str, trace: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outbox row that queues ``action`` and its audit entry, for :func:`write_queue` and
    :func:`~revfield.memory.write_audit` (a run that queues several writes each table once)."""
    key = idempotency_key(action.id, action.digest)
    after = action.after_action_id
    item = {
        "action_id": action.id,
        "idempotency_key": key,
        "executor": executor,
        "status": (OutboxStatus.WAITING if after else OutboxStatus.PENDING).value,
        "payload": {"action": action.proposal, "trace": trace},
        "attempts": 0,
        "created_at": now,
    }
    entry = audit_row(
        actor="outbox",
        event="queued",
        at=now,
        account_id=action.account_id,
        action_id=action.id,
        key=key,
        executor=executor,
        **({"after_action_id": after} if after else {}),
    )
    return item, entry


def write_queue(
    session: Session, items: Sequence[dict[str, Any]], *, still_waiting: Collection[int] = ()
) -> None:
    """Insert outbox rows from :func:`queue_entry` in one statement. An item written
    ``waiting`` whose action's prerequisite was executed already is written ``pending``.
    ``still_waiting``: actions whose prerequisite was recorded in this same transaction (so
    nothing can have executed it yet); their items are not looked up."""
    insert_rows(session, OUTBOX, queue_rows(session, items, still_waiting=still_waiting))


def queue_rows(
    session: Session, items: Sequence[dict[str, Any]], *, still_waiting: Collection[int] = ()
) -> list[dict[str, Any]]:
    """The outbox rows :func:`write_queue` inserts for ``items`` (reading, for an item written
    ``waiting``, whether its prerequisite was executed already)."""
    rows = [dict(i) for i in items]
    waiting = {
        r["action_id"]: r
        for r in rows
        if r["status"] == OutboxStatus.WAITING and r["action_id"] not in still_waiting
    }
    for action_id in _went_out(session, waiting):
        waiting[action_id]["status"] = OutboxStatus.PENDING.value
    return rows


def _went_out(session: Session, action_ids: Collection[int]) -> list[int]:
    """Those of ``action_ids`` whose prerequisite was executed. On PostgreSQL the
    prerequisites stay share-locked until this transaction ends: one being marked executed
    meanwhile waits for it, and then promotes what this transaction wrote ``waiting`` (or,
    marked first, is read here as executed), so no item waits for an action gone out."""
    if not action_ids:
        return []
    rows = session.execute(
        sa.select(ACTIONS.c.id, _PRE.c.status)
        .join(_PRE, _PRE.c.id == ACTIONS.c.after_action_id)
        .where(ACTIONS.c.id.in_(sorted(action_ids)))
        .order_by(_PRE.c.id)
        .with_for_update(read=True, of=_PRE)
    )
    return [r.id for r in rows if r.status == ActionStatus.EXECUTED]


def _release_waiting(session: Session, action_id: int) -> int:
    """Make due the items waiting for ``action_id``, which was just executed: the caller
    holds its row (the update that marked it), so a transaction queuing an item waiting for
    it either committed before (the item is found here) or reads it executed."""
    ids = (
        session.execute(
            sa.select(OUTBOX.c.id)
            .join(ACTIONS, ACTIONS.c.id == OUTBOX.c.action_id)
            .where(
                ACTIONS.c.after_action_id == action_id,
                OUTBOX.c.status == OutboxStatus.WAITING,
            )
        )
        .scalars()
        .all()
    )
    return transition(session, ids, OutboxStatus.PENDING, frm=OutboxStatus.WAITING)


def _claimable(
    session: Session,
    where: tuple[sa.ColumnElement[bool], ...],
    size: int,
    skip: Collection[int],
) -> Sequence[sa.RowMapping]:
    """Up to ``size`` outbox items matching ``where`` (one status), oldest first, not carried
    out by their caller and not in ``skip``; on PostgreSQL locked, skipping those another
    worker holds."""
    if size <= 0:
        return []
    query = (
        sa.select(
            OUTBOX.c.id,
            OUTBOX.c.action_id,
            OUTBOX.c.idempotency_key,
            OUTBOX.c.payload,
            OUTBOX.c.attempts,
            OUTBOX.c.status,
        )
        .where(
            *where,
            OUTBOX.c.executor != CALLER,  # the caller carries those out (a governed tool)
        )
        .order_by(OUTBOX.c.id)
        .limit(size)
    )
    if skip:
        query = query.where(OUTBOX.c.id.not_in(list(skip)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OUTBOX, skip_locked=True)
    return session.execute(query).mappings().all()


def claim_outbox(
    session: Session,
    now: datetime,
    *,
    lease: timedelta,
    size: int,
    skip: Collection[int] = (),
) -> list[Claimed]:
    """Claim up to ``size`` due items, leaving out ``skip``: first items whose claim is older
    than ``lease`` (their worker died), then pending ones, oldest first. Items ``waiting`` for
    another action are not read at all: they become pending when it is executed.

    Each status is read in its own statement, down the ``(status, id)`` index in id order: a
    claim reads the items it takes, those it leaves out (skipped, or carried out by their
    caller) and claims still within their lease, never the items that wait."""
    stale = _claimable(
        session,
        (OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.claimed_at < now - lease),
        size,
        skip,
    )
    due = _claimable(session, (OUTBOX.c.status == OutboxStatus.PENDING,), size - len(stale), skip)
    rows = [*stale, *due]
    if not rows:
        return []
    transition(
        session,
        [r["id"] for r in rows],
        OutboxStatus.SENDING,
        claimed_at=now,
        attempts=OUTBOX.c.attempts + 1,
    )
    return [
        Claimed(
            r["id"],
            r["action_id"],
            r["idempotency_key"],
            r["payload"],
            r["attempts"] + 1,
            r["status"] == OutboxStatus.SENDING,
        )
        for r in rows
    ]


def claim_own(session: Session, action_id: int, now: datetime) -> Claimed | dict[str, Any] | None:
    """Claim the caller-executed item of ``action_id`` for its caller. Returns the claim, or
    the item's recorded result when it was carried out already (a replay), or None when the
    action has no item due (not approved, failed for good, or its item still waits for
    another action)."""
    row = (
        session.execute(
            sa.select(
                OUTBOX.c.id,
                OUTBOX.c.action_id,
                OUTBOX.c.idempotency_key,
                OUTBOX.c.payload,
                OUTBOX.c.attempts,
                OUTBOX.c.status,
                OUTBOX.c.result,
            ).where(OUTBOX.c.action_id == action_id, OUTBOX.c.executor == CALLER)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["status"] == OutboxStatus.SENT:
        return dict(row["result"] or {})
    if row["status"] not in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return None
    if row["status"] == OutboxStatus.PENDING:
        transition(
            session,
            row["id"],
            OutboxStatus.SENDING,
            claimed_at=now,
            attempts=OUTBOX.c.attempts + 1,
        )
    return Claimed(
        row["id"],
        row["action_id"],
        row["idempotency_key"],
        row["payload"],
        row["attempts"] + 1,
        row["status"] == OutboxStatus.SENDING,
    )


def delivery_targets(
    session: Session, action_ids: Collection[int]
) -> dict[int, tuple[str, str, str]]:
    """``action id → (account id, kind, target)`` for the executor's delivery."""
    rows = session.execute(
        sa.select(ACTIONS.c.id, ACTIONS.c.account_id, ACTIONS.c.kind, ACTIONS.c.target).where(
            ACTIONS.c.id.in_(list(action_ids))
        )
    )
    return {r.id: (r.account_id, r.kind, r.target) for r in rows}


def finish_delivery(
    session: Session,
    item: Claimed,
    *,
    outcome: Literal["sent", "retry", "failed"],
    result: dict[str, Any] | None,
    error: str | None,
    account_id: str,
    now: datetime,
) -> list[int]:
    """Record how a delivery went: ``sent`` (the action is executed), ``retry`` (the item is
    due again) or ``failed`` (the action failed for good, and what waits for it is cancelled:
    their ids are returned). Once sent, the items waiting for the action are due."""
    status = {
        "sent": OutboxStatus.SENT,
        "retry": OutboxStatus.PENDING,
        "failed": OutboxStatus.FAILED,
    }[outcome]
    transition(
        session,
        item.id,
        status,
        frm=OutboxStatus.SENDING,
        result=result,
        last_error=error,
        executed_at=now if outcome == "sent" else None,
    )
    if outcome == "sent":
        if transition(session, item.action_id, ActionStatus.EXECUTED, updated_at=now):
            _release_waiting(session, item.action_id)
        save_play_carried_out(session, item.action_id, now)
    elif outcome == "failed":
        transition(session, item.action_id, ActionStatus.FAILED, updated_at=now)
    event = {"sent": "executed", "retry": "delivery_retry", "failed": "delivery_failed"}[outcome]
    audit(
        session,
        actor="outbox",
        event=event,
        at=now,
        account_id=account_id,
        action_id=item.action_id,
        key=item.key,
        attempt=item.attempts,
        error=error or "",
        result=result or {},
    )
    if outcome != "failed":
        return []
    return cancel_dependants(session, item.action_id, actor="outbox", now=now)
