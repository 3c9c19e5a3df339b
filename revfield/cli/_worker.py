"""``revfield worker``: process pending work continuously, beside any number of other workers
on the same PostgreSQL database (one worker per SQLite file)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Annotated, Any

import typer
from rich import box
from rich.table import Table

from revfield.cli._app import State, app, console, fail, state
from revfield.cli._field import open_field
from revfield.cli._run import _notifying


@contextmanager
def _only_worker(st: State) -> Iterator[None]:
    """On SQLite, one worker per database file (a lock file beside it): SQLite has one writer
    at a time, so a second worker would only wait. PostgreSQL takes any number."""
    store = st.store()
    if store.dialect != "sqlite" or store.file is None:
        yield
        return
    path = store.beside("worker.lock")
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail(
                f"another `revfield worker` already works on {store.file}\n  help: SQLite has "
                "one writer at a time, so one worker per file; for several workers use "
                "PostgreSQL (REVFIELD_DATABASE_URL=postgresql+psycopg://…)"
            )
        yield


@app.command()
def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=64, help="Worker processes (PostgreSQL for >1)."
        ),
    ] = 1,
    once: Annotated[
        bool, typer.Option(help="Stop when nothing is left to do instead of waiting for more.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Signals per detection batch.")] = 500,
    poll: Annotated[
        float, typer.Option(min=0.05, help="Seconds to wait when there is nothing to do.")
    ] = 1.0,
    heartbeat: Annotated[float, typer.Option(min=0.1, help="Seconds between heartbeats.")] = 5.0,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0, help="Seconds without a heartbeat before a worker's claims are taken over."
        ),
    ] = 60.0,
    sweep_every: Annotated[
        float,
        typer.Option(min=0.0, help="Minutes between renewal, inactivity and governance sweeps."),
    ] = 15.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    report: Annotated[
        Path | None,
        typer.Option(
            "--json", metavar="FILE", help="Also write what the workers did as JSON to FILE."
        ),
    ] = None,
) -> None:
    """Work continuously: detect signals, sweep renewals and governance, climb the review
    ladder, resume answered runs, run the agents and deliver the outbox. Each unit is claimed,
    so any number of workers share one PostgreSQL database; decisions for one account are
    made one at a time. SIGTERM (or Ctrl-C) finishes the current unit and exits 0."""
    from revfield.memory import Claims
    from revfield.service import configure_logging
    from revfield.worker import Worker, WorkerOptions

    if heartbeat * 2 > lease:
        fail(f"--lease {lease:g} must be at least twice --heartbeat {heartbeat:g}")
    st = state()
    store = st.store()
    if concurrency > 1 and store.dialect != "postgresql":
        fail(
            f"--concurrency {concurrency} needs PostgreSQL: SQLite has one writer at a time"
            "\n  help: run one worker, or set REVFIELD_DATABASE_URL=postgresql+psycopg://…"
        )
    with open_field(st):  # a pack, model or executor that can't work: one error, before any start
        pass
    if concurrency > 1:
        _supervise(st, concurrency, once=once, args=_child_args(locals()), report=report)
        return
    configure_logging(log_level)
    options = WorkerOptions(
        once=once,
        batch_size=batch_size,
        poll=poll,
        heartbeat=heartbeat,
        lease=lease,
        sweep_every=timedelta(minutes=sweep_every),
    )
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with _only_worker(st), _notifying(st, True) as notifier:
            claims = Claims(store, keep=True)
            w = Worker(
                lambda c: open_field(st, c),
                claims,
                st.clock,
                options=options,
                notifier=notifier,
                stop=stop,
            )
            result = w.run()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    body = {
        "worker": result.worker_id,
        "units": dict(result.units),
        "seconds": result.seconds,
        "failures": dict(result.failures),
        "reconnects": result.reconnects,
        "taken_over": result.taken_over,
        "lost": result.lost,
        "wall": result.wall,
    }
    if report is not None:
        _write_json(report, {"workers": [body], **summed([body])})
    console.print(render_workers([body]))


def _child_args(options: dict[str, Any]) -> list[str]:
    """The options a supervised worker is started with (the supervisor's own, for one)."""
    out = ["--concurrency", "1"]
    if options["once"]:
        out.append("--once")
    for name in ("batch_size", "poll", "heartbeat", "lease", "sweep_every", "log_level"):
        out += [f"--{name.replace('_', '-')}", str(options[name])]
    return out


def _supervise(st: State, count: int, *, once: bool, args: list[str], report: Path | None) -> None:
    from revfield.worker import Supervisor, command_for, read_reports

    env = {"REVFIELD_DATABASE_URL": st.settings.database_url}
    with tempfile.TemporaryDirectory(prefix="revfield-workers-") as folder:
        sup = Supervisor(command_for(args), count, once=once, reports=Path(folder), env=env)
        code = sup.run()
        reports = [r["workers"][0] for r in read_reports(Path(folder)) if r.get("workers")]
    if report is not None:
        _write_json(report, {"workers": reports, "restarts": sup.restarts, **summed(reports)})
    console.print(render_workers(reports, restarts=sup.restarts))
    if code:
        raise typer.Exit(code)


def _write_json(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        _dump(body, f)
    os.replace(tmp, path)


def _dump(body: dict[str, Any], f: IO[str]) -> None:
    json.dump(body, f, indent=2, default=str)


UNITS = (
    ("signals", "signals detected"),
    ("field_events", "field events raised"),
    ("runs", "agent runs"),
    ("resumed", "runs resumed from answers"),
    ("climbs", "review items moved up the ladder"),
    ("notifications", "escalations notified"),
    ("executed", "actions executed"),
    ("delivery_failures", "deliveries failed"),
    ("sweeps", "account sweeps"),
    ("model_calls", "model calls"),
    ("model_faults", "model faults (escalated)"),
)


def summed(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' reports added up: units, seconds and failures by kind; the longest wall."""
    units: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for r in reports:
        units.update(r.get("units", {}))
        seconds.update(r.get("seconds", {}))
        failures.update(r.get("failures", {}))
    wall = max((float(r.get("wall", 0.0)) for r in reports), default=0.0)
    return {
        "units": dict(units),
        "seconds": dict(seconds),
        "failures": dict(failures),
        "wall": wall,
    }


def render_workers(reports: list[dict[str, Any]], *, restarts: int = 0) -> Table:
    """What the workers did, summed, and where their time went."""
    total = summed(reports)
    units: Counter[str] = Counter(total["units"])
    seconds: Counter[str] = Counter(total["seconds"])
    failures: Counter[str] = Counter(total["failures"])
    wall = float(total["wall"])
    title = f"{len(reports)} worker{'s' if len(reports) != 1 else ''}, {wall:.1f} s"
    t = Table(title=title, box=box.SIMPLE_HEAD, show_header=False, title_justify="left")
    t.add_column()
    t.add_column(justify="right")
    t.add_column(style="dim")
    for key, label in UNITS:
        if units.get(key):
            rate = f"{units[key] / wall:,.0f}/s" if wall and key in ("signals", "runs") else ""
            t.add_row(label, f"{units[key]:,}", rate)
    busy = sum(v for k, v in seconds.items() if k != "idle")
    for kind, spent in sorted(seconds.items(), key=lambda kv: -kv[1]):
        share = f"{spent / busy:.0%} of busy time" if busy and kind != "idle" else ""
        t.add_row(f"  time in {kind}", f"{spent:.1f} s", share)
    for kind, n in failures.items():
        t.add_row(f"failed {kind} units", f"{n:,}", "left for a later round; see the log")
    taken = sum(len(r.get("taken_over", [])) for r in reports)
    if taken:
        t.add_row("lost workers taken over", f"{taken:,}", "")
    reconnects = sum(int(r.get("reconnects", 0)) for r in reports)
    if reconnects:
        t.add_row("database reconnects", f"{reconnects:,}", "")
    if restarts:
        t.add_row("workers restarted", f"{restarts:,}", "after dying")
    return t
