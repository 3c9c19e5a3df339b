"""The ``notify`` executor: telling a person that an item climbed to their rung of the ladder.

A climb stores its notification in the climb's own transaction (see
:func:`revfield.review.climb_ladder`); :func:`deliver_notifications` then hands each pending one
to a :class:`Notifier` and marks it sent. Delivery is at least once: a process that dies after
the climb, or after notifying but before marking, leaves the notification pending and the next
pass delivers it again under the **same idempotency key** (``escalated:<review id>``), which
the ``log`` notifier skips and a webhook receiver is told in ``Idempotency-Key``.

Which notifier runs is the ``notify_executor`` setting: ``log`` (default: one JSON line per
notification in ``<database>-notifications.jsonl`` beside the database) or ``webhook`` (POSTed
to ``webhook_url``, signed like the outbox's webhook with ``webhook_secret``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from revfield.clock import Clock
from revfield.config import Settings
from revfield.memory import (
    NotificationView,
    Store,
    mark_notified,
    note_notify_failure,
    pending_notifications,
)
from revfield.outbox._executors import SIGNATURE_HEADER, DeliveryError, JsonlOnce, sign

__all__ = [
    "LogNotifier",
    "Notice",
    "Notifier",
    "NotifyReport",
    "WebhookNotifier",
    "deliver_notifications",
    "load_notifier",
]


@dataclass(frozen=True)
class Notice:
    """One notification as a notifier receives it."""

    idempotency_key: str
    review_id: int
    account_id: str
    recipient_id: str | None
    """Who holds the new rung for the account (None: nobody; RevOps should look)."""
    rung: str
    detail: dict[str, Any]
    """The step: ``from_rung``, ``to_rung``, ``from_review``, ``to_review``, ``assignee``,
    ``deadline_at``, and the action (``action_id``, ``kind``, ``reason``)."""

    def body(self) -> dict[str, Any]:
        return {
            "type": "escalated",
            "idempotency_key": self.idempotency_key,
            "review_id": self.review_id,
            "account_id": self.account_id,
            "recipient_id": self.recipient_id,
            "rung": self.rung,
            "detail": self.detail,
        }


@runtime_checkable
class Notifier(Protocol):
    """What tells people about escalations (``log`` or ``webhook``). ``notify`` returns a
    small result or raises :class:`~revfield.outbox.DeliveryError` (the notification stays
    pending for the next pass); it may see the same notice again, always with the same key,
    and must make the repeat harmless."""

    name: str

    def notify(self, notice: Notice) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LogNotifier:
    """Appends each notification as one JSON line to a file; a key already there is skipped."""

    name = "log"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = JsonlOnce(path)

    def notify(self, notice: Notice) -> dict[str, Any]:
        written = self._file.append(notice.idempotency_key, notice.body())
        return {"written": True} if written else {"written": False, "duplicate": True}

    def close(self) -> None:
        return None


class WebhookNotifier:
    """POSTs each notification as JSON to a URL, signed with HMAC-SHA256 over the exact body
    (``X-Revfield-Signature``) and carrying ``Idempotency-Key``. One attempt per pass: a
    failure leaves the notification pending for the next one."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url:
            raise ValueError("the webhook notifier needs REVFIELD_WEBHOOK_URL")
        if not secret:
            raise ValueError(
                "the webhook notifier needs REVFIELD_WEBHOOK_SECRET to sign what it sends"
            )
        self.url = url
        self.secret = secret
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def notify(self, notice: Notice) -> dict[str, Any]:
        body = json.dumps(notice.body(), sort_keys=True, separators=(",", ":"), default=str)
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notice.idempotency_key,
            SIGNATURE_HEADER: sign(self.secret, raw),
            "User-Agent": "revfield-notify",
        }
        try:
            response = self.client.post(self.url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryError(f"{self.url}: HTTP {response.status_code}: {response.text[:200]}")
        return {"status": response.status_code}

    def close(self) -> None:
        self.client.close()


def load_notifier(name: str, settings: Settings, *, log: Path) -> Notifier:
    """The notifier called ``name`` (``log`` writes to ``log``; ``webhook`` uses the webhook
    settings). Raises ``ValueError`` saying what is missing or which notifiers there are."""
    if name == "log":
        return LogNotifier(log)
    if name == "webhook":
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        return WebhookNotifier(settings.webhook_url or "", secret)
    raise ValueError(f"no notify executor `{name}`; there are: log, webhook")


@dataclass
class NotifyReport:
    """What one pass of :func:`deliver_notifications` did."""

    sent: int = 0
    failed: int = 0
    """Notifications the notifier refused this time (still pending: tried again next pass)."""
    errors: list[str] = field(default_factory=list)


def _notice(n: NotificationView) -> Notice:
    return Notice(n.idempotency_key, n.review_id, n.account_id, n.recipient_id, n.rung, n.payload)


def deliver_notifications(
    store: Store, notifier: Notifier, clock: Clock, *, limit: int | None = None
) -> NotifyReport:
    """Deliver every pending notification (oldest first, at most ``limit``) and mark each
    sent; one the notifier refuses stays pending for the next pass."""
    report = NotifyReport()
    with store.read() as session:
        pending = pending_notifications(session, limit=limit)
    for n in pending:
        try:
            notifier.notify(_notice(n))
        except DeliveryError as exc:
            report.failed += 1
            report.errors.append(f"{n.idempotency_key}: {exc}")
            with store.session() as session:
                note_notify_failure(session, n.id, str(exc))
            continue
        with store.session() as session:
            if mark_notified(session, n.id, clock.now()):
                report.sent += 1
    return report
