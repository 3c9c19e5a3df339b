"""The shape every acting agent shares, as a LangGraph ``StateGraph``:

    propose → decide ─┬─ review (one task per waiting action, in parallel) ─→ act → END
                      └─ END (nothing waits)

- **propose** reads the account's memory and asks the agent for proposals (model calls
  happen here, through a recorder built for the run; nothing is written). An agent that
  raises, or proposes an action the pack's catalog refuses, is treated like a model fault:
  nothing automated, one escalation to a person with the reason.
- **decide** stores each proposal with its policy decision, in one transaction: ``auto``
  goes to the outbox, ``review``/``escalate`` opens a review item, ``block`` is recorded;
  the model calls the proposer made are recorded in the same transaction.
  Idempotent, so a re-run after a crash finds what it already did.
- **review** runs once per waiting action (LangGraph ``Send``), so each review item pauses
  with its own interrupt (its own id) and items are answered independently, in any order.
  The interrupt's value describes the item for any LangGraph client (see
  :mod:`revfield.review._interrupts`); an answer given through the interrupt goes through the
  same digest check and re-decision as one given at the command line. The task loops until
  its action is settled: a re-escalated item asks again, on its new rung.
- **act** queues the approved actions and closes the field event, once every task is done.

Nothing irreversible happens before an ``interrupt()``: a task records only which item it
asks about (so an answer is bound to what its person saw) before pausing.

State holds plain data only (no pydantic objects), so checkpoints reload without warnings.
Runs paused by an earlier revfield at the old **wait** node (one interrupt for the whole run,
``{event_id, waiting}``) still resume: that node takes the old answer, then hands what still
waits to review tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from revfield.agents import AgentSpec, Proposal, fault
from revfield.clock import Clock
from revfield.domain import (
    Motion,
    ProposalError,
    ProposedAction,
)
from revfield.field._steps import finish_run, record_proposals
from revfield.field._waiting import await_review, outcome_of
from revfield.llm import CallRecord, Model, RecordedCall, Recorder
from revfield.memory import (
    Store,
    recall_for_event,
)
from revfield.policies import CompiledPack

__all__ = ["AgentDeps", "AgentState", "build_agent_graph", "outcome_of", "thread_id"]


def _merge(old: dict[str, str] | None, new: dict[str, str] | None) -> dict[str, str]:
    return {**(old or {}), **(new or {})}


class AgentState(TypedDict, total=False):
    event_id: int
    account_id: str
    """The event's account, as read with its status before the run (so the draft reads the
    event and the account's memory together)."""
    proposals: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    """The model calls made while proposing (recorded with the proposals)."""
    actions: list[dict[str, Any]]
    """Each proposal as recorded: id, kind, status, verdict, review id."""
    waiting: list[int]
    """Action ids waiting for a person."""
    answers: Annotated[dict[str, str], _merge]
    """Action id → ``approved``, ``rejected``, ``blocked`` or ``cancelled``, as settled."""
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
    saved: Callable[[str], None] | None = None
    """Makes what the checkpointer holds for a thread durable (see
    :class:`~revfield.field._step_commits.StepCommits`); called before deciding on a draft."""


def thread_id(agent: str, event_id: int) -> str:
    """The LangGraph thread of the agent run on one field event."""
    return f"{agent}:{event_id}"


_CALL_FIELDS = tuple(f.name for f in fields(CallRecord))  # scalars all: no deep copy needed


def _plain(call: RecordedCall) -> dict[str, Any]:
    record = call.record
    return {
        **{name: getattr(record, name) for name in _CALL_FIELDS},
        "signal_id": call.signal_id,
        "account_id": call.account_id,
    }


def _call(data: dict[str, Any]) -> RecordedCall:
    about = {k: data.pop(k, None) for k in ("signal_id", "account_id")}
    return RecordedCall(CallRecord(**data), **about)


def _refused(agent: str, event: Any, memory: Any, reason: str, model: str) -> Proposal:
    return fault(event, agent, reason, model, Motion.of_state(memory.account.customer_state))


def build_agent_graph(
    spec: AgentSpec, deps: AgentDeps, checkpointer: BaseCheckpointSaver[str] | None
) -> Any:
    """The durable graph of one agent (see the module's docstring)."""
    agent = spec.name

    def propose(state: AgentState) -> dict[str, Any]:
        with deps.store.read() as session:
            # the account as read with the event's status (a run an earlier revfield started
            # has none: its event is read first)
            event, memory = recall_for_event(
                session,
                state["event_id"],
                state.get("account_id"),
                signals=deps.context_signals,
                count_signals=False,
                closed_deals=spec.closed_deals,
            )
        model = Recorder(deps.model, account_id=event.account_id)
        pack = deps.pack()
        try:
            proposal = spec.propose(memory, event, model, pack.playbook, deps.clock.now())
            actions = [pack.catalog.check(a) for a in proposal.actions]
        except ProposalError as exc:
            proposal = _refused(agent, event, memory, f"it proposed {exc}", deps.model.name)
            actions = proposal.actions
        except Exception as exc:  # a plug-in's bug: a person decides, nothing is automated
            reason = f"the agent failed: {type(exc).__name__}: {exc}"
            proposal = _refused(agent, event, memory, reason, deps.model.name)
            actions = proposal.actions
        return {
            "proposals": [a.model_dump(mode="json") for a in actions],
            "calls": [_plain(c) for c in model.drain()],
        }

    def decide(state: AgentState) -> dict[str, Any]:
        proposals = [ProposedAction.model_validate(p) for p in state.get("proposals", [])]
        calls = [_call(c) for c in state.get("calls", [])]
        if deps.saved is not None:  # the draft is durable before anything is decided on it
            deps.saved(thread_id(agent, state["event_id"]))
        with deps.store.session() as session:
            actions = record_proposals(
                session,
                deps.pack(),
                event_id=state["event_id"],
                agent=agent,
                thread_id=thread_id(agent, state["event_id"]),
                proposals=proposals,
                executor=deps.executor,
                now=deps.clock.now(),
                calls=calls,
            )
        waiting = [a["id"] for a in actions if a["status"] == "pending_review"]
        return {"actions": actions, "waiting": waiting, "done": not waiting}

    def review(task: dict[str, Any]) -> dict[str, Any]:
        action_id = int(task["action_id"])
        outcome = await_review(deps.store, deps.pack, deps.clock, action_id)
        return {"answers": {str(action_id): outcome}}

    def wait(state: AgentState) -> dict[str, Any]:
        """Runs paused by an earlier revfield: one interrupt for the whole run."""
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

    def to_review(state: AgentState) -> Any:
        answers = state.get("answers", {})
        todo = [a for a in state.get("waiting", []) if str(a) not in answers]
        if not todo:
            return "act" if state.get("waiting") else END  # nothing waited: decide closed it
        return [Send("review", {"event_id": state["event_id"], "action_id": a}) for a in todo]

    g = StateGraph(AgentState)
    g.add_node("propose", propose)
    g.add_node("decide", decide)
    g.add_node("review", review)  # type: ignore[arg-type]  # a Send's argument, not the state
    g.add_node("wait", wait)
    g.add_node("act", act)
    g.add_edge(START, "propose")
    g.add_edge("propose", "decide")
    g.add_conditional_edges("decide", to_review, ["review", "act", END])
    g.add_conditional_edges("wait", to_review, ["review", "act", END])
    g.add_edge("review", "act")
    g.add_edge("act", END)
    return g.compile(checkpointer=checkpointer, name=agent)
