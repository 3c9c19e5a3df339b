"""The shape every acting agent shares, as a LangGraph ``StateGraph``:

    propose → decide → wait ↺ → act → END

- **propose** reads the account's memory and asks the agent for proposals (model calls
  happen here, through a recorder built for the run; nothing is written).
- **decide** stores each proposal with its policy decision, in one transaction: ``auto``
  goes to the outbox, ``review``/``escalate`` opens a review item, ``block`` is recorded;
  the model calls the proposer made are recorded in the same transaction.
  Idempotent, so a re-run after a crash finds what it already did.
- **wait** pauses with ``interrupt()`` — its first statement with effect — until a person
  answers each waiting action; LangGraph runs it again from the top on resume, which is why
  nothing irreversible happens in it. It loops until no action waits.
- **act** queues the approved actions and closes the field event. A run where nothing
  waits for a person ends at **decide**, which closes the event in its own transaction.

State holds plain data only (no pydantic objects), so checkpoints reload without warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from revfield.agents import PROPOSERS
from revfield.clock import Clock
from revfield.domain import ProposedAction
from revfield.field._steps import finish_run, record_proposals
from revfield.llm import CallRecord, Model, RecordedCall, Recorder
from revfield.memory import Store, load_event, recall, record_model_calls
from revfield.policies import CompiledPack
from revfield.route import Agent

__all__ = ["AgentDeps", "AgentState", "build_agent_graph", "thread_id"]


class AgentState(TypedDict, total=False):
    event_id: int
    proposals: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    """The model calls made while proposing (recorded with the proposals)."""
    actions: list[dict[str, Any]]
    """Each proposal as recorded: id, kind, status, verdict, review id."""
    waiting: list[int]
    """Action ids waiting for a person."""
    answers: dict[str, str]
    """Action id → ``approved``, ``rejected`` or ``blocked``, as people answered."""
    done: bool


@dataclass
class AgentDeps:
    store: Store
    pack: Callable[[], CompiledPack]
    """The pack in force (called per step, so a hot-reloaded pack applies to the next step)."""
    model: Model
    clock: Clock
    executor: str = "log"
    context_signals: int = 20


def thread_id(agent: str, event_id: int) -> str:
    """The LangGraph thread of the agent run on one field event."""
    return f"{agent}:{event_id}"


def _plain(call: RecordedCall) -> dict[str, Any]:
    return {**asdict(call.record), "signal_id": call.signal_id, "account_id": call.account_id}


def _call(data: dict[str, Any]) -> RecordedCall:
    about = {k: data.pop(k, None) for k in ("signal_id", "account_id")}
    return RecordedCall(CallRecord(**data), **about)


def build_agent_graph(
    agent: Agent, deps: AgentDeps, checkpointer: BaseCheckpointSaver[str] | None
) -> Any:
    proposer = PROPOSERS[agent]

    def propose(state: AgentState) -> dict[str, Any]:
        with deps.store.read() as session:
            event = load_event(session, state["event_id"])
            ctx = recall(
                session,
                event.account_id,
                signals=deps.context_signals,
                count_signals=False,
                closed_deals=3 if agent is Agent.HANDOVER else 0,
            )
        model = Recorder(deps.model, account_id=event.account_id)
        proposal = proposer(ctx, event, model, deps.pack().playbook, deps.clock.now())
        return {
            "proposals": [a.model_dump(mode="json") for a in proposal.actions],
            "calls": [_plain(c) for c in model.drain()],
        }

    def decide(state: AgentState) -> dict[str, Any]:
        proposals = [ProposedAction.model_validate(p) for p in state.get("proposals", [])]
        calls = [_call(c) for c in state.get("calls", [])]
        with deps.store.session() as session:
            record_model_calls(session, calls, deps.clock.now())
            actions = record_proposals(
                session,
                deps.pack(),
                event_id=state["event_id"],
                agent=agent.value,
                thread_id=thread_id(agent.value, state["event_id"]),
                proposals=proposals,
                executor=deps.executor,
                now=deps.clock.now(),
            )
        waiting = [a["id"] for a in actions if a["status"] == "pending_review"]
        return {"actions": actions, "waiting": waiting, "answers": {}, "done": not waiting}

    def wait(state: AgentState) -> dict[str, Any]:
        answers = dict(state.get("answers", {}))
        pending = [a for a in state.get("waiting", []) if str(a) not in answers]
        answer = interrupt({"event_id": state["event_id"], "waiting": pending})
        if isinstance(answer, dict) and answer.get("action_id") in pending:
            answers[str(answer["action_id"])] = str(answer.get("outcome", "rejected"))
        return {"answers": answers}

    def act(state: AgentState) -> dict[str, Any]:
        with deps.store.session() as session:
            finish_run(
                session,
                event_id=state["event_id"],
                answers=state.get("answers", {}),
                executor=deps.executor,
                now=deps.clock.now(),
            )
        return {"done": True}

    def after_decide(state: AgentState) -> str:
        return "wait" if state.get("waiting") else END  # nothing waits: decide closed the run

    def after_wait(state: AgentState) -> str:
        answers = state.get("answers", {})
        return "wait" if any(str(a) not in answers for a in state.get("waiting", [])) else "act"

    g = StateGraph(AgentState)
    g.add_node("propose", propose)
    g.add_node("decide", decide)
    g.add_node("wait", wait)
    g.add_node("act", act)
    g.add_edge(START, "propose")
    g.add_edge("propose", "decide")
    g.add_conditional_edges("decide", after_decide, ["wait", END])
    g.add_conditional_edges("wait", after_wait, ["wait", "act"])
    g.add_edge("act", END)
    return g.compile(checkpointer=checkpointer, name=agent.value)
