"""The field in motion: field events → agent runs → decisions → people → the outbox.

:class:`Field` is what ``revfield run``, ``approve`` and ``reject`` (and the demo) drive:

- :meth:`Field.run_agents` starts one agent run per pending field event (thread
  ``<agent>:<event id>``); a run that pauses for a person leaves its event ``waiting``.
- :meth:`Field.approve` / :meth:`Field.reject` answer a review item and resume its run
  from the checkpoint (``Command(resume=…)``), in this process or any later one.
- :meth:`Field.resume_answered` resumes runs whose answer is recorded but whose run did not
  resume (the answering process died in between).
- :meth:`Field.climb_ladder` moves unanswered items up the ladder past their deadline.
- :meth:`Field.deliver` carries out what the outbox holds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, Durability

from revfield.clock import Clock
from revfield.domain import ActionStatus, EventStatus
from revfield.field._graph import AgentDeps, build_agent_graph, thread_id
from revfield.llm import Model
from revfield.memory import (
    Store,
    answered_while_waiting,
    event_of_action,
    runnable_events,
    transition,
)
from revfield.outbox import Executor, OutboxReport, process_outbox
from revfield.policies import CompiledPack
from revfield.review import Actor, AnswerResult, answer_review, climb_ladder
from revfield.route import Agent

__all__ = ["AgentReport", "Field"]

FINAL = {ActionStatus.APPROVED, ActionStatus.REJECTED, ActionStatus.BLOCKED, ActionStatus.CANCELLED}
"""How an answered action resumes its run: as itself; any other answered status (it was
approved and went on to the outbox) as ``approved``."""


@dataclass
class AgentReport:
    """What :meth:`Field.run_agents` did: the agent runs it started and how each ended."""

    runs: int = 0
    """Agent runs started (one per field event), cut-off runs taken up again included."""
    by_agent: Counter[str] = field(default_factory=Counter)
    """Runs per agent (``outreach``, ``handover``…)."""
    paused: int = 0
    """Runs now waiting for a person to answer a review item."""
    finished: int = 0
    """Runs that ended: nothing waits for a person."""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Agent runs per second."""
        return self.runs / self.seconds if self.seconds else 0.0


class Field:
    """The field in motion: one durable agent run per field event, each proposal recorded
    with its policy decision, runs paused for people and resumed on their answers, and the
    outbox delivered. What ``revfield run``, ``approve``, ``reject`` and the demo drive.

    ``pack`` may be a callable (a :class:`~revfield.policies.PackWatcher`'s ``current``) so a
    long-running process decides with the newest good pack; ``checkpointer`` comes from
    :func:`open_checkpointer`; without ``executor``, :meth:`deliver` does nothing."""

    def __init__(
        self,
        store: Store,
        pack: CompiledPack | Callable[[], CompiledPack],
        model: Model,
        clock: Clock,
        checkpointer: BaseCheckpointSaver[str] | None,
        *,
        executor: Executor | None = None,
        executor_name: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        durability: Durability = "sync",
    ) -> None:
        self.store = store
        self._pack = pack if callable(pack) else (lambda: pack)
        self.model = model
        self.clock = clock
        self.executor = executor
        self.lease = lease
        self.durability: Durability = durability
        """``sync`` (default) checkpoints after every step, so a run cut off after drafting
        resumes there instead of asking the model again; ``exit`` checkpoints only when the
        run pauses or ends (faster; a cut-off run starts over, idempotently)."""
        name = executor_name or (executor.name if executor is not None else "log")
        self.deps = AgentDeps(store, self._pack, model, clock, executor=name)
        self.graphs = {agent: build_agent_graph(agent, self.deps, checkpointer) for agent in Agent}

    @property
    def pack(self) -> CompiledPack:
        return self._pack()

    # -- runs -----------------------------------------------------------------------------

    def _config(self, agent: str, event_id: int) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id(agent, event_id)}}

    def _set_status(self, event_id: int, status: EventStatus) -> None:
        with self.store.session() as session:
            transition(session, event_id, status)

    def run_event(self, event_id: int, agent: str, *, started: bool = False) -> str:
        """Run the agent on one field event; returns ``waiting`` or ``done``.

        ``started`` says the event was taken up before (its status is ``running``: the
        process died mid-run): its checkpoint decides whether it waits for a person, is
        finished, or starts again (the steps before the pause are idempotent)."""
        graph = self.graphs[Agent(agent)]
        config = self._config(agent, event_id)
        if started:
            snapshot = graph.get_state(config)
            if snapshot.next:  # paused already: never start it over
                self._set_status(event_id, EventStatus.WAITING)
                return "waiting"
            if snapshot.values.get("done"):
                self._set_status(event_id, EventStatus.DONE)
                return "done"
        result = graph.invoke({"event_id": event_id}, config, durability=self.durability)
        if result.get("__interrupt__"):
            self._set_status(event_id, EventStatus.WAITING)
            return "waiting"
        return "done"  # the run's last step closed the event

    def pending_events(self, limit: int | None = None) -> list[tuple[int, str, bool]]:
        """Events waiting for their agent, and events whose run was cut off (``running``)."""
        with self.store.read() as session:
            return runnable_events(session, limit)

    def run_agents(
        self, *, limit: int | None = None, on_progress: Callable[[int], None] | None = None
    ) -> AgentReport:
        """One run per pending field event."""
        report = AgentReport()
        started = time.perf_counter()
        for n, (event_id, agent, cut_off) in enumerate(self.pending_events(limit), 1):
            status = self.run_event(event_id, agent, started=cut_off)
            report.runs += 1
            report.by_agent[agent] += 1
            report.paused += status == "waiting"
            report.finished += status == "done"
            if on_progress is not None:
                on_progress(n)
        report.seconds = time.perf_counter() - started
        return report

    # -- answers --------------------------------------------------------------------------

    def resume(self, action_id: int, outcome: str) -> str:
        """Give a paused run the answer for ``action_id``; returns the event's new status."""
        with self.store.read() as session:
            event_id, agent = event_of_action(session, action_id)
        graph = self.graphs[Agent(agent)]
        config = self._config(agent, event_id)
        if not graph.get_state(config).next:
            return "done"  # nothing waits (answered and resumed before)
        result = graph.invoke(
            Command(resume={"action_id": action_id, "outcome": outcome}),
            config,
            durability=self.durability,
        )
        status = EventStatus.WAITING if result.get("__interrupt__") else EventStatus.DONE
        self._set_status(event_id, status)
        return status.value

    def answer(
        self,
        review_id: int,
        *,
        approve: bool,
        actor: Actor,
        edits: dict[str, Any] | None = None,
        note: str | None = None,
        expected_digest: str | None = None,
    ) -> AnswerResult:
        """Record the answer (one transaction), then resume the paused run if it is final."""
        with self.store.session() as session:
            result = answer_review(
                session,
                self.pack,
                review_id,
                approve=approve,
                actor=actor,
                now=self.clock.now(),
                edits=edits,
                note=note,
                expected_digest=expected_digest,
            )
        if result.final:
            self.resume(result.action_id, result.outcome)
            for action_id in result.cancelled:  # they waited for it; the run stops waiting too
                self.resume(action_id, "cancelled")
        return result

    def approve(
        self,
        review_id: int,
        *,
        actor: Actor,
        edits: dict[str, Any] | None = None,
        expected_digest: str | None = None,
    ) -> AnswerResult:
        return self.answer(
            review_id, approve=True, actor=actor, edits=edits, expected_digest=expected_digest
        )

    def reject(
        self, review_id: int, *, actor: Actor, reason: str, expected_digest: str | None = None
    ) -> AnswerResult:
        return self.answer(
            review_id, approve=False, actor=actor, note=reason, expected_digest=expected_digest
        )

    def resume_answered(self) -> int:
        """Resume runs whose actions were answered while nothing resumed them."""
        with self.store.read() as session:
            answered = answered_while_waiting(session)
        resumed = 0
        for action_id, status, agent, event_id in answered:
            state = self.graphs[Agent(agent)].get_state(self._config(agent, event_id))
            waiting = state.values.get("waiting", [])
            if action_id in waiting and str(action_id) not in state.values.get("answers", {}):
                outcome = status.value if status in FINAL else ActionStatus.APPROVED.value
                self.resume(action_id, outcome)
                resumed += 1
        return resumed

    def climb_ladder(self) -> list[tuple[int, int]]:
        with self.store.session() as session:
            return climb_ladder(session, self.pack, self.clock.now())

    def deliver(self, *, limit: int | None = None) -> OutboxReport:
        """Carry out what the outbox holds; runs that waited for an action cancelled on the
        way (what it waited for failed) stop waiting for it."""
        if self.executor is None:
            return OutboxReport()
        report = process_outbox(
            self.store, self.executor, self.clock, lease=self.lease, limit=limit
        )
        for action_id in report.cancelled:
            self.resume(action_id, ActionStatus.CANCELLED.value)
        return report
