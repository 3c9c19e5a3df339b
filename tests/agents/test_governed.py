"""revfield as a LangGraph building block: the example graph's governed tool pauses for the
person the policy names, any LangGraph client's answer goes through the digest check and the
re-decision, and the tool runs once — or not at all, with the reason told to the model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command

import revfield
from revfield.clock import ManualClock
from revfield.memory.models import ActionRecord, AuditEntry, DecisionRecord, OutboxItem, table_of
from revfield.outbox import LogExecutor
from tests.agents import world

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "governed_discount.py"
ACT, DEC, OB, AUD = (table_of(m) for m in (ActionRecord, DecisionRecord, OutboxItem, AuditEntry))


def _example():
    spec = importlib.util.spec_from_file_location("governed_discount", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["governed_discount"] = module
    spec.loader.exec_module(module)
    return module


ex = _example()


@pytest.fixture
def field(store, tmp_path):
    ex.seed(store)
    ex.OFFERS.clear()
    clock = ManualClock(ex.NOW)
    executor = LogExecutor(path=tmp_path / "outbox.jsonl")
    with revfield.open_checkpointer(store) as saver:
        yield revfield.Field(
            store,
            revfield.load_pack(ex.POLICIES),
            revfield.OfflineModel(),
            clock,
            saver,
            executor=executor,
        )


def _start(field, pct: float, thread: str = "t1"):
    graph = ex.build_graph(field, field.graphs["outreach"].checkpointer, ex.ask_for(pct))
    config = {"configurable": {"thread_id": thread}}
    result = graph.invoke({"messages": [HumanMessage("Acme pushes back on price")]}, config)
    return graph, config, result


def _edit(pct: float) -> dict:
    return {
        "decisions": [
            {
                "type": "edit",
                "edited_action": {"name": "offer_discount", "args": {"discount_pct": pct}},
            }
        ]
    }


def test_a_big_discount_pauses_for_the_manager_whose_langchain_edit_is_decided_again_and_runs_once(
    field, store, tmp_path
):
    graph, config, result = _start(field, 20)
    (asked,) = result["__interrupt__"]
    value = asked.value
    assert ex.OFFERS == []  # nothing ran before a person decided
    assert value["revfield"]["rung"] == "manager" and value["revfield"]["assignee_id"] == "mia"
    assert value["revfield"]["matched_rules"] == ["big-discount"]
    assert value["action_requests"][0]["name"] == "offer_discount"
    assert value["action_requests"][0]["args"]["discount_pct"] == 20
    assert value["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    assert value["action_request"] == {
        "action": "offer_discount",
        "args": value["action_requests"][0]["args"],
    }
    assert "big-discount" in value["description"] and asked.response_schema["oneOf"]

    config["configurable"]["revfield_user"] = "mia"
    result = graph.invoke(Command(resume={asked.id: _edit(12)}), config)
    assert "__interrupt__" not in result
    assert ex.OFFERS == [
        {"account": "acme.io", "discount_pct": 12.0, "reason": "pricing objection"}
    ]
    tool_reply = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert tool_reply.content == "offered 12% to acme.io"
    assert result["messages"][-1].content == "Done: offered 12% to acme.io"
    (action,) = world.rows(store, ACT)
    assert action["status"] == "executed" and action["proposal"]["discount_pct"] == 12.0
    assert [d["verdict"] for d in world.rows(store, DEC)] == ["escalate", "review"]  # decided again
    (item,) = world.rows(store, OB)
    assert item["executor"] == "caller" and item["status"] == "sent"
    assert item["result"] == {"output": "offered 12% to acme.io"}
    events = [a["event"] for a in world.rows(store, AUD) if a["action_id"] == action["id"]]
    assert events[:2] == ["proposed", "review_opened"] and "action_edited" in events
    assert field.deliver().sent == 0  # the caller ran it; the outbox never delivers it again
    assert not (tmp_path / "outbox.jsonl").exists()
    graph.invoke(Command(resume={asked.id: _edit(12)}), config)  # a stray answer later
    assert len(ex.OFFERS) == 1


def test_agent_inbox_accept_runs_the_tool_as_proposed(field, store):
    graph, config, result = _start(field, 20)
    (asked,) = result["__interrupt__"]
    config["configurable"]["revfield_user"] = "mia"
    graph.invoke(Command(resume={asked.id: [{"type": "accept", "args": None}]}), config)
    assert [o["discount_pct"] for o in ex.OFFERS] == [20]


def test_a_rejection_is_told_to_the_model_and_nothing_runs(field, store):
    graph, config, result = _start(field, 20)
    (asked,) = result["__interrupt__"]
    config["configurable"]["revfield_user"] = "mia"
    answer = [{"type": "response", "args": "Hold the price; offer onboarding help instead"}]
    result = graph.invoke(Command(resume={asked.id: answer}), config)
    assert ex.OFFERS == []
    reply = next(m for m in result["messages"] if isinstance(m, ToolMessage)).content
    assert reply == "not done: rejected by mia: Hold the price; offer onboarding help instead"
    assert [a["status"] for a in world.rows(store, ACT)] == ["rejected"]


def test_a_stale_answer_is_refused_and_the_new_item_is_asked(field, store):
    graph, config, result = _start(field, 10)  # small-discount: the owner reviews
    (asked,) = result["__interrupt__"]
    assert asked.value["revfield"]["rung"] == "owner"
    review_id = asked.value["revfield"]["review_id"]
    ana = revfield.review.Actor("ana", "seller", "team-a")
    moved = field.approve(review_id, actor=ana, edits={"discount_pct": 20})  # at the CLI
    assert moved.outcome == "re-escalated"
    config["configurable"]["revfield_user"] = "ana"
    result = graph.invoke(Command(resume={asked.id: {"decision": "approve"}}), config)
    (again,) = result["__interrupt__"]
    assert again.id != asked.id and ex.OFFERS == []
    assert f"review #{review_id} is no longer waiting" in again.value["revfield"]["error"]
    assert again.value["revfield"]["rung"] == "manager"
    assert again.value["action_requests"][0]["args"]["discount_pct"] == 20
    stale = {
        "decision": "approve",
        "digest": asked.value["revfield"]["action_digest"],
        "user": "mia",
    }
    result = graph.invoke(Command(resume={again.id: stale}), config)
    (third,) = result["__interrupt__"]
    assert "different action than the one you saw" in third.value["revfield"]["error"]
    config["configurable"]["revfield_user"] = "mia"
    graph.invoke(Command(resume={third.id: [{"type": "accept", "args": None}]}), config)
    assert [o["discount_pct"] for o in ex.OFFERS] == [20]


def test_a_blocked_call_never_runs_and_the_model_reads_why(field, store):
    _graph, _config, result = _start(field, 35)
    assert "__interrupt__" not in result and ex.OFFERS == []
    reply = next(m for m in result["messages"] if isinstance(m, ToolMessage)).content
    assert reply.startswith("not done: blocked by policy") and "discount-beyond-limit" in reply
    assert [a["status"] for a in world.rows(store, ACT)] == ["blocked"]


def test_an_auto_call_runs_at_once_and_a_replayed_call_does_not_run_again(field, store):
    ran: list[str] = []

    @tool
    def create_task(account: str, subject: str) -> str:
        """Create a task for the account's owner."""
        ran.append(subject)
        return f"task {len(ran)}"

    governed = revfield.governed(create_task, field)
    call = {
        "name": "create_task",
        "args": {"account": "acme.io", "subject": "Call Pat"},
        "id": "call-7",
        "type": "tool_call",
    }

    def node(state: MessagesState) -> dict:
        first = governed.invoke(call)
        again = governed.invoke(call)  # LangGraph running the node again: same call
        return {"messages": [first, again]}

    g = StateGraph(MessagesState)
    g.add_node("work", node)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    graph = g.compile(checkpointer=field.graphs["outreach"].checkpointer)
    result = graph.invoke({"messages": []}, {"configurable": {"thread_id": "tasks"}})
    assert ran == ["Call Pat"]  # the rule tasks-and-followups: auto, and once
    assert [m.content for m in result["messages"]] == ["task 1", "task 1"]
    (action,) = world.rows(store, ACT)
    assert action["kind"] == "create_task" and action["status"] == "executed"


def test_a_call_revfield_cannot_take_is_told_to_the_model(field, store):
    @tool
    def launch_rocket(account: str) -> str:
        """Launch."""
        raise AssertionError("never runs")

    reply = revfield.governed(launch_rocket, field).invoke(
        {"name": "launch_rocket", "args": {"account": "acme.io"}, "id": "c1", "type": "tool_call"}
    )
    assert "unknown action kind `launch_rocket`" in reply.content
    reply = revfield.governed(launch_rocket, field, kind="create_task").invoke(
        {
            "name": "launch_rocket",
            "args": {"account": "nope.example"},
            "id": "c2",
            "type": "tool_call",
        }
    )
    assert (
        "not done: revfield refused the call" in reply.content and "nope.example" in reply.content
    )
    assert world.rows(store, ACT) == []


def test_the_example_runs_as_a_script(tmp_path):
    import subprocess

    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--db", str(tmp_path / "ex.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "rung: manager" in out and "model: Done: offered 12% to acme.io" in out
    assert json.loads(out.split("tool ran: ", 1)[1])[0]["discount_pct"] == 12.0
