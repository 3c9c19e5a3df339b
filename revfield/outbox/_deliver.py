"""The outbox: automated and approved actions wait here to be carried out exactly once.

An item is written in the same transaction as the decision (or the approval) that makes it,
so an action is never executed without its record, nor recorded as going out and then lost.
Delivery is claim → execute → mark sent, each in its own short transaction: a worker that
dies after executing but before marking leaves the item claimed; once its lease runs out the
item is delivered again with the **same idempotency key**, and the executor (or the receiver
behind it) turns the repeat into a no-op. On PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED``
so any number of workers share the queue; SQLite's single writer serialises them.

An item may wait for another action (``after_action_id``: a follow-up waits for its email).
It is claimed only once that action is executed, and cancelled — with the reason in its
audit entry — once that action is rejected, blocked, cancelled or fails for good.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.clock import Clock
from revfield.domain import StoredAction, waited_in_vain
from revfield.memory._audit import audit, audit_row, write_audit
from revfield.memory._store import Store
from revfield.memory.models import ActionRecord, OutboxItem, table_of
from revfield.outbox._executors import Delivery, DeliveryError, Executor

__all__ = [
    "MAX_ATTEMPTS",
    "OutboxReport",
    "enqueue",
    "idempotency_key",
    "process_outbox",
    "queue_entry",
    "write_queue",
]

OB, ACT = table_of(OutboxItem), table_of(ActionRecord)
_INSERT = sa.insert(OB)
MAX_ATTEMPTS = 5
"""Deliveries tried before an item is marked ``failed`` (each may retry inside the executor)."""


def idempotency_key(action: StoredAction) -> str:
    """Stable for an action as approved: a repeat delivery carries the same key."""
    return f"revfield-{action.id}-{action.digest[:16]}"


def queue_entry(
    action: StoredAction,
    *,
    executor: str,
    trace: dict[str, Any],
    now: datetime,
    after: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outbox row that queues ``action`` (to go out once action ``after`` has, if given)
    and its audit entry — written by the caller, so a run that queues several actions writes
    each table once."""
    key = idempotency_key(action)
    item = {
        "action_id": action.id,
        "idempotency_key": key,
        "executor": executor,
        "status": "pending",
        "payload": {"action": action.proposal, "trace": trace},
        "attempts": 0,
        "created_at": now,
        "after_action_id": after,
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


def write_queue(session: Session, items: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows from :func:`queue_entry` in one statement."""
    if items:
        session.execute(_INSERT, list(items))


def enqueue(
    session: Session, action: ActionRecord, *, executor: str, trace: dict[str, Any], now: datetime
) -> bool:
    """Queue a stored action for delivery (in the caller's transaction). Queuing an action
    twice queues it once; returns whether this call queued it."""
    if session.execute(sa.select(OB.c.id).where(OB.c.action_id == action.id)).first() is not None:
        return False
    after = None
    if kind := action.proposal.get("after"):  # the same run's action it waits for
        after = session.execute(
            sa.select(ACT.c.id).where(
                ACT.c.field_event_id == action.field_event_id,
                ACT.c.agent == action.agent,
                ACT.c.kind == kind,
                ACT.c.id != action.id,
            )
        ).scalar()
    item, entry = queue_entry(action, executor=executor, trace=trace, now=now, after=after)
    write_queue(session, [item])
    write_audit(session, [entry])
    if action.status != "queued":
        action.status = "queued"
        action.updated_at = now
    return True


@dataclass
class OutboxReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    redelivered: int = 0
    """Items delivered again because an earlier worker's lease ran out."""
    cancelled: int = 0
    """Items that waited for an action that will now never go out (rejected, blocked, failed)."""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claimed:
    id: int
    action_id: int
    key: str
    payload: dict[str, Any]
    attempts: int
    redelivery: bool


GONE = ("rejected", "blocked", "failed", "cancelled")
"""Statuses of an action that will never go out: what waits for it is cancelled."""
_PRE = ACT.alias("pre")


def _cancel_orphans(store: Store, now: datetime) -> int:
    """Cancel pending items whose prerequisite will never go out, and what waits for those
    in turn; returns how many."""
    cancelled = 0
    while True:
        with store.session() as session:
            rows = session.execute(
                sa.select(
                    OB.c.id,
                    OB.c.action_id,
                    ACT.c.account_id,
                    _PRE.c.id.label("pre_id"),
                    _PRE.c.kind.label("pre_kind"),
                    _PRE.c.status.label("pre_status"),
                )
                .join(ACT, ACT.c.id == OB.c.action_id)
                .join(_PRE, _PRE.c.id == OB.c.after_action_id)
                .where(OB.c.status == "pending", _PRE.c.status.in_(GONE))
            ).all()
            if not rows:
                return cancelled
            trail = []
            for r in rows:
                reason = waited_in_vain(r.pre_kind, r.pre_id, r.pre_status)
                session.execute(
                    sa.update(OB)
                    .where(OB.c.id == r.id, OB.c.status == "pending")
                    .values(status="cancelled", last_error=reason)
                )
                trail.append(
                    audit_row(
                        actor="outbox",
                        event="cancelled",
                        at=now,
                        account_id=r.account_id,
                        action_id=r.action_id,
                        reason=reason,
                    )
                )
            session.execute(
                sa.update(ACT)
                .where(ACT.c.id.in_([r.action_id for r in rows]))
                .values(status="cancelled", updated_at=now)
            )
            write_audit(session, trail)
            cancelled += len(rows)


def _claim(
    store: Store, now: datetime, lease: timedelta, size: int, tried: set[int]
) -> list[_Claimed]:
    stale = now - lease
    with store.session() as session:
        query = (
            sa.select(
                OB.c.id,
                OB.c.action_id,
                OB.c.idempotency_key,
                OB.c.payload,
                OB.c.attempts,
                OB.c.status,
            )
            .where(
                sa.or_(
                    OB.c.status == "pending",
                    sa.and_(OB.c.status == "sending", OB.c.claimed_at < stale),
                )
            )
            .where(
                sa.or_(
                    OB.c.after_action_id.is_(
                        None
                    ),  # what waits for another goes once that one went
                    sa.exists().where(
                        _PRE.c.id == OB.c.after_action_id, _PRE.c.status == "executed"
                    ),
                )
            )
            .where(OB.c.id.not_in(tried) if tried else sa.true())
            .order_by(OB.c.id)
            .limit(size)
        )
        if store.dialect == "postgresql":
            query = query.with_for_update(of=OB, skip_locked=True)
        rows = session.execute(query).mappings().all()
        if not rows:
            return []
        session.execute(
            sa.update(OB)
            .where(OB.c.id.in_([r["id"] for r in rows]))
            .values(status="sending", claimed_at=now, attempts=OB.c.attempts + 1)
        )
        return [
            _Claimed(
                r["id"],
                r["action_id"],
                r["idempotency_key"],
                r["payload"],
                r["attempts"] + 1,
                r["status"] == "sending",
            )
            for r in rows
        ]


def _delivery(item: _Claimed, account_id: str, kind: str, target: str) -> Delivery:
    return Delivery(
        item.key,
        item.action_id,
        kind,
        account_id,
        target,
        item.payload["action"],
        item.payload["trace"],
    )


def _finish(
    store: Store,
    item: _Claimed,
    now: datetime,
    *,
    result: dict[str, Any] | None,
    error: DeliveryError | None,
) -> str:
    with store.session() as session:
        action = session.get(ActionRecord, item.action_id)
        assert action is not None
        if error is None:
            status, event = "sent", "executed"
            action.status = "executed"
        elif error.retry and item.attempts < MAX_ATTEMPTS:
            status, event = "pending", "delivery_retry"
        else:
            status, event = "failed", "delivery_failed"
            action.status = "failed"
        action.updated_at = now
        session.execute(
            sa.update(OB)
            .where(OB.c.id == item.id, OB.c.status == "sending")
            .values(
                status=status,
                result=result,
                last_error=str(error) if error else None,
                executed_at=now if error is None else None,
            )
        )
        audit(
            session,
            actor="outbox",
            event=event,
            at=now,
            account_id=action.account_id,
            action_id=action.id,
            key=item.key,
            attempt=item.attempts,
            error=str(error) if error else "",
            result=result or {},
        )
    return status


def process_outbox(
    store: Store,
    executor: Executor,
    clock: Clock,
    *,
    lease: timedelta = timedelta(minutes=5),
    batch_size: int = 50,
    limit: int | None = None,
    on_executed: Callable[[int], None] | None = None,
) -> OutboxReport:
    """Deliver what is due: pending items, and items whose claim outlived ``lease``."""
    report = OutboxReport()
    tried: set[int] = set()
    while limit is None or report.sent + report.failed + report.retried < limit:
        size = (
            batch_size
            if limit is None
            else min(batch_size, limit - report.sent - report.failed - report.retried)
        )
        items = _claim(store, clock.now(), lease, size, tried)
        if not items:
            break
        tried.update(i.id for i in items)  # a retry waits for the next run, not this loop
        with store.read() as session:
            meta = {
                r.id: r
                for r in session.execute(
                    sa.select(ACT.c.id, ACT.c.account_id, ACT.c.kind, ACT.c.target).where(
                        ACT.c.id.in_([i.action_id for i in items])
                    )
                )
            }
        for item in items:
            m = meta[item.action_id]
            report.redelivered += item.redelivery
            try:
                result = executor.execute(_delivery(item, m.account_id, m.kind, m.target))
                error = None
            except DeliveryError as exc:
                result, error = None, exc
            if on_executed is not None:
                on_executed(item.id)
            status = _finish(store, item, clock.now(), result=result, error=error)
            if status == "sent":
                report.sent += 1
            elif status == "failed":
                report.failed += 1
                report.errors.append(f"action #{item.action_id}: {error}")
            else:
                report.retried += 1
    report.cancelled = _cancel_orphans(store, clock.now())  # rejected, blocked or failed just now
    return report
