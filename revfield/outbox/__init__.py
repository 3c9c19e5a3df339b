"""The outbox and its executors: how automated and approved actions are carried out once."""

from revfield.outbox._deliver import (
    MAX_ATTEMPTS,
    OutboxReport,
    enqueue,
    idempotency_key,
    process_outbox,
    queue_entry,
    write_queue,
)
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
    "enqueue",
    "idempotency_key",
    "load_executor",
    "process_outbox",
    "queue_entry",
    "sign",
    "write_queue",
]
