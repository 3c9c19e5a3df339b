"""A small ReAct-style agent whose ``offer_discount`` tool is governed by revfield.

    .venv/bin/python examples/governed_discount.py [--db FILE]

The graph is plain LangGraph — a model node, a ``ToolNode``, the model again — with a scripted
model standing in for an LLM (no API key). Its one tool offers a discount; wrapped with
:func:`revfield.governed`, every call is decided by the shipped policy pack: a 20% discount
needs the manager (rule ``big-discount``), so the graph pauses with an interrupt any
LangGraph client can answer. The script answers it as the manager, the way LangChain's
``HumanInTheLoopMiddleware`` clients do (an edit to 12%); revfield decides the edited action
again (12% is ``small-discount``: the manager outranks the owner's rung), the tool runs once
with the edited arguments, and the model reads the result.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

import revfield
from revfield.clock import ManualClock
from revfield.memory import Store, upsert

POLICIES = Path(__file__).resolve().parents[1] / "policies"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

OFFERS: list[dict[str, Any]] = []
"""What the tool really did (the effect revfield governs)."""


@tool
def offer_discount(account: str, discount_pct: float, reason: str) -> str:
    """Offer a discount on the account's open deal, in percent."""
    OFFERS.append({"account": account, "discount_pct": discount_pct, "reason": reason})
    return f"offered {discount_pct:g}% to {account}"


def scripted_model(script: list[AIMessage]) -> Callable[[MessagesState], dict[str, Any]]:
    """A model that answers from a script: each turn the next message (a tool call, then a
    final answer quoting the tool's result)."""

    def model(state: MessagesState) -> dict[str, Any]:
        messages: list[AnyMessage] = state["messages"]
        turn = sum(isinstance(m, AIMessage) for m in messages)
        reply = script[min(turn, len(script) - 1)]
        last = messages[-1]
        if isinstance(last, ToolMessage) and not reply.tool_calls:
            reply = AIMessage(content=f"Done: {last.content}")
        return {"messages": [reply]}

    return model


def build_graph(
    field: revfield.Field, checkpointer: BaseCheckpointSaver[str], script: list[AIMessage]
) -> Any:
    """model → tools (the governed discount) → model → END."""
    tools: list[BaseTool] = [revfield.governed(offer_discount, field, kind="offer_discount")]
    g = StateGraph(MessagesState)
    g.add_node("model", scripted_model(script))
    g.add_node("tools", ToolNode(tools))
    g.add_edge(START, "model")
    g.add_conditional_edges("model", tools_condition, ["tools", END])
    g.add_edge("tools", "model")
    return g.compile(checkpointer=checkpointer)


def ask_for(pct: float, call_id: str = "call-1") -> list[AIMessage]:
    """The script: one call of the tool, then a final answer."""
    call = {
        "name": "offer_discount",
        "args": {"account": "acme.io", "discount_pct": pct, "reason": "pricing objection"},
        "id": call_id,
        "type": "tool_call",
    }
    return [AIMessage(content="", tool_calls=[call]), AIMessage(content="done")]


def seed(store: Store) -> None:
    """One account owned by seller ana, whose manager is mia."""
    with store.session() as s:
        upsert(s, "teams", [{"id": "team-a", "name": "Team A"}], now=NOW)
        upsert(
            s,
            "users",
            [
                {"id": "ana", "name": "Ana", "role": "seller", "team_id": "team-a"},
                {"id": "mia", "name": "Mia", "role": "manager", "team_id": "team-a"},
            ],
            now=NOW,
        )
        upsert(
            s,
            "accounts",
            [
                {
                    "id": "acme.io",
                    "name": "Acme",
                    "domain": "acme.io",
                    "segment": "smb",
                    "customer_state": "prospect",
                    "owner_id": "ana",
                    "employees": 60,
                    "source": "example",
                }
            ],
            now=NOW,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    db = parser.parse_args().db or str(Path(tempfile.mkdtemp()) / "governed.db")
    store = Store.from_url(f"sqlite:///{db}")
    store.migrate()
    seed(store)
    pack = revfield.load_pack(POLICIES)
    clock = ManualClock(NOW)
    with revfield.open_checkpointer(store) as saver:
        field = revfield.Field(store, pack, revfield.OfflineModel(), clock, saver)
        graph = build_graph(field, saver, ask_for(20))
        config = {"configurable": {"thread_id": "deal-desk-1"}}
        result = graph.invoke({"messages": [HumanMessage("Acme pushes back on price")]}, config)
        (asked,) = result["__interrupt__"]
        print("paused:", asked.value["description"].splitlines()[1])
        print("rung:", asked.value["revfield"]["rung"], "| interrupt:", asked.id)
        answer = {
            "decisions": [
                {
                    "type": "edit",
                    "edited_action": {"name": "offer_discount", "args": {"discount_pct": 12}},
                }
            ]
        }
        config["configurable"]["revfield_user"] = "mia"  # who answers
        result = graph.invoke(Command(resume={asked.id: answer}), config)
        print("model:", result["messages"][-1].content)
        print("tool ran:", json.dumps(OFFERS))


if __name__ == "__main__":
    main()
