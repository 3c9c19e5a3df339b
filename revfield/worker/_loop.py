"""One worker process: a loop over every kind of pending work, sharing the database with any
number of other workers.

Each round, in the flow's order:

1. **lost workers**: a worker whose heartbeat is older than the lease is cut off and its
   claims freed (PostgreSQL);
2. **detection**: one batch per bucket of accounts this worker can claim;
3. **sweeps**: renewals, inactivity and governance deviations once per ``sweep_every``
   (whichever worker gets there first), the review ladder's climbs, escalation notices;
4. **answers**: runs whose review items were answered while nothing resumed them;
5. **agent runs**: up to ``runs_per_round`` pending field events, each claimed first;
6. **the outbox**: what is due, claimed with ``FOR UPDATE SKIP LOCKED`` and a lease.

A unit is finished before the worker looks at its stop flag (SIGTERM), so a graceful stop
never leaves half a unit; a killed worker leaves only claims that end with its connection
and runs that the next worker takes up from their checkpoints. When the database goes away
(a restart, a dropped connection) the worker reopens everything and goes on.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from revfield.clock import Clock
from revfield.field import Detector, Field, run_detection
from revfield.memory import (
    BUCKETS,
    ClaimKind,
    Claims,
    StoreError,
    beat,
    claim_schedule,
    count_undetected,
    cut_off_lost_workers,
    new_worker_id,
    register_worker,
    stop_worker,
    undetected_buckets,
)
from revfield.outbox import Notifier, deliver_notifications

__all__ = ["Worker", "WorkerOptions", "WorkerReport"]

log = structlog.get_logger("revfield.worker")

LADDER, NOTIFY = 1, 2
"""Keys of the sweeps one worker at a time runs every round (claims of kind SWEEP)."""


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker paces itself."""

    once: bool = False
    """Stop when a whole round finds nothing to do (instead of waiting for more)."""
    batch_size: int = 500
    """Signals per detection batch."""
    runs_per_round: int = 50
    """Agent runs per round before the worker looks at the other kinds of work again."""
    poll: float = 1.0
    """Seconds to wait after a round that found nothing."""
    heartbeat: float = 5.0
    """Seconds between heartbeats."""
    lease: float = 60.0
    """Seconds without a heartbeat after which a worker counts as lost."""
    sweep_every: timedelta = timedelta(minutes=15)
    """How often (business time) renewals, inactivity and governance are swept."""
    rescan: float = 30.0
    """Seconds between detection scans from the first signal (catching signals that
    committed after signals with higher ids were read)."""


@dataclass
class WorkerReport:
    """What a worker did: units by kind, and where its time went."""

    worker_id: str = ""
    units: Counter[str] = field(default_factory=Counter)
    """Units of work done, by kind (``signals`` counts signals, ``runs`` agent runs…)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds spent, by kind of work (``idle``: waiting for work)."""
    failures: Counter[str] = field(default_factory=Counter)
    """Units that failed, by kind (the unit is left for a later round)."""
    reconnects: int = 0
    """Times the database went away and everything was reopened."""
    taken_over: list[str] = field(default_factory=list)
    """Lost workers this one cut off."""
    lost: bool = False
    """This worker was marked lost by another (it stopped beating): it stopped."""
    wall: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.units.values())


FieldFactory = Callable[[Claims], AbstractContextManager[Field]]
"""Opens the field (database, pack, model, checkpointer) with the worker's claims; opened
again after the database went away."""


class Worker:
    """A worker: ``run()`` loops until ``stop`` is set (or, ``once``, until nothing is left)."""

    def __init__(
        self,
        open_field: FieldFactory,
        claims: Claims,
        clock: Clock,
        *,
        options: WorkerOptions | None = None,
        notifier: Notifier | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.open_field = open_field
        self.claims = claims
        self.store = claims.store
        self.clock = clock
        self.options = options or WorkerOptions()
        self.notifier = notifier
        self.stop = stop or threading.Event()
        self.id = new_worker_id()
        self.report = WorkerReport(worker_id=self.id)
        self._after = dict.fromkeys(range(BUCKETS), 0)
        self._rescanned = time.monotonic()
        self._progress = time.monotonic()
        self._beating = threading.Event()
        self._detection: Detector | None = None

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> WorkerReport:
        """Work until stopped; returns what was done. Claims are released and the worker's
        row marked ``stopped`` on the way out."""
        started = time.perf_counter()
        with self.store.session() as session:
            register_worker(session, self.id, self.claims.backend_pid())
        log.info("worker started", worker=self.id, once=self.options.once)
        beater = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
        beater.start()
        try:
            while not self.stop.is_set():
                try:
                    with self.open_field(self.claims) as fld:
                        self._detection = None  # built on this field's model
                        self._work(fld)
                    break
                except Exception as exc:
                    if StoreError.from_exception(exc, str(self.store.url)) is None and not (
                        isinstance(exc, StoreError)
                    ):
                        raise
                    self._reconnect(exc)
        finally:
            self._beating.set()
            beater.join(timeout=5)
            self.claims.close()
            self.report.wall = time.perf_counter() - started
            try:
                with self.store.session() as session:
                    stop_worker(session, self.id, self.report.total)
            except Exception as exc:  # the database is gone: the row goes stale, then lost
                log.warning("could not mark the worker stopped", worker=self.id, error=str(exc))
            log.info(
                "worker stopped",
                worker=self.id,
                units=dict(self.report.units),
                failures=dict(self.report.failures),
                lost=self.report.lost,
            )
        return self.report

    def _reconnect(self, exc: BaseException) -> None:
        """The database went away: forget the claims (they ended with their connection),
        drop the pooled connections, wait a moment, and open everything again."""
        self.report.reconnects += 1
        log.warning("database unavailable; reconnecting", worker=self.id, error=str(exc)[:300])
        self.claims.reset()
        self.store.engine.dispose()
        self._after = dict.fromkeys(range(BUCKETS), 0)
        self.stop.wait(self.options.poll)

    def _work(self, fld: Field) -> None:
        while not self.stop.is_set():
            done = self._round(fld)
            if done:
                self._progress = time.monotonic()
                continue
            if self.options.once:
                return
            idle = time.perf_counter()
            self._progress = time.monotonic()  # waiting is not hanging
            self.stop.wait(self.options.poll)
            self._spent("idle", time.perf_counter() - idle)

    @contextmanager
    def _unit(self, kind: str) -> Iterator[None]:
        """Time one unit of work; a unit that fails is logged and left for a later round
        (a database that went away is not the unit's failure: the loop reconnects)."""
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            if isinstance(exc, StoreError) or StoreError.from_exception(exc, str(self.store.url)):
                raise
            self.report.failures[kind] += 1
            log.exception("unit failed", worker=self.id, kind=kind)
        finally:
            self._spent(kind, time.perf_counter() - started)
            self._progress = time.monotonic()

    def _spent(self, kind: str, seconds: float) -> None:
        self.report.seconds[kind] = self.report.seconds.get(kind, 0.0) + seconds

    def _round(self, fld: Field) -> int:
        done = 0
        for step in (
            self._take_over,
            self._detect,
            self._sweeps,
            self._answers,
            self._agent_runs,
            self._outbox,
        ):
            if self.stop.is_set():
                break
            done += step(fld)
        return done

    # -- the kinds of work ------------------------------------------------------------------

    def _take_over(self, fld: Field) -> int:
        if not self.claims.postgres:
            return 0
        with self._unit("takeover"), self.store.session() as session:
            lost = cut_off_lost_workers(session, timedelta(seconds=self.options.lease), me=self.id)
        for worker in lost:
            log.warning("took over a lost worker's claims", worker=self.id, lost=worker)
        self.report.taken_over += lost
        return len(lost)

    def _detect(self, fld: Field) -> int:
        buckets: Iterable[int] = range(BUCKETS) if self.claims.postgres else range(1)
        rescan = time.monotonic() - self._rescanned >= self.options.rescan
        if rescan or self.options.once:
            self._rescanned = time.monotonic()
        if self.claims.postgres and not rescan:
            # one statement finds the buckets with something new, instead of a claim and a
            # read of every bucket each round
            with self.store.read() as session:
                due = undetected_buckets(session, self._after)
            buckets = [b for b in buckets if b in due]
        found = 0
        for bucket in buckets:
            if self.stop.is_set():
                break
            with self.claims.holding(ClaimKind.DETECT, bucket) as mine:
                if not mine:
                    continue
                after = 0 if rescan else self._after[bucket]
                with self._unit("detect"):
                    report = self._detector(fld).detect(
                        batch_size=self.options.batch_size,
                        bucket=bucket if self.claims.postgres else None,
                        start_after=after,
                    )
                    self._after[bucket] = max(after, report.last_id)
                    self.report.units["signals"] += report.signals
                    self.report.units["field_events"] += report.event_count
                    self.report.units["model_calls"] += report.model_calls
                    self.report.units["model_faults"] += report.model_faults
                    found += report.last_id > after
        return found

    def _detector(self, fld: Field) -> Detector:
        """Detection, built again only when the pack changed (a newer pack was loaded)."""
        pack = fld.pack
        if self._detection is None or self._detection.pack is not pack:
            self._detection = Detector(self.store, pack, fld.model, self.clock)
        return self._detection

    def _sweeps(self, fld: Field) -> int:
        done = 0
        with self._unit("sweep"):
            # a sweep reads what detection made of the signals: it waits for detection to
            # catch up, unless signals never stop coming (then it runs at twice its period)
            with self.store.read() as session:
                behind = count_undetected(session) > 0
            every = self.options.sweep_every * (2 if behind else 1)
            with self.store.session() as session:
                due = claim_schedule(
                    session,
                    "account-level",
                    now=self.clock.now(),
                    every=every,
                    worker_id=self.id,
                    first=not behind,
                )
            if due:
                report = run_detection(
                    self.store, fld.pack, fld.model, self.clock, limit=0, governance=True
                )
                self.report.units["sweeps"] += 1
                self.report.units["field_events"] += report.event_count
                done += 1
        with self.claims.holding(ClaimKind.SWEEP, LADDER) as mine:
            if mine:
                with self._unit("ladder"):
                    moved = fld.climb_ladder()
                    self.report.units["climbs"] += len(moved)
                    done += len(moved)
        if self.notifier is not None:
            with self.claims.holding(ClaimKind.SWEEP, NOTIFY) as mine:
                if mine:
                    with self._unit("notify"):
                        sent = deliver_notifications(self.store, self.notifier, self.clock)
                        self.report.units["notifications"] += sent.sent
                        done += sent.sent
        return done

    def _answers(self, fld: Field) -> int:
        with self._unit("resume"):
            resumed = fld.resume_answered()
            self.report.units["resumed"] += resumed
            return resumed
        return 0  # the unit failed (logged)

    def _agent_runs(self, fld: Field) -> int:
        ran = 0
        for event_id, agent, _cut_off in fld.pending_events(self.options.runs_per_round * 2):
            if self.stop.is_set() or ran >= self.options.runs_per_round:
                break
            if agent not in fld.graphs:
                continue
            with self._unit("agent_runs"):
                status = fld.run_event(event_id, agent)  # "busy": another worker has it
                if status in ("waiting", "done"):
                    ran += 1
                    self.report.units["runs"] += 1
        return ran

    def _outbox(self, fld: Field) -> int:
        with self._unit("outbox"):
            report = fld.deliver(limit=200)
            self.report.units["executed"] += report.sent
            self.report.units["delivery_failures"] += report.failed
            return report.sent + report.failed + report.retried
        return 0

    # -- heartbeat ----------------------------------------------------------------------------

    def _beat_loop(self) -> None:
        """Beat every ``heartbeat`` seconds while the loop makes progress; a loop stuck for
        longer than the lease stops beating, so another worker takes its claims over. Marked
        lost by another worker: stop."""
        while not self._beating.wait(self.options.heartbeat):
            if time.monotonic() - self._progress > self.options.lease:
                continue  # hanging: let the lease run out
            try:
                with self.store.session() as session:
                    alive = beat(session, self.id, self.report.total, self.claims.backend_pid())
            except Exception as exc:
                log.warning("heartbeat failed", worker=self.id, error=str(exc)[:300])
                continue
            if not alive:
                log.error("marked lost by another worker; stopping", worker=self.id)
                self.report.lost = True
                self.stop.set()
                return
