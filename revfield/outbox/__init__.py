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

__all__ = [
    "MAX_ATTEMPTS",
    "Delivery",
    "DeliveryError",
    "Executor",
    "LogExecutor",
    "OutboxReport",
    "WebhookExecutor",
    "available_executors",
    "load_executor",
    "process_outbox",
    "sign",
]
