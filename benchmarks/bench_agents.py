"""Agent runs, on SQLite and PostgreSQL: one run with the offline model against a bare graph
that takes the same path (the same two nodes, the same state, the same checkpoints through
the same checkpointer), measured alternately in one run; commits per run on PostgreSQL; graph
runs per second through the field; and the demo's wall time."""

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
from benchmarks._stores import fresh_postgres, remove_sqlite
from revfield.clock import ManualClock
from revfield.field._checkpoints import open_checkpointer
from revfield.field._field import Field
from revfield.field._step_commits import StepCommits
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
    proposals: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    waiting: list[int]
    done: bool


def _bare_graph(saver: StepCommits, final: dict[str, Any]) -> Any:
    """The agent run's path without its work: the same two nodes, writing the same state
    (``final``: what a real run left in its checkpoint) through the same checkpointer, with
    the same durable point before ``decide``."""

    def propose(state: _Bare) -> dict[str, Any]:
        return {"proposals": final.get("proposals", []), "calls": final.get("calls", [])}

    def decide(state: _Bare) -> dict[str, Any]:
        saver.flush(f"bare:{state['event_id']}")
        return {"actions": final.get("actions", []), "waiting": [], "done": True}

    g = StateGraph(_Bare)
    g.add_node("propose", propose)
    g.add_node("decide", decide)
    g.add_edge(START, "propose")
    g.add_edge("propose", "decide")
    g.add_conditional_edges("decide", lambda state: END, [END])
    return g.compile(checkpointer=saver)


def _write_commits(url: str) -> int:
    """PostgreSQL's transaction-id counter: it moves once per transaction that writes (one
    WAL flush at its commit), and once for this read."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as pg:
        row = pg.execute("SELECT pg_current_xact_id()::text").fetchone()
    return int(row[0]) if row else 0


def _measure(url: str, n: int, bar: Progress, label: str) -> dict[str, Any]:
    """n agent runs on ``url``, each followed by its like-for-like bare graph."""
    store = Store.from_url(url)
    store.migrate()
    _world(store, n)
    pack = load_pack(PACK)
    clock = ManualClock(T0 + timedelta(hours=1))
    agent_ms: list[float] = []
    bare_ms: list[float] = []
    commits = {"agent": 0, "bare": 0}
    pg = store.dialect == "postgresql"
    with open_checkpointer(store) as saver:
        fld = Field(
            store,
            pack,
            OfflineModel(),
            clock,
            saver,
            executor=LogExecutor(path=WORK / "outbox.jsonl"),
        )
        assert fld.saver is not None
        task = bar.add_task(f"agent runs vs bare graph ({label})", total=n)
        for event_id, agent, _ in fld.pending_events():
            clock.advance(timedelta(hours=1))  # stay inside the pack's daily automation budget
            before = _write_commits(url) if pg else 0
            started = time.perf_counter()
            status = fld.run_event(event_id, agent)
            agent_ms.append((time.perf_counter() - started) * 1000)
            middle = _write_commits(url) if pg else 0
            assert status == "done"
            final = fld.graphs[agent].get_state(fld._config(agent, event_id)).values
            bare = _bare_graph(fld.saver, final)
            config = {"configurable": {"thread_id": f"bare:{event_id}"}}
            started = time.perf_counter()
            bare.invoke({"event_id": event_id}, config, durability=fld.durability)
            fld.saver.flush(f"bare:{event_id}")
            bare_ms.append((time.perf_counter() - started) * 1000)
            after = _write_commits(url) if pg else 0
            commits["agent"] += middle - before - 1
            commits["bare"] += after - middle - 1
            bar.advance(task)
        delivered = fld.deliver()
        fld.close()
    store.dispose()
    return {
        "agent": statistics.median(agent_ms),
        "bare": statistics.median(bare_ms),
        "agent_mean": statistics.mean(agent_ms),
        "bare_mean": statistics.mean(bare_ms),
        "commits": commits["agent"] / n if pg else None,
        "bare_commits": commits["bare"] / n if pg else None,
        "sent": delivered.sent,
        "durability": fld.durability,
    }


def bench_agents(n: int = 300) -> list[Figure]:
    WORK.mkdir(exist_ok=True)
    db = WORK / "agents.db"
    remove_sqlite(db)
    targets = {"SQLite": f"sqlite:///{db}"}
    pg_url = fresh_postgres("revfield_bench_agents")
    if pg_url:
        targets["PostgreSQL"] = pg_url
    figures: list[Figure] = []
    runs: dict[str, dict[str, Any]] = {}
    with Progress(console=console, transient=True) as bar:
        for label, url in targets.items():
            runs[label] = got = _measure(url, n, bar, label)
            ratio = got["agent"] / got["bare"]
            figures.append(
                Figure(
                    f"agent run, offline model (median, {label})",
                    got["agent"],
                    "ms",
                    "≤ 1.5× like-for-like bare graph",
                    ratio <= 1.5,
                    f"bare graph: same 2 nodes, state and checkpoints ({got['durability']})",
                    got["bare"],
                    got["bare"] / got["agent"],
                    f"{ratio:.2f}× the bare graph; each run reads memory, drafts, decides 2 "
                    f"actions, queues them; {got['sent']} executed after",
                )
            )
            if got["commits"] is not None:
                figures.append(
                    Figure(
                        f"commits per agent run ({label})",
                        got["commits"],
                        "commits",
                        "≤ 4",
                        got["commits"] <= 4,
                        "bare graph's commits",
                        got["bare_commits"],
                        note="transactions that write (each a WAL flush), counted by "
                        "PostgreSQL's transaction ids; reads are not counted",
                    )
                )
    sqlite = runs["SQLite"]
    figures.append(
        Figure(
            "agent runs per second (revfield run, SQLite)",
            1000 / sqlite["agent_mean"],
            "runs/s",
            "reported",
            True,
            "bare graph runs/s",
            1000 / sqlite["bare_mean"],
            sqlite["bare_mean"] / sqlite["agent_mean"],
        )
    )
    if "PostgreSQL" in runs:
        pg = runs["PostgreSQL"]
        figures.append(
            Figure(
                "agent run on PostgreSQL vs SQLite (median)",
                pg["agent"],
                "ms",
                "≤ 1.5× SQLite",
                pg["agent"] <= 1.5 * sqlite["agent"],
                "the same run on SQLite",
                sqlite["agent"],
                sqlite["agent"] / pg["agent"],
            )
        )
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
