"""How fast the command line answers: the wall time of whole commands, as a user runs them,
beside the floor of starting Python itself (``python -c pass``) in the same run, and (in each
figure's note) the floor of a command that reads the memory: importing Typer, pydantic, Rich and
SQLAlchemy's ORM, and leaving the way the command line leaves (the collector's objects frozen at
exit, so the interpreter's teardown does not walk them again).

The commands run against a small SQLite database seeded the way the field fills one (agent
runs that pause for a person), so ``inbox`` lists real items and ``approve``/``reject`` answer
them and resume their runs.

``approve`` and ``reject`` take the answer, print it, and only then load LangGraph to resume
the run: their start is the time until the answer's line is printed (the answer is in memory
by then), and the whole command is reported beside its own floor, the libraries' floor plus
importing LangGraph's graph and checkpointer."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from rich.progress import Progress

from benchmarks._report import Figure, console
from benchmarks._stores import fresh_sqlite
from benchmarks.bench_agents import PACK, T0, _world

WORK = Path(__file__).parent / ".work" / "cli"
ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
START_TARGET = 0.5
"""Seconds: the issue's target for a command to start (and, for these, to finish)."""
LIBRARIES = "import typer, pydantic, rich.table, sqlalchemy.orm"
"""What any command that reads the memory imports, however little else it loads."""
FLOOR = f"import atexit, gc; atexit.register(gc.freeze); {LIBRARIES}"
"""The floor of such a command: those imports, and the command line's own exit."""
RESUMING = f"{FLOOR}; import langgraph.graph, langgraph.checkpoint.sqlite"
"""The floor of a command that resumes a paused run: those, and LangGraph."""
ANSWERS = ("approve", "reject")


def _seed(db: Path, n: int) -> list[int]:
    """n enterprise prospects whose outreach waits for a person; their review ids."""
    from revfield.clock import ManualClock
    from revfield.field import Field, open_checkpointer
    from revfield.llm import OfflineModel
    from revfield.memory.models import Account, table_of
    from revfield.outbox import LogExecutor
    from revfield.policies import load_pack
    from revfield.review import inbox

    store = fresh_sqlite(db)
    _world(store, n)
    with store.session() as s:
        s.execute(sa.update(table_of(Account)).values(segment="enterprise", employees=5000))
    clock = ManualClock(T0 + timedelta(hours=1))
    with open_checkpointer(store) as saver:
        fld = Field(
            store,
            load_pack(PACK),
            OfflineModel(),
            clock,
            saver,
            executor=LogExecutor(path=WORK / "outbox.jsonl"),
        )
        fld.run_agents()
        fld.close()
    with store.read() as s:
        ids = [item.review_id for item in inbox(s)]
    store.dispose()
    return ids


def _time(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds until the command's first line of output, and until it ended."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=WORK, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        first = time.perf_counter() - started
        proc.stdout.read()
        proc.wait()
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.read()[-400:]}")
    return first, seconds


def bench_cli() -> list[Figure]:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    db = WORK / "cli.db"
    reviews = _seed(db, 2 * REPEATS + 2)
    signals = WORK / "signals.jsonl"
    shutil.copy(ROOT / "revfield" / "samples" / "signals.jsonl", signals)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "REVFIELD_DATABASE_URL": f"sqlite:///{db}",
        "REVFIELD_POLICIES": str(PACK),
    }
    revfield = [sys.executable, "-m", "revfield.cli"]
    commands: dict[str, list[list[str]]] = {
        "--help": [[*revfield, "--help"]] * REPEATS,
        "inbox --json": [[*revfield, "inbox", "--json"]] * REPEATS,
        "account show": [[*revfield, "account", "show", "a0.io"]] * REPEATS,
        "ingest (the 76-signal sample, again)": [[*revfield, "ingest", str(signals)]] * REPEATS,
        "approve": [[*revfield, "approve", str(r), "--as", "ana"] for r in reviews[:REPEATS]],
        "reject": [
            [*revfield, "reject", str(r), "--as", "ana", "--reason", "not now"]
            for r in reviews[REPEATS : 2 * REPEATS]
        ],
    }
    floor: list[float] = []
    libraries: list[float] = []
    resuming: list[float] = []
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("command line", total=REPEATS * (len(commands) + 3))
        for i in range(REPEATS):  # interleaved, so the machine's other work falls on all alike
            for sink, code in ((floor, "pass"), (libraries, FLOOR), (resuming, RESUMING)):
                sink.append(_time([sys.executable, "-c", code], env)[1])
                bar.advance(task)
            for name, runs in commands.items():
                times[name].append(_time(runs[i], env))
                bar.advance(task)
    python = statistics.median(floor)
    imports = statistics.median(libraries)
    figures = []
    for name, got in times.items():
        answers = name.startswith(ANSWERS)
        starts = [first if answers else whole for first, whole in got]
        median = statistics.median(starts)
        what = "until the answer is printed" if answers else "wall time"
        figures.append(
            Figure(
                f"`revfield {name}` {what} (median of {REPEATS})",
                median,
                "s",
                f"≤ {START_TARGET} s",
                median <= START_TARGET,
                "`python -c pass`",
                python,
                python / median,
                f"range {min(starts):.2f}–{max(starts):.2f} s; floor (`{LIBRARIES}`, frozen at "
                f"exit) {imports:.2f} s",
            )
        )
        if answers:
            whole = statistics.median(w for _, w in got)
            floor_resuming = statistics.median(resuming)
            figures.append(
                Figure(
                    f"`revfield {name}` whole command, run resumed (median of {REPEATS})",
                    whole,
                    "s",
                    "reported",
                    True,
                    "those libraries and LangGraph imported",
                    floor_resuming,
                    floor_resuming / whole,
                    f"range {min(w for _, w in got):.2f}–{max(w for _, w in got):.2f} s; "
                    "resuming a LangGraph run loads LangGraph, langchain-core and langsmith",
                )
            )
    return figures
