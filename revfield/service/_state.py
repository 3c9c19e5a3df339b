"""What every endpoint works with: the store, the one :class:`~revfield.field.Field`, the
clock, the metrics, and the lock that lets one request at a time drive an agent run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as _field

from fastapi import Request

from revfield.clock import Clock
from revfield.field import Field
from revfield.memory import Store
from revfield.outbox import OutboxReport
from revfield.policies import CompiledPack, PackWatcher
from revfield.service._errors import ApiError
from revfield.service._metrics import Metrics

__all__ = ["Service", "service"]


@dataclass
class Service:
    """The app's state (``app.state.service``): built by :func:`~revfield.service.create_app`,
    its field opened for the app's lifespan (the checkpointer's connection lives as long)."""

    store: Store
    clock: Clock
    metrics: Metrics
    pack: Callable[[], CompiledPack]
    """The pack in force now (a watcher's ``current``: reloaded when its files changed)."""
    watcher: PackWatcher | None = None
    """The pack's watcher when the pack reloads itself (``/healthz`` reports its errors)."""
    ingest_batch_size: int = 5000
    field: Field | None = None
    runs: threading.Lock = _field(default_factory=threading.Lock)
    """Held while a request drives an agent run (answers, submissions, the outbox): LangGraph
    checkpoints a thread from one writer at a time. Other replicas are kept apart by the
    database (every status change is one conditional UPDATE)."""

    def the_field(self) -> Field:
        """The field, once the app has started (its lifespan opened the checkpointer)."""
        if self.field is None:
            raise ApiError(503, "starting", "the service is starting; try again in a moment")
        return self.field

    def deliver(self) -> OutboxReport:
        """Carry out what the outbox holds now (nothing without an executor); call holding
        :attr:`runs`."""
        return self.the_field().deliver()


def service(request: Request) -> Service:
    """The app's :class:`Service` (a FastAPI dependency)."""
    found: Service = request.app.state.service
    return found
