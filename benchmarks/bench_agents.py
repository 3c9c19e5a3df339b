"""Agent runs: one run with the offline model against a bare graph of the same node count on
the same checkpointer (SqliteSaver, durability "sync"), measured in one run; graph runs per
second through the field; and the demo's wall time."""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from rich.progress import Progress

from benchmarks._report import Figure, console
from revfield.clock import ManualClock
from revfield.field._checkpoints import open_checkpointer
from revfield.field._field import Field
from revfield.llm import OfflineModel
from revfield.memory import Store
from revfield.memory._facts import NewFact, add_facts
from revfield.memory.models import Account, Contact, FieldEvent, Signal, Team, User, table_of
from revfield.outbox import LogExecutor
from revfield.policies import load_pack

WORK = Path(__file__).parent / ".work"
PACK = Path(__file__).resolve().parents[1] / "policies"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _world(store: Store, n: int) -> None:
    """n ICP-fit SMB prospects, each with a contact, a pain and an intent surge to act on."""
    with store.session() as s:
        s.add(Team(id="t", name="T", created_at=T0))
        s.flush()
        s.add(User(id="ana", name="Ana", role="seller", team_id="t", created_at=T0))
        s.flush()
        s.execute(
            table_of(Account).insert(),
            [
                {
                    "id": f"a{i}.io",
                    "name": f"A{i}",
                    "domain": f"a{i}.io",
                    "segment": "smb",
                    "employees": 60,
                    "industry": "software",
                    "customer_state": "prospect",
                    "owner_id": "ana",
                    "source": "bench",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for i in range(n)
            ],
        )
        s.execute(
            table_of(Contact).insert(),
            [
                {
                    "account_id": f"a{i}.io",
                    "email": f"pat@a{i}.io",
                    "name": "Pat Lee",
                    "role": "Head of RevOps",
                    "created_at": T0,
                }
                for i in range(n)
            ],
        )
        s.execute(
            table_of(Signal).insert(),
            [
                {
                    "source": "bench",
                    "external_id": f"x{i}",
                    "kind": "intent_surge",
                    "account_id": f"a{i}.io",
                    "contact_id": i + 1,
                    "occurred_at": T0,
                    "received_at": T0,
                    "payload": {"score": 80},
                    "digest": f"{i:032x}",
                    "text": "We struggle to get one forecast the board trusts.",
                }
                for i in range(n)
            ],
        )
        add_facts(
            s,
            [
                NewFact(
                    f"a{i}.io",
                    "pain",
                    "We struggle to get one forecast the board trusts",
                    i + 1,
                    0.8,
                    T0,
                )
                for i in range(n)
            ],
            now=T0,
        )
        s.execute(
            table_of(FieldEvent).insert(),
            [
                {
                    "account_id": f"a{i}.io",
                    "kind": "intent_surge",
                    "key": "forecasting",
                    "signal_ids": [i + 1],
                    "contact_id": i + 1,
                    "detail": "intent",
                    "data": {},
                    "occurred_at": T0,
                    "detected_at": T0,
                    "agent": "outreach",
                    "status": "pending",
                }
                for i in range(n)
            ],
        )


class _Bare(TypedDict, total=False):
    event_id: int
    step: int


def _bare_graph(saver: Any) -> Any:
    g = StateGraph(_Bare)
    for name in ("propose", "decide", "wait", "act"):
        g.add_node(name, lambda state: {"step": state.get("step", 0) + 1})
    g.add_edge(START, "propose")
    g.add_edge("propose", "decide")
    g.add_edge("decide", "wait")
    g.add_edge("wait", "act")
    g.add_edge("act", END)
    return g.compile(checkpointer=saver)


def bench_agents(n: int = 300) -> list[Figure]:
    WORK.mkdir(exist_ok=True)
    db = WORK / "agents.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store.from_url(f"sqlite:///{db}")
    store.migrate()
    _world(store, n)
    pack = load_pack(PACK)
    clock = ManualClock(T0 + timedelta(hours=1))
    agent_ms: list[float] = []
    bare_ms: list[float] = []
    with open_checkpointer(store) as saver, Progress(console=console, transient=True) as bar:
        fld = Field(
            store,
            pack,
            OfflineModel(),
            clock,
            saver,
            executor=LogExecutor(path=WORK / "outbox.jsonl"),
        )
        bare = _bare_graph(saver)
        task = bar.add_task("agent runs vs bare graph", total=n)
        for event_id, agent, _ in fld.pending_events():
            clock.advance(timedelta(hours=1))  # stay inside the pack's daily automation budget
            started = time.perf_counter()
            status = fld.run_event(event_id, agent)
            agent_ms.append((time.perf_counter() - started) * 1000)
            assert status == "done"
            started = time.perf_counter()
            bare.invoke(
                {"event_id": event_id},
                {"configurable": {"thread_id": f"bare:{event_id}"}},
                durability=fld.durability,
            )
            bare_ms.append((time.perf_counter() - started) * 1000)
            bar.advance(task)
        delivered = fld.deliver()
    store.dispose()
    agent, floor = statistics.median(agent_ms), statistics.median(bare_ms)
    ratio = agent / floor
    figures = [
        Figure(
            "agent run, offline model (median)",
            agent,
            "ms",
            "≤ 2× bare graph",
            ratio <= 2.0,
            f"bare 4-node graph, same SqliteSaver ({fld.durability})",
            floor,
            floor / agent,
            f"{ratio:.2f}× the bare graph; each run reads memory, drafts, decides 2 actions, "
            "queues them; "
            f"{delivered.sent} executed after",
        ),
        Figure(
            "agent runs per second (revfield run)",
            1000 / statistics.mean(agent_ms),
            "runs/s",
            "reported",
            True,
            "bare graph runs/s",
            1000 / statistics.mean(bare_ms),
            statistics.mean(bare_ms) / statistics.mean(agent_ms),
        ),
    ]
    figures.append(_demo())
    return figures


def _demo() -> Figure:
    import subprocess
    import sys

    folder = WORK / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "revfield.cli", "demo"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "REVFIELD_POLICIES": str(PACK)},
    )
    seconds = time.perf_counter() - started
    return Figure(
        "demo wall time (make demo, 30 days, 233 accounts)",
        seconds,
        "s",
        "< 60 s",
        proc.returncode == 0 and seconds < 60,
        note=proc.stderr[-200:] if proc.returncode else "",
    )
