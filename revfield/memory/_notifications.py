"""Notifications of escalation steps, durable before they are delivered.

The ladder writes one row with each climb, in the climb's transaction: a process that dies
between the climb and the delivery leaves the row ``pending``, and the next pass delivers it
under the same idempotency key. Delivery is at least once: a row is marked ``sent`` only after
the notify executor took it, so a crash in between delivers it again (same key; the executor
or the receiver behind it makes the repeat harmless)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.memory._tables import NOTIFICATIONS

__all__ = [
    "NotificationView",
    "list_notifications",
    "mark_notified",
    "note_notify_failure",
    "pending_notifications",
    "queue_notification",
]

PENDING = "pending"
SENT = "sent"


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One notification as stored."""

    id: int
    idempotency_key: str
    review_id: int
    account_id: str
    recipient_id: str | None
    rung: str
    payload: dict[str, Any]
    status: str
    """``pending`` or ``sent``."""
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def queue_notification(
    session: Session,
    *,
    key: str,
    review_id: int,
    account_id: str,
    recipient_id: str | None,
    rung: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """Store a notification to deliver (in the caller's transaction); returns its id."""
    return int(
        session.execute(
            sa.insert(NOTIFICATIONS).returning(NOTIFICATIONS.c.id),
            {
                "idempotency_key": key,
                "review_id": review_id,
                "account_id": account_id,
                "recipient_id": recipient_id,
                "rung": rung,
                "payload": json_ready(payload),
                "status": PENDING,
                "attempts": 0,
                "created_at": now,
            },
        ).scalar_one()
    )


def _views(session: Session, query: sa.Select[Any]) -> list[NotificationView]:
    return [NotificationView(**r) for r in session.execute(query).mappings()]


def pending_notifications(session: Session, *, limit: int | None = None) -> list[NotificationView]:
    """Notifications not delivered yet, oldest first."""
    query = (
        sa.select(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.status == PENDING)
        .order_by(NOTIFICATIONS.c.id)
        .limit(limit)
    )
    return _views(session, query)


def list_notifications(
    session: Session, *, review_id: int | None = None, limit: int = 100
) -> list[NotificationView]:
    """Notifications in the order they were written (of one review item when given)."""
    query = sa.select(NOTIFICATIONS).order_by(NOTIFICATIONS.c.id).limit(limit)
    if review_id is not None:
        query = query.where(NOTIFICATIONS.c.review_id == review_id)
    return _views(session, query)


def mark_notified(session: Session, notification_id: int, now: datetime) -> bool:
    """Mark a delivered notification ``sent``; False when it was already (another worker)."""
    result = session.execute(
        sa.update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == notification_id, NOTIFICATIONS.c.status == PENDING)
        .values(status=SENT, sent_at=now, attempts=NOTIFICATIONS.c.attempts + 1, last_error=None)
    )
    return bool(getattr(result, "rowcount", 0))


def note_notify_failure(session: Session, notification_id: int, error: str) -> None:
    """Count a failed delivery (the notification stays ``pending`` for the next pass)."""
    session.execute(
        sa.update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == notification_id, NOTIFICATIONS.c.status == PENDING)
        .values(attempts=NOTIFICATIONS.c.attempts + 1, last_error=error[:2000])
    )
