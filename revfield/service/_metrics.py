"""``/metrics``: what the service and the field are doing, in Prometheus' text format.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the global one), so
two apps in one process — tests, a worker beside the server — count apart. Two kinds of
figures:

- **this process's** counters and histograms, counted as requests come: HTTP requests and
  their latency by route, signals received by outcome, answers and submissions, model calls
  and their failures (the model the field uses is wrapped by :class:`CountingModel`);
- **the memory's** state, read when Prometheus scrapes (:class:`MemoryCollector`): field
  events by kind, actions by their first decision, review items pending and overdue, outbox
  items by result, the pack in force and whether its last reload failed.

Adding a figure: a counter here, counted where it happens; or a family in
:meth:`MemoryCollector.collect` read from a :mod:`revfield.memory` function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from revfield.clock import Clock
from revfield.llm import (
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    Model,
    ReplyClassification,
)
from revfield.memory import Store, field_summary, pending_reviews
from revfield.policies import CompiledPack, PackWatcher

__all__ = ["CONTENT_TYPE", "CountingModel", "MemoryCollector", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus' text exposition format."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: the inbox's target is 50 ms at p95; an answer resumes an agent run."""

log = structlog.get_logger("revfield.service")

T = TypeVar("T")


class Metrics:
    """The app's registry and this process's counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "revfield_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "revfield_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.signals = Counter(
            "revfield_signals_received",
            "Signal rows received through POST /signals, by outcome "
            "(accepted, duplicate, dead_lettered).",
            ["outcome"],
            registry=r,
        )
        self.answers = Counter(
            "revfield_answers",
            "Review items answered through the API, by route (rest, agent_protocol) and result.",
            ["via", "result"],
            registry=r,
        )
        self.submissions = Counter(
            "revfield_submissions",
            "Actions submitted through POST /actions, by the policy's verdict.",
            ["verdict"],
            registry=r,
        )
        self.model_calls = Counter(
            "revfield_model_calls",
            "Model calls made by this process, by operation.",
            ["operation"],
            registry=r,
        )
        self.model_failures = Counter(
            "revfield_model_call_failures",
            "Model calls that failed (timeout, 429/5xx, bad output, refusal), by operation.",
            ["operation"],
            registry=r,
        )

    def watch_memory(
        self,
        store: Store,
        clock: Clock,
        pack: Callable[[], CompiledPack],
        watcher: PackWatcher | None,
    ) -> None:
        """Read the memory's figures on every scrape."""
        self.registry.register(MemoryCollector(store, clock, pack, watcher))

    def exposition(self) -> bytes:
        """Everything, in Prometheus' text format."""
        return generate_latest(self.registry)


class MemoryCollector(Collector):
    """The memory's state at scrape time (see the module's docstring). A database that can't
    be read leaves these families out of the scrape (``/healthz`` says why) instead of
    failing it."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        pack: Callable[[], CompiledPack],
        watcher: PackWatcher | None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.pack = pack
        self.watcher = watcher

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on what the memory holds; read at scrape time

    def collect(self) -> Iterable[Metric]:
        version = GaugeMetricFamily(
            "revfield_policy_pack_info", "The policy pack in force (value 1).", labels=["version"]
        )
        version.add_metric([self.pack().version], 1)
        yield version
        failed = GaugeMetricFamily(
            "revfield_policy_pack_reload_failed",
            "1 when the last reload of the pack was refused (the last good pack stays in force).",
        )
        failed.add_metric([], 1 if self.watcher and self.watcher.last_error else 0)
        yield failed
        try:
            with self.store.read() as session:
                summary = field_summary(session)
                overdue = len(pending_reviews(session, due_before=self.clock.now()))
        except Exception as exc:  # the database is down: /healthz reports it
            log.warning("metrics: the memory could not be read", error=type(exc).__name__)
            return
        events = GaugeMetricFamily(
            "revfield_field_events", "Field events in memory, by kind.", labels=["kind"]
        )
        for kind, n in sorted(summary.events.items()):
            events.add_metric([kind], n)
        yield events
        decisions = GaugeMetricFamily(
            "revfield_decisions",
            "Actions in memory by the policy's first decision on them.",
            labels=["verdict"],
        )
        for verdict in ("auto", "review", "escalate", "block"):
            decisions.add_metric([verdict], summary.verdicts.get(verdict, 0))
        yield decisions
        pending = GaugeMetricFamily(
            "revfield_reviews_pending", "Review items waiting for a person."
        )
        pending.add_metric([], summary.pending_reviews)
        yield pending
        late = GaugeMetricFamily(
            "revfield_reviews_overdue", "Review items waiting past their deadline."
        )
        late.add_metric([], overdue)
        yield late
        outbox = GaugeMetricFamily(
            "revfield_outbox_items", "Outbox items by result.", labels=["status"]
        )
        outbox.add_metric(["sent"], summary.executed)
        outbox.add_metric(["failed"], summary.outbox_failed)
        outbox.add_metric(["cancelled"], summary.outbox_cancelled)
        yield outbox


class CountingModel:
    """A :class:`~revfield.llm.Model` that passes every call to ``model`` and counts it (and
    its failure) in the app's metrics."""

    def __init__(self, model: Model, metrics: Metrics) -> None:
        self.model = model
        self.metrics = metrics

    @property
    def backend(self) -> str:
        return self.model.backend

    @property
    def name(self) -> str:
        return self.model.name

    def _count(self, operation: str, call: Callable[[], T]) -> T:
        self.metrics.model_calls.labels(operation).inc()
        try:
            return call()
        except Exception:
            self.metrics.model_failures.labels(operation).inc()
            raise

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction:
        return self._count("extract_facts", lambda: self.model.extract_facts(text, kind=kind))

    def classify_reply(self, text: str) -> ReplyClassification:
        return self._count("classify_reply", lambda: self.model.classify_reply(text))

    def draft_message(self, request: DraftRequest) -> Draft:
        return self._count("draft_message", lambda: self.model.draft_message(request))

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary:
        return self._count("summarise_handover", lambda: self.model.summarise_handover(request))

    def close(self) -> None:
        self.model.close()
