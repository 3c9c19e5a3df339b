"""Workers on PostgreSQL: agent runs/s and signals/s at 1, 2 and 4 workers, beside one
``revfield run`` over the same work (the floor), and where the time goes at 4.

Each configuration gets a fresh PostgreSQL database holding the same generated book (twice
the demo's accounts) with all its signals ingested and not yet detected; then one command,
timed from start to exit like a user would: ``revfield run`` (the floor: run first and again
last, the mean of the two), or ``revfield worker --once --concurrency N``. After each, the
invariant checker must find nothing lost and nothing done twice. CPU time is read from /proc
for the command's processes and for the PostgreSQL server, so the note can say what the
machine's two cores did.

The machine's own ceiling is measured in the same run, before and after the workers: a
CPU-bound Python loop alone, then two copies of it side by side. On a virtual machine whose two
cores share their host's hardware, two processes each run slower than one alone, so two
workers can't be twice one worker even with nothing shared between them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._report import Figure, console
from revfield.demo.book import generate_book
from revfield.demo.replay import load_book
from revfield.ingest import ingest_signals
from revfield.memory import Store
from revfield.policies import load_pack
from revfield.worker import check_invariants

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
ADMIN = os.environ.get(
    "REVFIELD_BENCH_DATABASE_URL",
    os.environ.get(
        "REVFIELD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)
SCALE = 2.0
COUNTS = (1, 2, 4)


def _database(name: str) -> str:
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _prepare(name: str) -> tuple[str, int]:
    url = _database(name)
    store = Store.from_url(url)
    store.migrate()
    book = generate_book(7, prospects=int(150 * SCALE), customers=int(90 * SCALE))
    load_book(store, book)
    accepted = ingest_signals(book.signals, store=store, source="bench").accepted
    store.dispose()
    return url, accepted


def _postgres_cpu() -> float:
    """CPU seconds every PostgreSQL process of this machine has used so far, ended backends
    included (they are in the server's children's times)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            if not name.startswith("postgres"):
                continue
            values = fields[1].split()
            total += sum(int(v) for v in values[11:15]) / tick  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def _run(url: str, args: list[str], folder: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "REVFIELD_DATABASE_URL": url,
        "REVFIELD_POLICIES": str(POLICIES),
        "REVFIELD_LLM": "offline",
        "REVFIELD_OUTBOX_LOG": str(folder / "outbox.jsonl"),
        "XDG_DATA_HOME": str(folder / "data"),
        "REVFIELD_CONFIG": str(folder / "absent.toml"),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg_before = _postgres_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "revfield.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"`revfield {' '.join(args)}` failed:\n{done.stderr[-3000:]}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "postgres_cpu": _postgres_cpu() - pg_before,
    }


_SPIN = "x = 0\nfor i in range(7_000_000):\n    x += i * i % 7\n"
"""A CPU-bound loop (about a second and a half alone on the reference machine)."""


def _side_by_side(n: int) -> float:
    """Wall seconds for ``n`` copies of :data:`_SPIN` started together."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n)]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - started


def _ceiling(repeats: int = 3) -> float:
    """How much faster two CPU-bound processes side by side get through twice the work than
    one alone (2.0: the two cores are independent): the fastest of ``repeats`` of each, so a
    burst of other work on the machine during one of them does not count."""
    alone = min(_side_by_side(1) for _ in range(repeats))
    together = min(_side_by_side(2) for _ in range(repeats))
    return 2 * alone / together


def _outcome(url: str) -> tuple[int, int, list[str]]:
    """Agent runs made (actions' runs) and signals detected, and what the checker found."""
    store = Store.from_url(url)
    try:
        with store.read() as s:
            runs = s.execute(
                sa.text(
                    "SELECT count(*) FROM field_events WHERE agent IS NOT NULL "
                    "AND status IN ('done', 'waiting')"
                )
            ).scalar_one()
            detected = s.execute(sa.text("SELECT count(*) FROM signal_detections")).scalar_one()
        report = check_invariants(store, load_pack(POLICIES))
        return int(runs), int(detected), [str(v) for v in report.violations]
    finally:
        store.dispose()


def bench_workers() -> list[Figure]:
    results: dict[str, dict[str, Any]] = {}
    ceilings = [_ceiling()]
    with tempfile.TemporaryDirectory(prefix="revfield-bench-workers-") as tmp:
        # the floor runs first and last: the machine's speed drifts over the minutes this
        # takes, and the figures are compared with the mean of the two
        configs: list[tuple[str, list[str]]] = [
            ("run", ["run"]),
            *[
                (f"{n}", ["worker", "--once", "--concurrency", str(n), "--log-level", "warning"])
                for n in COUNTS
            ],
            ("run again", ["run"]),
        ]
        for label, args in configs:
            name = f"revfield_bench_workers_{label.replace(' ', '_')}"
            url, accepted = _prepare(name)
            folder = Path(tmp) / label.replace(" ", "_")
            folder.mkdir()
            report = folder / "workers.json"
            if args[0] == "worker":
                args = [*args, "--json", str(report)]
            console.print(f"  {label:>3}: {accepted:,} signals pending …")
            timing = _run(url, args, folder)
            runs, detected, violations = _outcome(url)
            timing.update(runs=runs, signals=detected, violations=violations)
            if report.exists():
                timing["workers"] = json.loads(report.read_text())
            results[label] = timing
            _drop(name)
    ceilings.append(_ceiling())
    return _figures(results, sum(ceilings) / len(ceilings), ceilings)


def _figures(
    results: dict[str, dict[str, Any]], ceiling: float, ceilings: list[float]
) -> list[Figure]:
    floor, again = results["run"], results["run again"]
    floor_runs = (floor["runs"] / floor["wall"] + again["runs"] / again["wall"]) / 2
    floor_signals = (floor["signals"] / floor["wall"] + again["signals"] / again["wall"]) / 2
    one = results["1"]
    one_runs = one["runs"] / one["wall"]
    figures = []
    for n in COUNTS:
        r = results[str(n)]
        rate = r["runs"] / r["wall"]
        speedup = rate / one_runs
        clean = not r["violations"] and r["runs"] == floor["runs"]
        target = (
            "≥ 1.5× `revfield run`, nothing lost or doubled"
            if n == 2
            else "nothing lost or doubled"
        )
        met = clean and (rate / floor_runs >= 1.5 if n == 2 else True)
        figures.append(
            Figure(
                f"agent runs/s, {n} worker{'s' if n > 1 else ''} (PostgreSQL)",
                rate,
                "runs/s",
                target,
                met,
                "`revfield run` (mean of first and last), same book",
                floor_runs,
                rate / floor_runs,
                f"{speedup:.2f}× one worker; {r['runs']:,} runs in {r['wall']:.1f} s; "
                f"signals {r['signals'] / r['wall']:,.0f}/s (run: {floor_signals:,.0f}/s); "
                f"run first {floor['runs'] / floor['wall']:.1f}, last "
                f"{again['runs'] / again['wall']:.1f} runs/s; "
                f"CPU: workers {r['cpu']:.0f} s, PostgreSQL {r['postgres_cpu']:.0f} s; "
                f"{len(r['violations'])} violations",
            )
        )
    two = results["2"]["runs"] / results["2"]["wall"] / one_runs
    figures.append(
        Figure(
            "2 workers beside 1, and the machine's own ceiling",
            two,
            "× one worker",
            "reported",
            True,
            "two CPU-bound processes side by side vs one (mean of before and after)",
            ceiling,
            two / ceiling,
            f"the machine: {' and '.join(f'{c:.2f}×' for c in ceilings)} (2.00× would be two "
            f"independent cores); 2 workers reach {two / ceiling:.0%} of what the machine gives "
            "two processes that share nothing",
        )
    )
    four = results["4"].get("workers", {})
    seconds = four.get("seconds", {})
    busy = sum(v for k, v in seconds.items() if k != "idle") or 1.0
    spent = ", ".join(
        f"{k} {v / busy:.0%}"
        for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])
        if k != "idle"
    )
    r4 = results["4"]
    cores = 2 * r4["wall"]
    figures.append(
        Figure(
            "where the time goes at 4 workers",
            r4["cpu"] / cores * 100,
            "% of 2 cores in workers",
            "reported",
            True,
            "PostgreSQL's share of the 2 cores",
            r4["postgres_cpu"] / cores * 100,
            None,
            f"busy time by unit: {spent}; idle {seconds.get('idle', 0.0):.1f} s across workers",
        )
    )
    console.print_json(json.dumps({k: {**v, "workers": None} for k, v in results.items()}))
    return figures
