"""The soak: N ``revfield worker`` processes on PostgreSQL over a generated book, with faults
injected, then the invariant checker. ``tests/worker/test_soak.py`` runs a short one in CI;
``make soak`` a long one (``SOAK=long``).

What goes wrong on purpose while the workers work:

- the model (revfield's local OpenAI-compatible server, through the real SDK) answers a share
  of calls with 429, 500, 503, a timeout or malformed JSON;
- signals arrive in shuffled chunks (out of order), and some chunks are sent twice;
- workers are killed with SIGKILL at random moments and others started in their place;
- every worker's database connection is cut at once (what a PostgreSQL restart does to
  them), and with ``restart_postgres`` the server really is restarted;
- the receiver of executed actions fails a share of deliveries, some after applying them (the
  response is lost: the outbox delivers again, and the receiver must see the same key);
- a seller answers review items while the workers resume runs and climb the ladder.

Then the workers get SIGTERM (each must exit 0), ``revfield worker --once`` drains what is
left, and :func:`~revfield.worker.check_invariants` must find nothing wrong.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from revfield.clock import SystemClock
from revfield.demo.book import generate_book
from revfield.demo.replay import load_book
from revfield.evals._local_server import LocalOpenAIServer
from revfield.field import Field, open_checkpointer
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory import (
    CALLER,
    Store,
    count_undetected,
    pending_reviews,
    runnable_events,
)
from revfield.memory.models import ActionRecord, OutboxItem, table_of
from revfield.policies import load_pack
from revfield.review import LOCAL_ADMIN, ReviewError, resolve_actor
from revfield.worker import InvariantReport, check_invariants

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SECRET = "soak-secret"
OUTBOX = table_of(OutboxItem)
OUTBOX_ACTIONS = table_of(ActionRecord)


@dataclass(frozen=True)
class SoakPlan:
    scale: float = 1.0
    """The book, in multiples of the demo's (150 prospects, 90 customers)."""
    workers: int = 3
    chunks: int = 12
    """Signals arrive in this many shuffled chunks."""
    kills: int = 2
    """Workers killed with SIGKILL (each replaced by a new one)."""
    cuts: int = 1
    """Times every worker's database connection is cut."""
    restart_postgres: bool = False
    fault_rate: float = 0.05
    delivery_fault_rate: float = 0.05
    resend_rate: float = 0.2
    """Share of chunks sent twice."""
    answers_per_chunk: int = 15
    seed: int = 11


@dataclass
class SoakResult:
    report: InvariantReport
    counts: Counter[str] = field(default_factory=Counter)
    """What the soak did: signals sent, chunks resent, kills, cuts, faults, deliveries…"""
    exit_codes: list[int] = field(default_factory=list)
    """Exit codes of the workers stopped with SIGTERM."""
    seconds: float = 0.0


class Receiver:
    """What the outbox executes against: a real HTTP server on 127.0.0.1 that applies each
    idempotency key once (``effects``), counts every delivery, and fails a share of them
    (half of those after applying: the response is lost)."""

    def __init__(self, fault_rate: float, seed: int) -> None:
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.effects: Counter[str] = Counter()
        self.deliveries: Counter[str] = Counter()
        self.failed = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                key = self.headers.get("Idempotency-Key") or ""
                status = receiver.receive(key)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/actions"

    def receive(self, key: str) -> int:
        with self.lock:
            self.deliveries[key] += 1
            roll = self.rng.random()
            if roll < self.fault_rate / 2:
                self.failed += 1
                return 503  # not applied
            self.effects[key] = 1  # applied once, however often it arrives
            if roll < self.fault_rate:
                self.failed += 1
                return 503  # applied, but the answer is lost
            return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _database(admin_url: str, name: str) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


class Soak:
    """One soak: its database, model server, receiver and workers."""

    def __init__(self, plan: SoakPlan, admin_url: str, tmp: Path) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.tmp = tmp
        self.name = f"revfield_soak_{os.getpid()}_{plan.seed}"
        self.admin_url = admin_url
        self.url = _database(admin_url, self.name)
        self.store = Store.from_url(self.url)
        self.store.migrate()
        self.pack = load_pack(POLICIES)
        self.counts: Counter[str] = Counter()
        self.model = LocalOpenAIServer(
            fault_rate=plan.fault_rate,
            fault_kinds=("429", "500", "503", "timeout", "malformed"),
            seed=plan.seed,
            timeout_delay=1.0,
        )
        self.receiver = Receiver(plan.delivery_fault_rate, plan.seed)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    # -- workers ------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "REVFIELD_DATABASE_URL": self.url,
            "REVFIELD_POLICIES": str(POLICIES),
            "REVFIELD_LLM": "openai",
            "OPENAI_BASE_URL": self.model.base_url,
            "OPENAI_API_KEY": "sk-soak",
            "REVFIELD_MODEL_TIMEOUT": "0.5",
            "REVFIELD_MODEL_MAX_RETRIES": "1",
            "REVFIELD_EXECUTOR": "webhook",
            "REVFIELD_WEBHOOK_URL": self.receiver.url,
            "REVFIELD_WEBHOOK_SECRET": SECRET,
            "REVFIELD_WEBHOOK_RETRIES": "1",
            "REVFIELD_OUTBOX_LEASE_SECONDS": "2",
            "XDG_DATA_HOME": str(self.tmp / "data"),
            "REVFIELD_CONFIG": str(self.tmp / "absent.toml"),
        }

    def start_worker(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.tmp / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "revfield.cli",
                    "worker",
                    "--poll",
                    "0.2",
                    "--heartbeat",
                    "0.5",
                    "--lease",
                    "3",
                    "--batch-size",
                    "200",
                    *args,
                ],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.tmp,
            )
        return proc

    def kill_one(self) -> None:
        alive = [w for w in self.workers if w.poll() is None]
        if not alive:
            return
        victim = self.rng.choice(alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)
        self.workers.append(self.start_worker())
        self.counts["kills"] += 1

    def cut_connections(self) -> None:
        """Every worker's connection ends at once, as a PostgreSQL restart ends them."""
        with self.store.engine.connect() as conn:
            cut = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": self.name},
            ).scalar_one()
        self.counts["connections_cut"] += int(cut)
        self.counts["cuts"] += 1

    def restart_postgres(self) -> None:
        versions = sorted(os.listdir("/etc/postgresql"))
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
            check=True,
            capture_output=True,
        )
        self.store.engine.dispose()
        self.counts["postgres_restarts"] += 1

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> SoakResult:
        started = time.perf_counter()
        plan = self.plan
        book = generate_book(
            plan.seed, prospects=int(150 * plan.scale), customers=int(90 * plan.scale)
        )
        load_book(self.store, book)
        records = list(book.signals)
        self.rng.shuffle(records)  # out of order
        chunks = [records[i :: plan.chunks] for i in range(plan.chunks)]
        events = self._chaos_schedule(len(chunks))
        resend = set(
            self.rng.sample(range(plan.chunks), max(1, round(plan.resend_rate * plan.chunks)))
        )
        self.workers = [self.start_worker() for _ in range(plan.workers)]
        assert self._wait(lambda: self._running() >= plan.workers, 120), self.worker_log()
        for n, chunk in enumerate(chunks):
            self._retrying(lambda c=chunk, n=n: self._send(c, f"soak-{n}"))
            # the workers take the chunk up; what follows lands in the middle of their runs
            self._wait(lambda: self._undetected() == 0, 30)
            if n in resend:
                self._retrying(lambda c=chunk, n=n: self._send(c, f"soak-{n}-again"))
                self.counts["chunks_resent"] += 1
            for what in events.get(n, []):
                what()
            self._retrying(lambda: self._answer(plan.answers_per_chunk))
        self.counts["signals_sent"] = len(records)
        codes = self._stop_workers()
        self._drain()
        self.counts["model_requests"] = self.model.served
        self.counts.update({f"model_fault_{k}": v for k, v in self.model.injected.items()})
        self.counts["deliveries"] = sum(self.receiver.deliveries.values())
        self.counts["deliveries_failed"] = self.receiver.failed
        self.counts["redelivered_keys"] = sum(1 for n in self.receiver.deliveries.values() if n > 1)
        report = check_invariants(
            self.store,
            self.pack,
            effects=dict(self.receiver.effects),
            accepted=self.accepted,
            drained=True,
        )
        return SoakResult(report, self.counts, codes, time.perf_counter() - started)

    def _chaos_schedule(self, chunks: int) -> dict[int, list[Any]]:
        plan, out = self.plan, {}
        for _ in range(plan.kills):
            out.setdefault(self.rng.randrange(chunks), []).append(self.kill_one)
        for _ in range(plan.cuts):
            out.setdefault(self.rng.randrange(chunks), []).append(self.cut_connections)
        if plan.restart_postgres:
            out.setdefault(chunks // 2, []).append(self.restart_postgres)
        return out

    accepted: list[tuple[str, str]]

    def _send(self, chunk: list[dict[str, Any]], source: str) -> None:
        report = ingest_signals(chunk, store=self.store, source=source, batch_size=100)
        bad = {p.line for p in report.problems}
        keys = [(r["source"], r["external_id"]) for i, r in enumerate(chunk, 1) if i not in bad]
        self.accepted = getattr(self, "accepted", []) + keys
        self.counts["signals_accepted_new"] += report.accepted
        self.counts["signals_duplicate"] += report.duplicates
        self.counts["signals_dead_lettered"] += report.dead_lettered

    def _answer(self, limit: int) -> None:
        """A seller answers the oldest waiting items: most approved, some rejected."""
        with self.store.read() as session:
            due = [(p.review.id, p.review.assignee_id) for p in pending_reviews(session)][:limit]
        if not due:
            return
        with _field(self.store, self.pack) as fld:
            for review_id, assignee in due:
                with self.store.read() as session:
                    try:
                        actor = resolve_actor(session, assignee) if assignee else LOCAL_ADMIN
                    except ReviewError:
                        actor = LOCAL_ADMIN
                try:
                    if review_id % 5:
                        fld.approve(review_id, actor=actor)
                        self.counts["approved"] += 1
                    else:
                        fld.reject(review_id, actor=actor, reason="not now")
                        self.counts["rejected"] += 1
                except ReviewError:
                    self.counts["answers_refused"] += 1  # moved up the ladder meanwhile

    def _retrying(self, step: Any) -> None:
        """The test's own steps ride out a database restart too."""
        for attempt in range(20):
            try:
                step()
                return
            except (sa.exc.OperationalError, sa.exc.InterfaceError):
                self.store.engine.dispose()
                self.counts["feeder_retries"] += 1
                time.sleep(0.25 * (attempt + 1))  # noqa: TID251 — waiting for a restarted server
        step()

    def _stop_workers(self) -> list[int]:
        self._wait(lambda: self._running() >= len(self.workers), 60)  # replacements started
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        return [w.wait(timeout=120) for w in self.workers]

    def _drain(self) -> None:
        """``revfield worker --once`` until nothing is left (deliveries claimed by a killed
        worker come back once their lease has run out)."""
        self.receiver.fault_rate = 0.0
        self.model.fault_rate = 0.0
        for _ in range(15):
            proc = self.start_worker("--once")
            assert proc.wait(timeout=600) == 0, self.logs[-1].read_text()[-3000:]
            self.counts["drain_passes"] += 1
            if not self._left():
                return
            time.sleep(1.0)  # noqa: TID251 — an outbox lease is real time

    def _wait(self, condition: Any, seconds: float) -> bool:
        """Poll ``condition`` (the workers are other processes) for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if condition():
                    return True
            except (sa.exc.OperationalError, sa.exc.InterfaceError):
                self.store.engine.dispose()
            time.sleep(0.1)  # noqa: TID251 — waiting on other processes
        return False

    def _running(self) -> int:
        """How many of the current worker processes have started working (registered)."""
        with self.store.read() as session:
            pids = set(
                session.execute(
                    sa.text("SELECT pid FROM workers WHERE status = 'running'")
                ).scalars()
            )
        return sum(1 for w in self.workers if w.pid in pids)

    def _undetected(self) -> int:
        with self.store.read() as session:
            return count_undetected(session)

    def _left(self) -> int:
        """Units of work still to do: undetected signals, runnable events, deliveries due
        (not those that wait for an action still in review)."""
        pre = OUTBOX_ACTIONS.alias("pre")
        with self.store.read() as session:
            outbox = session.execute(
                sa.select(sa.func.count())
                .select_from(OUTBOX.join(OUTBOX_ACTIONS, OUTBOX_ACTIONS.c.id == OUTBOX.c.action_id))
                .where(
                    OUTBOX.c.status.in_(["pending", "sending"]),
                    OUTBOX.c.executor != CALLER,
                    sa.or_(
                        OUTBOX_ACTIONS.c.after_action_id.is_(None),
                        sa.exists().where(
                            pre.c.id == OUTBOX_ACTIONS.c.after_action_id,
                            pre.c.status == "executed",
                        ),
                    ),
                )
            ).scalar_one()
            return count_undetected(session) + len(runnable_events(session)) + int(outbox)

    def close(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        self.model.close()
        self.receiver.close()
        self.store.dispose()
        drop_database(self.admin_url, self.name)

    def worker_log(self) -> str:
        return "\n".join(
            f"== {p.name}\n" + p.read_text(errors="replace")[-4000:] for p in self.logs
        )

    def log_lines(self) -> Iterator[dict[str, Any]]:
        for p in self.logs:
            for line in p.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue


@contextmanager
def _field(store: Store, pack: Any) -> Iterator[Field]:
    with open_checkpointer(store) as saver:
        fld = Field(store, pack, OfflineModel(), SystemClock(), saver)
        try:
            yield fld
        finally:
            fld.close()


def run_soak(plan: SoakPlan, admin_url: str, tmp: Path) -> SoakResult:
    soak = Soak(plan, admin_url, tmp)
    try:
        result = soak.run()
        result.counts["worker_log_errors"] = sum(
            1 for line in soak.log_lines() if line.get("level") == "error"
        )
        return result
    finally:
        soak.close()
