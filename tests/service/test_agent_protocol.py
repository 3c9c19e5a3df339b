"""Review items answered the LangGraph way: the LangGraph SDK's own client (and what Agent
Inbox sends) against revfield's Agent Protocol subset — threads waiting on the caller's
items, their state and interrupts, and runs resumed with ``command.resume`` — each caller
seeing only their scope, every answer through the same digest check and re-decision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.service.conftest import Api, serving


@pytest.fixture
def server(api: Api) -> Iterator[str]:
    """The same field behind a real server on 127.0.0.1."""
    with serving(api.make_app()) as url:
        yield url


@contextmanager
def sdk(url: str, api: Api, user: str) -> Iterator[SyncLangGraphClient]:
    """The LangGraph SDK's client, authenticated as ``user`` (it sends ``x-api-key``)."""
    with get_sync_client(url=url, api_key=api.tokens[user]) as client:
        yield client


def _thread_of(sent: dict[str, Any]) -> str:
    return f"submitted:{sent['event_id']}"


def test_a_seller_answers_her_item_from_the_langgraph_sdk_and_the_outbox_executes_it(
    api: Api, server: str
):
    own = api.submit(10)
    api.submit(20)  # the manager's, on the same account
    api.submit(10, account="beta.io")  # bo's
    with sdk(server, api, "ana") as ana:
        threads = ana.threads.search(status="interrupted")
        assert [t["thread_id"] for t in threads] == [_thread_of(own)]
        (thread,) = threads
        assert thread["status"] == "interrupted"
        assert thread["metadata"]["graph_id"] == "submitted"
        assert thread["metadata"]["review_ids"] == [own["review_id"]]
        ((task_id, (listed,)),) = thread["interrupts"].items()

        state = ana.threads.get_state(thread["thread_id"])
        assert state["next"] == ["review"]
        (asked,) = state["interrupts"]
        assert asked["id"] == listed["id"]
        (task,) = [t for t in state["tasks"] if t["interrupts"]]
        assert task["id"] == task_id and task["name"] == "review"
        about = asked["value"]["revfield"]
        assert (about["review_id"], about["rung"], about["matched_rules"]) == (
            own["review_id"],
            "owner",
            ["small-discount"],
        )
        assert asked["value"]["action_request"]["action"] == "offer_discount"
        assert asked["response_schema"]["title"] == "An answer to a revfield review item"

        run = ana.runs.create(
            thread["thread_id"],
            "revfield",
            command={"resume": [{"type": "accept", "args": None}]},  # Agent Inbox's form
        )
        assert (run["status"], run["thread_id"]) == ("success", thread["thread_id"])
        assert ana.threads.search(status="interrupted") == []
        assert ana.threads.get_state(thread["thread_id"])["next"] == []
    (line,) = api.executed()
    assert json.loads(line)["trace"]["approved_by"] == "ana"


def test_each_caller_finds_only_the_threads_and_interrupts_in_their_scope(api: Api, server: str):
    own = api.submit(10)
    big = api.submit(20)
    other = api.submit(10, account="beta.io")
    with (
        sdk(server, api, "bo") as bo,
        sdk(server, api, "mia") as mia,
        sdk(server, api, "rex") as rex,
        sdk(server, api, "ana") as ana,
    ):
        assert [t["thread_id"] for t in bo.threads.search()] == [_thread_of(other)]
        with pytest.raises(NotFoundError) as hidden:
            bo.threads.get_state(_thread_of(own))
        assert hidden.value.message == f"no thread `{_thread_of(own)}` that you may see"
        with pytest.raises(NotFoundError) as missing:
            bo.threads.get_state("submitted:999999")
        assert missing.value.message == "no thread `submitted:999999` that you may see"

        assert [t["thread_id"] for t in mia.threads.search()] == [_thread_of(own), _thread_of(big)]
        everyone = rex.threads.search(limit=2)
        assert [t["thread_id"] for t in everyone] == [_thread_of(own), _thread_of(big)]
        assert [t["thread_id"] for t in rex.threads.search(limit=2, offset=2)] == [
            _thread_of(other)
        ]
        assert rex.threads.search(status="idle") == []
        assert [t["thread_id"] for t in rex.threads.search(ids=[_thread_of(big)])] == [
            _thread_of(big)
        ]
        by_graph = rex.threads.search(metadata={"graph_id": "revfield"})  # Agent Inbox: all
        assert len(by_graph) == 3
        assert len(rex.threads.search(metadata={"graph_id": "submitted"})) == 3
        assert rex.threads.search(metadata={"graph_id": "outreach"}) == []
        assert len(rex.threads.search(metadata={"account_id": "beta.io"})) == 1

        # the manager's item on ana's own account is not hers to answer, nor to see
        state = ana.threads.get_state(_thread_of(big))
        assert state["interrupts"] == [] and not [t for t in state["tasks"] if t["interrupts"]]
        manager_interrupt = mia.threads.get_state(_thread_of(big))["interrupts"][0]["id"]
        with pytest.raises(ConflictError) as refused:
            ana.runs.create(
                _thread_of(big),
                "revfield",
                command={"resume": {manager_interrupt: {"decision": "approve"}}},
            )
        assert "no waiting interrupt" in refused.value.message
        with pytest.raises(ConflictError):
            ana.runs.create(
                _thread_of(big), "revfield", command={"resume": {"decision": "approve"}}
            )
    assert api.executed() == []


def test_a_langchain_edit_is_decided_again_and_runs_wait_returns_the_state(api: Api, server: str):
    big = api.submit(20)
    edit = {"name": "offer_discount", "args": {"discount_pct": 12}}
    with sdk(server, api, "mia") as mia:
        values = mia.runs.wait(
            _thread_of(big),
            "revfield",
            command={"resume": {"decisions": [{"type": "edit", "edited_action": edit}]}},
        )
        assert isinstance(values, dict) and values["done"] is True
        assert "__interrupt__" not in values
    (line,) = api.executed()
    assert json.loads(line)["action"]["discount_pct"] == 12.0
    assert json.loads(line)["trace"]["rules"] == ["small-discount"]


def test_a_sellers_edit_that_needs_the_manager_leaves_the_thread_waiting_for_her(
    api: Api, server: str
):
    own = api.submit(10)
    with sdk(server, api, "ana") as ana, sdk(server, api, "mia") as mia:
        run = ana.runs.create(
            _thread_of(own),
            "revfield",
            command={"resume": {"decision": "edit", "edits": {"discount_pct": 25}}},
        )
        assert run["status"] == "interrupted"  # it asks again, on the manager's rung
        assert ana.threads.search() == []
        (asked,) = mia.threads.get_state(_thread_of(own))["interrupts"]
        assert asked["value"]["revfield"]["rung"] == "manager"
        mia.runs.create(
            _thread_of(own), "revfield", command={"resume": {asked["id"]: {"decision": "approve"}}}
        )
    (line,) = api.executed()
    assert json.loads(line)["action"]["discount_pct"] == 25.0


def test_a_refused_answer_says_why_and_the_item_asks_again(api: Api, server: str):
    own = api.submit(10)
    with sdk(server, api, "ana") as ana:
        (first,) = ana.threads.get_state(_thread_of(own))["interrupts"]
        with pytest.raises(UnprocessableEntityError) as malformed:
            ana.runs.create(_thread_of(own), "revfield", command={"resume": {"decision": "maybe"}})
        assert malformed.value.message == (
            "the answer was refused: `decision` is `maybe`; one of approve, edit, reject"
        )
        assert ana.threads.get_state(_thread_of(own))["interrupts"] == [first]  # unchanged

        stale = {"decision": "approve", "digest": "not-what-she-saw"}
        with pytest.raises(ConflictError) as changed:
            ana.runs.create(_thread_of(own), "revfield", command={"resume": stale})
        assert "now shows a different action than the one you saw" in changed.value.message
        (again,) = ana.threads.get_state(_thread_of(own))["interrupts"]  # it asks again
        assert again["id"] != first["id"]
        assert "now shows a different action" in again["value"]["revfield"]["error"]

        with pytest.raises(ConflictError) as old:  # answering the first, replaced question
            ana.runs.create(
                _thread_of(own),
                "revfield",
                command={"resume": {first["id"]: {"decision": "approve"}}},
            )
        assert "read its state again" in old.value.message

        with pytest.raises(UnprocessableEntityError) as no_command:
            ana.runs.create(_thread_of(own), "revfield", input={"event_id": 1})
        assert "only takes an answer" in no_command.value.message
    assert api.executed() == []
    assert api.item("ana", own["review_id"])  # still waiting


def test_agent_inbox_answers_are_taken_as_they_come(api: Api):
    """Agent Inbox's own requests, as its ThreadContext sends them: a HumanResponse list, its
    mapping to LangChain's decisions for a LangChain-style interrupt, and "ignore" as a
    state update to END."""
    first, second, third = api.submit(10), api.submit(11), api.submit(12)
    c = api.client
    headers = {"x-api-key": api.tokens["ana"]}
    threads = c.post(
        "/threads/search",
        headers=headers,
        json={
            "offset": 0,
            "limit": 10,
            "status": "interrupted",
            "metadata": {"graph_id": "revfield"},
        },
    ).json()
    assert [t["thread_id"] for t in threads] == [_thread_of(s) for s in (first, second, third)]
    assert c.get(f"/threads/{_thread_of(first)}", headers=headers).json()["status"] == "interrupted"

    edited = {"type": "edit", "args": {"action": "offer_discount", "args": {"discount_pct": 8}}}
    run = c.post(
        f"/threads/{_thread_of(first)}/runs",
        headers=headers,
        json={"assistant_id": "revfield", "command": {"resume": {"decisions": [edited]}}},
    )
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "success"

    rejected = {"type": "reject", "args": "they have no budget until March"}
    stream = c.post(
        f"/threads/{_thread_of(second)}/runs/stream",
        headers=headers,
        json={
            "assistant_id": "revfield",
            "command": {"resume": {"decisions": [rejected]}},
            "stream_mode": "events",
        },
    )
    assert stream.status_code == 200 and stream.headers["content-type"].startswith(
        "text/event-stream"
    )
    events = [
        line.removeprefix("event: ")
        for line in stream.text.splitlines()
        if line.startswith("event:")
    ]
    assert events == ["metadata", "values"]

    ignored = c.post(
        f"/threads/{_thread_of(third)}/state",
        headers=headers,
        json={"values": None, "as_node": "__end__"},
    )
    assert ignored.status_code == 200, ignored.text
    assert c.post("/threads/search", headers=headers, json={}).json() == []

    answers = {
        a["id"]: a
        for a in api.get("/accounts/acme.io", "ana", params={"actions": 5}).json()["actions"]
    }
    assert answers[first["action_id"]]["status"] == "executed"
    assert answers[second["action_id"]]["status"] == "rejected"
    assert answers[third["action_id"]]["status"] == "rejected"
    (line,) = api.executed()
    assert json.loads(line)["action"]["discount_pct"] == 8.0
    notes = [
        r["note"]
        for a in (second, third)
        for r in answers[a["action_id"]]["reviews"]
        if r.get("note")
    ]
    assert notes == ["they have no budget until March", "ignored in Agent Inbox"]


def test_the_threads_endpoints_need_a_token(api: Api):
    api.submit(10)
    assert api.client.post("/threads/search", json={}).status_code == 401
    bad = api.client.get("/threads/submitted:1/state", headers={"x-api-key": "rvf_nope"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.json()["message"]
