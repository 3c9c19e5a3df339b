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
- :meth:`Field.submit` puts one action proposed outside revfield through the same path.
- :meth:`Field.answer_interrupt` takes an answer in any accepted form (revfield's,
  LangChain's, Agent Inbox's) for one review item's interrupt.

Each waiting action pauses its run with its own interrupt; an answer recorded in memory
(command line, ladder) resumes that interrupt with :data:`~revfield.review.RECORDED`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, Durability

from revfield.agents import AgentSpec, discover_agents
from revfield.clock import Clock
from revfield.domain import ActionStatus, EventStatus
from revfield.field._graph import AgentDeps, build_agent_graph, outcome_of, thread_id
from revfield.field._step_commits import StepCommits
from revfield.field._submit import SubmitResult, prepare_submission, submission_result
from revfield.llm import Model
from revfield.memory import (
    ClaimKind,
    Claims,
    Store,
    add_field_event_once,
    event_of_action,
    event_status,
    get_action,
    get_review,
    holding_run,
    runnable_events,
    transition_alone,
    waiting_with_answers,
)
from revfield.outbox import (
    Executor,
    Notifier,
    OutboxReport,
    deliver_notifications,
    process_outbox,
)
from revfield.policies import CompiledPack
from revfield.review import (
    RECORDED,
    Actor,
    AnswerResult,
    ReviewError,
    answer_review,
    climb_ladder,
)

log = structlog.get_logger("revfield.field")

__all__ = ["AgentReport", "Field", "SubmitResult"]

SUBMIT_WAIT = 30.0
"""Seconds a submission waits for another process deciding the same action (same key)."""


class _Graphs(Mapping[str, Any]):
    """Each agent's compiled graph, built the first time it is asked for (answering one
    review builds one graph, not every agent's)."""

    def __init__(self, agents: Mapping[str, AgentSpec], build: Callable[[AgentSpec], Any]):
        self._agents = agents
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = self._build(self._agents[name])
        return self._built[name]

    def __iter__(self) -> Any:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)


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
    unknown_agent: int = 0
    """Events routed to an agent that is not installed any more (left pending)."""
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
        agents: Mapping[str, AgentSpec] | None = None,
        claims: Claims | None = None,
    ) -> None:
        self.store = store
        self.claims = claims if claims is not None else Claims(store)
        self._settled: dict[int, frozenset[int]] = {}
        """Runs :meth:`resume_answered` settled, with the answered items it saw then."""
        """What this process works on: a run (its thread) is run, resumed or answered by one
        process at a time (see :class:`~revfield.memory.Claims`)."""
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
        self.agents = dict(agents) if agents is not None else discover_agents()
        """The agents that run here (the installed ones by default), by name."""
        self.saver = StepCommits(checkpointer) if checkpointer is not None else None
        """The checkpointer, saving what a run must keep in few transactions (see
        :class:`~revfield.field._step_commits.StepCommits`)."""
        if self.saver is not None:
            self.deps.saved = self.saver.flush
        self.graphs: Mapping[str, Any] = _Graphs(
            self.agents, lambda spec: build_agent_graph(spec, self.deps, self.saver)
        )
        """Each agent's compiled graph. Run them through this class's methods: a graph invoked
        directly must be followed by ``saver.flush(thread_id)`` to save what it held."""

    @property
    def pack(self) -> CompiledPack:
        return self._pack()

    def close(self) -> None:
        """Save what the checkpointer still holds, and release this process's claims (and
        their connection)."""
        try:
            if self.saver is not None:
                self.saver.flush()
        finally:
            self.claims.close()

    # -- runs -----------------------------------------------------------------------------

    def _config(self, agent: str, event_id: int) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id(agent, event_id)}}

    def _invoke(self, agent: str, run_input: Any, config: dict[str, Any]) -> Any:
        """Invoke an agent's graph on one thread; what the invocation saved without a step's
        checkpoint after it (a pause's interrupts, an error) is saved when it returns."""
        thread = config["configurable"]["thread_id"]
        try:
            result = self.graphs[agent].invoke(run_input, config, durability=self.durability)
        except BaseException:
            if self.saver is not None:
                try:
                    self.saver.flush(thread)
                except Exception:  # the database went away too: the step runs again
                    self.saver.drop(thread)
            raise
        if self.saver is not None:
            # the last step, or a pause's interrupts: runs again from the step before if lost
            self.saver.flush(thread, wait=False)
        return result

    def _set_status(self, event_id: int, status: EventStatus) -> None:
        transition_alone(self.store, event_id, status)

    def run_event(self, event_id: int, agent: str, *, wait: float = 0.0) -> str:
        """Run the agent on one field event; returns ``waiting`` or ``done`` (``busy``:
        another process is running it; ``skipped``: it was run since it was listed).

        An event taken up before (``running``: the process died mid-run) is taken up again:
        its checkpoint decides whether it waits for a person, is finished, or starts again
        (the steps before the pause are idempotent). ``wait``: seconds to wait for another
        process or thread that runs it to let go (then its outcome is read)."""
        with holding_run(self.claims, event_id, wait=wait) as standing:
            if standing is None:
                return "busy"
            status, account_id = standing
            if status not in (EventStatus.PENDING, EventStatus.RUNNING):
                return "skipped"  # run by another process since it was listed
            return self._run_event(
                event_id, agent, started=status is EventStatus.RUNNING, account_id=account_id
            )

    def _run_event(self, event_id: int, agent: str, *, started: bool, account_id: str) -> str:
        graph = self.graphs[agent]
        config = self._config(agent, event_id)
        run_input: dict[str, Any] | None = {"event_id": event_id, "account_id": account_id}
        # the checkpoint read here is the one the graph reads first when invoked (the claim
        # keeps anyone else from writing the thread meanwhile)
        with self.saver.read_ahead(config) if self.saver else nullcontext() as found:
            if started or found is not None:
                # taken up before (the process died mid-run, maybe right after drafting,
                # before the event was marked running): its checkpoint says where it is
                snapshot = graph.get_state(config)
                if snapshot.interrupts:  # paused already: never start it over
                    self._set_status(event_id, EventStatus.WAITING)
                    return "waiting"
                if snapshot.next:  # cut off between two steps: go on from the last checkpoint
                    run_input = None
                elif snapshot.values.get("done"):
                    self._set_status(event_id, EventStatus.DONE)
                    return "done"
            result = self._invoke(agent, run_input, config)
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
        for n, (event_id, agent, _cut_off) in enumerate(self.pending_events(limit), 1):
            if agent not in self.graphs:
                log.warning("agent not installed", agent=agent, event_id=event_id)
                report.unknown_agent += 1
                continue
            status = self.run_event(event_id, agent)
            if status not in ("waiting", "done"):
                continue  # another process runs it, or ran it since it was listed
            report.runs += 1
            report.by_agent[agent] += 1
            report.paused += status == "waiting"
            report.finished += status == "done"
            if on_progress is not None:
                on_progress(n)
        report.seconds = time.perf_counter() - started
        return report

    # -- answers --------------------------------------------------------------------------

    def submit(
        self,
        action: Any,
        *,
        account: str,
        contact: int | str | None = None,
        cites: tuple[int, ...] | list[int] = (),
        idempotency_key: str | None = None,
        source: str = "api",
    ) -> SubmitResult:
        """Put one action proposed outside revfield through the same path as an agent's:
        the policy decides, the guardrails count it, a review item waits on the ladder or the
        outbox carries it out, and the audit trail records it. ``action`` is a
        :class:`~revfield.domain.ProposedAction` or a mapping of its fields (``kind`` and
        what it carries; the account, contact and cited facts come from the arguments).

        The same ``idempotency_key`` (default: the action's digest) is the same action:
        submitting it again returns what became of the first. Raises
        :class:`~revfield.domain.ProposalError` naming what is wrong; nothing is stored then.
        """
        if "submitted" not in self.graphs:
            raise ReviewError("the `submitted` agent is not installed here")
        now = self.clock.now()
        with self.store.session() as session:
            event = prepare_submission(
                session,
                self.pack,
                action,
                account=account,
                contact=contact,
                cites=list(cites),
                idempotency_key=idempotency_key,
                source=source,
                now=now,
            )
            event_id, new = add_field_event_once(session, event)
        with self.store.read() as session:
            status = event_status(session, event_id)
        if status in (EventStatus.PENDING, EventStatus.RUNNING):
            # the same key submitted at once from several places: one runs it, the others
            # wait for its outcome
            self.run_event(event_id, "submitted", wait=SUBMIT_WAIT)
        with self.store.read() as session:
            return submission_result(session, event_id, new=new)

    def _state(self, agent: str, event_id: int) -> Any:
        return self.graphs[agent].get_state(self._config(agent, event_id))

    def _after(self, agent: str, event_id: int, result: Any) -> str:
        status = EventStatus.WAITING if result.get("__interrupt__") else EventStatus.DONE
        self._set_status(event_id, status)
        return status.value

    def resume(self, action_id: int, outcome: str | None = None) -> str:
        """Tell a paused run that ``action_id``'s answer is in memory (approved, rejected,
        re-escalated, moved up the ladder, cancelled): its interrupt looks again. Returns the
        event's new status (``waiting`` or ``done``)."""
        with self.store.read() as session:
            event_id, agent = event_of_action(session, action_id)
            if outcome is None:
                outcome = outcome_of(get_action(session, action_id).status)
        if agent not in self.graphs:
            return "waiting"
        with self.claims.holding(ClaimKind.THREAD, event_id) as mine:
            if not mine:  # another process works on the run: it reads the answer from memory
                return "waiting"
            return self._resume(agent, event_id, action_id, outcome)

    def _resume(self, agent: str, event_id: int, action_id: int, outcome: str) -> str:
        state = self._state(agent, event_id)
        if not state.next:
            return "done"  # nothing waits (answered and resumed before)
        config = self._config(agent, event_id)
        for intr in state.interrupts:
            value = intr.value if isinstance(intr.value, dict) else {}
            if value.get("revfield", {}).get("action_id") == action_id:
                result = self._invoke(agent, Command(resume={intr.id: RECORDED}), config)
                return self._after(agent, event_id, result)
            if action_id in value.get("waiting", ()):  # a run paused by an earlier revfield
                if outcome not in ("approved", "rejected", "blocked", "cancelled"):
                    return "waiting"
                result = self._invoke(
                    agent,
                    Command(resume={intr.id: {"action_id": action_id, "outcome": outcome}}),
                    config,
                )
                return self._after(agent, event_id, result)
        return "waiting"

    def answer_interrupt(
        self, thread: str, interrupt_id: str, answer: object, *, actor: Actor
    ) -> str:
        """Answer one review item's interrupt in any accepted form (revfield's, LangChain's
        decision, Agent Inbox's ``HumanResponse`` list) as ``actor``; returns the event's new
        status. A refused answer raises :class:`ReviewError` with the reason (nothing was
        saved; the item waits for another answer)."""
        agent, _, event = thread.partition(":")
        if agent not in self.graphs or not event.isdigit():
            raise ReviewError(f"no agent run `{thread}`")
        event_id = int(event)
        with self.claims.holding(ClaimKind.THREAD, event_id) as mine:
            if not mine:
                raise ReviewError(
                    f"run {thread} is being worked on by another process right now; "
                    "answer again in a moment"
                )
            return self._answer_interrupt(agent, event_id, thread, interrupt_id, answer, actor)

    def _answer_interrupt(
        self,
        agent: str,
        event_id: int,
        thread: str,
        interrupt_id: str,
        answer: object,
        actor: Actor,
    ) -> str:
        state = self._state(agent, event_id)
        asked = next((i for i in state.interrupts if i.id == interrupt_id), None)
        if asked is None:
            raise ReviewError(
                f"run {thread} does not wait on interrupt {interrupt_id} (answered, or "
                "replaced by a newer one); read the run's state again"
            )
        about = asked.value.get("revfield") if isinstance(asked.value, dict) else None
        if not isinstance(about, dict):  # one interrupt for a whole run: an earlier revfield's
            raise ReviewError(
                f"run {thread} was paused by an earlier revfield with one interrupt for all its "
                "items; answer them by review id (`revfield approve ID`, Field.approve), which "
                "resumes it"
            )
        action_id = about.get("action_id")
        config = self._config(agent, event_id)
        config["configurable"]["revfield_user"] = actor.id
        config["configurable"]["revfield_actor"] = actor  # as given, like `answer`'s actor
        self._invoke(agent, Command(resume={interrupt_id: answer}), config)
        refused = next(
            (
                i.value["revfield"]["error"]
                for i in self._state(agent, event_id).interrupts
                if isinstance(i.value, dict)
                and (i.value.get("revfield") or {}).get("action_id") == action_id
                and i.value["revfield"].get("error")
            ),
            None,
        )
        self._settle_thread(agent, event_id)  # what the answer cancelled stops waiting too
        status = self._after(
            agent, event_id, {"__interrupt__": self._state(agent, event_id).interrupts}
        )
        if refused:
            raise ReviewError(refused)
        return status

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
        self.resume_answer(result)
        return result

    def resume_answer(self, result: AnswerResult) -> None:
        """Carry on after an answer recorded in memory (:func:`~revfield.review.answer_review`):
        the answered item's run resumes (or looks again, when the answer re-escalated), and so
        do the runs of the actions the answer cancelled."""
        self.resume(result.action_id, None if not result.final else result.outcome)
        for action_id in result.cancelled:  # they waited for it; the run stops waiting too
            self.resume(action_id, "cancelled")

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

    def _settle_thread(self, agent: str, event_id: int) -> int:
        """Resume the run's interrupts whose items are answered (or moved) in memory."""
        with self.claims.holding(ClaimKind.THREAD, event_id) as mine:
            return self._settle(agent, event_id) if mine else 0

    def _settle(self, agent: str, event_id: int) -> int:
        state = self._state(agent, event_id)
        if state.next and not state.interrupts:
            # cut off between two steps after an answer (the database went away mid-resume):
            # go on from the last checkpoint
            result = self._invoke(agent, None, self._config(agent, event_id))
            self._after(agent, event_id, result)
            return 1
        resumed = 0
        for intr in state.interrupts:
            value = intr.value if isinstance(intr.value, dict) else {}
            about = value.get("revfield") or {}
            if about:
                with self.store.read() as session:
                    item = get_review(session, int(about["review_id"]))
                if item is not None and item.status.value != "pending":
                    self.resume(int(about["action_id"]))
                    resumed += 1
                continue
            for action_id in value.get("waiting", ()):  # paused by an earlier revfield
                with self.store.read() as session:
                    status = get_action(session, action_id).status
                if status is not ActionStatus.PENDING_REVIEW:
                    self.resume(action_id, outcome_of(status))
                    resumed += 1
                    break
        return resumed

    def resume_answered(self) -> int:
        """Resume runs whose items were answered (or moved) in memory while nothing resumed
        them (the answering process died in between)."""
        with self.store.read() as session:
            waiting = waiting_with_answers(session)
        resumed = 0
        for event_id, (agent, answered) in waiting.items():
            if agent not in self.graphs or self._settled.get(event_id) == answered:
                continue  # looked at since its last answer: nothing new to resume
            with self.claims.holding(ClaimKind.THREAD, event_id) as mine:
                if mine:  # else another process works on the run, and reads memory itself
                    resumed += self._settle(agent, event_id)
                    self._settled[event_id] = answered
        return resumed

    def climb_ladder(self, notifier: Notifier | None = None) -> list[tuple[int, int]]:
        """Move unanswered items past their deadline one rung up (each step audited, and a
        notification for the new rung stored with it); their runs' interrupts show the new
        rung. With ``notifier``, pending notifications (these and any an earlier process left
        undelivered) are then delivered through it."""
        with self.store.session() as session:
            moved = climb_ladder(session, self.pack, self.clock.now())
        for _old, new in moved:
            with self.store.read() as session:
                item = get_review(session, new)
            if item is not None:
                self.resume(item.action_id)
        if notifier is not None:
            deliver_notifications(self.store, notifier, self.clock)
        return moved

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
