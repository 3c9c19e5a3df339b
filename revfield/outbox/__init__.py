"""The outbox and its executors: how automated and approved actions are carried out once."""

from revfield.outbox._deliver import MAX_ATTEMPTS, OutboxReport, process_outbox
from revfield.outbox._executors import (
    Delivery,
    DeliveryError,
    Executor,
    LogExecutor,
    WebhookExecutor,
    available_executors,
    load_executor,
    sign,
)
from revfield.outbox._notify import (
    LogNotifier,
    Notice,
    Notifier,
    NotifyReport,
    WebhookNotifier,
    deliver_notifications,
    load_notifier,
)

__all__ = [
    "MAX_ATTEMPTS",
    "Delivery",
    "DeliveryError",
    "Executor",
    "LogExecutor",
    "LogNotifier",
    "Notice",
    "Notifier",
    "NotifyReport",
    "OutboxReport",
    "WebhookExecutor",
    "WebhookNotifier",
    "available_executors",
    "deliver_notifications",
    "load_executor",
    "load_notifier",
    "process_outbox",
    "sign",
]
