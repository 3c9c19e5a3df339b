"""Delivering the outbox: automated and approved actions are carried out exactly once.

An item is written in the same transaction as the decision (or the approval) that makes it,
so an action is never executed without its record, nor recorded as going out and then lost.
Delivery is claim → execute → mark sent, each in its own short transaction: a worker that
dies after executing but before marking leaves the item claimed; once its lease runs out the
item is delivered again with the **same idempotency key**, and the executor (or the receiver
behind it) turns the repeat into a no-op. On PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED``
so any number of workers share the queue; SQLite's single writer serialises them.

An item may wait for another action (a follow-up waits for its email): it is claimed only
once that action is executed. If that action fails for good, what waits for it is cancelled
(with the reason) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from revfield.clock import Clock
from revfield.memory import (
    Claimed,
    Store,
    claim_outbox,
    delivery_targets,
    finish_delivery,
)
from revfield.outbox._executors import Delivery, DeliveryError, Executor

__all__ = ["MAX_ATTEMPTS", "OutboxReport", "process_outbox"]

MAX_ATTEMPTS = 5
"""Deliveries tried before an item is marked ``failed`` (each may retry inside the executor)."""


@dataclass
class OutboxReport:
    """What one pass over the outbox did."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    redelivered: int = 0
    """Items delivered again because an earlier worker's lease ran out."""
    cancelled: list[int] = field(default_factory=list)
    """Actions cancelled because one they waited for failed for good in this pass."""
    errors: list[str] = field(default_factory=list)


def _delivery(item: Claimed, account_id: str, kind: str, target: str) -> Delivery:
    return Delivery(
        item.key,
        item.action_id,
        kind,
        account_id,
        target,
        item.payload["action"],
        item.payload["trace"],
    )


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
        done = report.sent + report.failed + report.retried
        size = batch_size if limit is None else min(batch_size, limit - done)
        with store.session() as session:
            items = claim_outbox(session, clock.now(), lease=lease, size=size, skip=tried)
        if not items:
            break
        tried.update(i.id for i in items)  # a retry waits for the next run, not this loop
        with store.read() as session:
            targets = delivery_targets(session, [i.action_id for i in items])
        for item in items:
            account_id, kind, target = targets[item.action_id]
            report.redelivered += item.redelivery
            try:
                result = executor.execute(_delivery(item, account_id, kind, target))
                error = None
            except DeliveryError as exc:
                result, error = None, exc
            if on_executed is not None:
                on_executed(item.id)
            outcome: Literal["sent", "retry", "failed"]
            if error is None:
                outcome = "sent"
            elif error.retry and item.attempts < MAX_ATTEMPTS:
                outcome = "retry"
            else:
                outcome = "failed"
            with store.session() as session:
                cancelled = finish_delivery(
                    session,
                    item,
                    outcome=outcome,
                    result=result,
                    error=str(error) if error else None,
                    account_id=account_id,
                    now=clock.now(),
                )
            if outcome == "sent":
                report.sent += 1
            elif outcome == "failed":
                report.failed += 1
                report.errors.append(f"action #{item.action_id}: {error}")
                report.cancelled += cancelled
            else:
                report.retried += 1
    return report
