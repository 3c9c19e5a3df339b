"""What revfield's decision path costs per action, when another system or another LangGraph
graph proposes it: a governed tool call that the policy lets run (``auto``) against the same
tool called bare in the same graph node; ``Field.submit`` of an action against a bare graph of
the same checkpointer; and a review round trip (pause on the interrupt, answer, run)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command
from rich.progress import Progress

from benchmarks._report import Figure, console
from benchmarks.bench_agents import PACK, T0
from revfield.clock import ManualClock
from revfield.field import Field, governed, open_checkpointer
from revfield.llm import OfflineModel
from revfield.memory import Store, upsert
from revfield.policies import load_pack

WORK = Path(__file__).parent / ".work"


@tool
def create_task(account: str, subject: str) -> str:
    """Create a task for the account's owner."""
    return f"task: {subject}"


@tool
def offer_discount(account: str, discount_pct: float) -> str:
    """Offer a discount."""
    return f"offered {discount_pct:g}%"


def _seed(store: Store, n: int) -> None:
    with store.session() as s:
        upsert(s, "teams", [{"id": "t", "name": "T"}], now=T0)
        upsert(
            s,
            "users",
            [
                {"id": "ana", "name": "Ana", "role": "seller", "team_id": "t"},
                {"id": "mia", "name": "Mia", "role": "manager", "team_id": "t"},
            ],
            now=T0,
        )
        rows = [
            {
                "id": f"acc{i}.io",
                "name": f"Acc {i}",
                "domain": f"acc{i}.io",
                "segment": "smb",
                "customer_state": "prospect",
                "owner_id": "ana",
                "employees": 50,
                "source": "bench",
            }
            for i in range(n)
        ]
        upsert(s, "accounts", rows, now=T0)


def _node_graph(saver: Any, body: Any) -> Any:
    g = StateGraph(MessagesState)
    g.add_node("call", body)
    g.add_edge(START, "call")
    g.add_edge("call", END)
    return g.compile(checkpointer=saver)


class _Bare(TypedDict, total=False):
    event_id: int
    step: int


def _bare_graph(saver: Any) -> Any:
    """A bare 4-node graph (what a submission's run passes through) on the same saver."""
    g = StateGraph(_Bare)
    for name in ("propose", "decide", "wait", "act"):
        g.add_node(name, lambda state: {"step": state.get("step", 0) + 1})
    g.add_edge(START, "propose")
    g.add_edge("propose", "decide")
    g.add_edge("decide", "wait")
    g.add_edge("wait", "act")
    g.add_edge("act", END)
    return g.compile(checkpointer=saver)


def bench_governed(n: int = 200) -> list[Figure]:
    WORK.mkdir(exist_ok=True)
    db = WORK / "governed.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store.from_url(f"sqlite:///{db}")
    store.migrate()
    _seed(store, n)
    clock = ManualClock(T0)
    gov_ms: list[float] = []
    tool_ms: list[float] = []
    submit_ms: list[float] = []
    bare_ms: list[float] = []
    round_ms: list[float] = []
    with open_checkpointer(store) as saver, Progress(console=console, transient=True) as bar:
        fld = Field(store, load_pack(PACK), OfflineModel(), clock, saver)
        task_tool = governed(create_task, fld)
        counter = iter(range(10**9))

        def governed_node(state: MessagesState) -> dict[str, Any]:
            i = next(counter)
            call = {
                "name": "create_task",
                "args": {"account": f"acc{i % n}.io", "subject": f"call {i}"},
                "id": f"c{i}",
                "type": "tool_call",
            }
            return {"messages": [task_tool.invoke(call)]}

        def bare_node(state: MessagesState) -> dict[str, Any]:
            i = next(counter)
            out = create_task.invoke({"account": f"acc{i % n}.io", "subject": f"call {i}"})
            return {"messages": [HumanMessage(out)]}

        gov_graph, tool_graph = _node_graph(saver, governed_node), _node_graph(saver, bare_node)
        bare = _bare_graph(saver)
        discount = governed(offer_discount, fld)
        review_graph = _node_graph(
            saver,
            lambda state: {
                "messages": [
                    discount.invoke(
                        {
                            "name": "offer_discount",
                            "args": {"account": state["messages"][0].content, "discount_pct": 10},
                            "id": "d",
                            "type": "tool_call",
                        }
                    )
                ]
            },
        )
        job = bar.add_task("governed calls, submissions, review round trips", total=n)
        for i in range(n):
            clock.advance(timedelta(hours=1))  # inside the pack's daily automation budget
            config = {"configurable": {"thread_id": f"g{i}"}}
            started = time.perf_counter()
            gov_graph.invoke({"messages": []}, config)
            gov_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tool_graph.invoke({"messages": []}, {"configurable": {"thread_id": f"t{i}"}})
            tool_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            result = fld.submit(
                {"kind": "create_task", "subject": f"submitted {i}"}, account=f"acc{i}.io"
            )
            submit_ms.append((time.perf_counter() - started) * 1000)
            assert result.status == "queued", result.message
            started = time.perf_counter()
            bare.invoke({"event_id": i}, {"configurable": {"thread_id": f"bare:{i}"}})
            bare_ms.append((time.perf_counter() - started) * 1000)
            config = {"configurable": {"thread_id": f"r{i}", "revfield_user": "ana"}}
            started = time.perf_counter()
            paused = review_graph.invoke({"messages": [HumanMessage(f"acc{i}.io")]}, config)
            (asked,) = paused["__interrupt__"]
            review_graph.invoke(Command(resume={asked.id: {"decision": "approve"}}), config)
            round_ms.append((time.perf_counter() - started) * 1000)
            bar.advance(job)
    store.dispose()
    gov, floor = statistics.median(gov_ms), statistics.median(tool_ms)
    sub, bare_floor = statistics.median(submit_ms), statistics.median(bare_ms)
    return [
        Figure(
            "governed tool call, auto (median)",
            gov,
            "ms",
            "reported",
            True,
            "the same tool, bare, in the same graph node",
            floor,
            floor / gov,
            f"+{gov - floor:.2f} ms per call: decide, record, run once, record the result",
        ),
        Figure(
            "Field.submit of an action, auto (median)",
            sub,
            "ms",
            "reported",
            True,
            "bare 4-node graph, same SqliteSaver",
            bare_floor,
            bare_floor / sub,
            "its own durable run: decide, queue, audit",
        ),
        Figure(
            "governed call through review (pause + answer + run, median)",
            statistics.median(round_ms),
            "ms",
            "reported",
            True,
            note="two graph invocations: the interrupt, then the answer re-decided and run",
        ),
    ]
