"""Replaying one scenario through the real field: a fresh database, the memory seeded, the
timeline driven on a clock the runner sets (never sleeping), people answering through the same
path the inbox uses, the model offline or an OpenAI-compatible one from its cassette.

    each step, at its time:  signals → ingest → detection (governance too) → the ladder →
    agent runs → people's answers → the outbox
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from revfield._text import did_you_mean
from revfield.clock import ManualClock, utc
from revfield.domain import FactType, FieldEventKind
from revfield.errors import RevfieldError
from revfield.evals._cassette import Cassette, CassetteRecorder, replay_model, replaying
from revfield.evals._local_server import LocalOpenAIServer
from revfield.evals._scenario import Answer, PackSpec, Scenario, Selector, SignalSpec, Step
from revfield.field import Field, open_checkpointer, run_detection
from revfield.ingest import ingest_signals
from revfield.llm import Model, OfflineModel, OpenAIModel
from revfield.memory import (
    ActionOutcome,
    NewFact,
    RunOutcome,
    Store,
    add_facts,
    claim_signals,
    contacts_by_email,
    get_action,
    insert_reference_rows,
    note_detections,
    run_outcome,
    stored_signals,
)
from revfield.outbox import LogExecutor
from revfield.policies import CompiledPack, PackError, load_pack
from revfield.review import LOCAL_ADMIN, Actor, ReviewError, resolve_actor

__all__ = ["EvalError", "PackCache", "Recording", "ScenarioRun", "Workspace", "run_scenario"]

SEED_SOURCE = "eval-seed"


class EvalError(RevfieldError):
    """A scenario that can't be run as written (a pack change that doesn't apply, a cassette
    that can't be read): names the scenario and what is wrong."""


@dataclass(frozen=True)
class Recording:
    """Run against a live OpenAI-compatible endpoint and write the scenario's cassette.
    Without ``base_url``, revfield's local server is started with the scenario's
    ``record_faults``."""

    base_url: str | None = None
    api_key: str = "sk-local"
    model: str = "gpt-4o-mini"
    max_retries: int = 2


@dataclass
class ScenarioRun:
    """What replaying one scenario produced, before it is judged."""

    scenario: Scenario
    outcome: RunOutcome
    problems: list[str] = field(default_factory=list)
    """What went wrong while driving it (an answer that found no item, a refused answer that
    should have been taken, a request missing from the cassette)."""
    seconds: float = 0.0
    seconds_agents: float = 0.0
    agent_runs: int = 0
    backtest: Any = None
    """The backtest report, when the scenario expects one."""
    cassette_written: Path | None = None


class PackCache:
    """Compiled packs by (pack folder, changes): scenarios sharing a pack compile it once."""

    def __init__(self, base: Path, workdir: Path) -> None:
        self.base = base
        self.workdir = workdir
        self._packs: dict[str, CompiledPack] = {}

    def get(self, spec: PackSpec, scenario: Scenario) -> CompiledPack:
        base = scenario.relative(spec.path) if spec.path else self.base
        key = json.dumps(
            {"base": str(base), **spec.model_dump(mode="json", by_alias=True)}, sort_keys=True
        )
        if key not in self._packs:
            self._packs[key] = self._build(spec, base, scenario, len(self._packs))
        return self._packs[key]

    def _build(self, spec: PackSpec, base: Path, scenario: Scenario, n: int) -> CompiledPack:
        where = f"scenario `{scenario.name}` ({scenario.path})"
        if not base.exists():
            raise EvalError(f"{where}: pack.path: there is no pack at {base}")
        if not spec.changes and spec.add is None:
            folder = base
        else:
            folder = self.workdir / f"pack-{n}"
            shutil.rmtree(folder, ignore_errors=True)
            if base.is_dir():
                shutil.copytree(base, folder, ignore=shutil.ignore_patterns("tests"))
            else:
                folder.mkdir(parents=True)
                shutil.copy(base, folder / base.name)
            for change in spec.changes:
                target = folder / change.file
                if not target.is_file():
                    raise EvalError(f"{where}: pack.changes: the pack has no file `{change.file}`")
                text = target.read_text(encoding="utf-8")
                if change.replace not in text and change.with_ in text:
                    continue  # the pack under test has this change already
                if change.replace not in text:
                    raise EvalError(
                        f"{where}: pack.changes: `{change.replace}` is not in {change.file}"
                    )
                target.write_text(text.replace(change.replace, change.with_), encoding="utf-8")
            if spec.add is not None:
                (folder / "zz-scenario.yaml").write_text(
                    yaml.safe_dump(spec.add, sort_keys=False), encoding="utf-8"
                )
        try:
            return load_pack(folder)
        except PackError as exc:
            raise EvalError(f"{where}: the pack was refused\n{exc}") from None


@dataclass
class Workspace:
    """Where scenarios run: a migrated template database copied for each run, compiled packs,
    outbox logs."""

    root: Path
    packs: PackCache
    template: Path

    @classmethod
    def create(cls, root: Path, pack: Path) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        template = root / "template.db"
        if not template.exists():
            store = Store.from_url(f"sqlite:///{template}")
            store.migrate()
            store.dispose()
        return cls(root, PackCache(pack, root), template)

    def fresh_store(self, name: str) -> Store:
        path = self.root / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.template, path)
        return Store.from_url(f"sqlite:///{path}")


def run_scenario(
    scenario: Scenario,
    workspace: Workspace,
    *,
    run_id: str | None = None,
    recording: Recording | None = None,
) -> ScenarioRun:
    """Replay ``scenario`` in a fresh database of ``workspace``; with ``recording``, call a
    live endpoint instead of the cassette and write the cassette afterwards."""
    started = time.perf_counter()
    pack = workspace.packs.get(scenario.pack, scenario)
    check_names(scenario, pack)
    name = run_id or scenario.name
    store = workspace.fresh_store(name)
    clock = ManualClock(scenario.start)
    run = ScenarioRun(scenario, RunOutcome())
    try:
        _seed(store, scenario, clock)
        with ExitStack() as stack:
            model = stack.enter_context(_model(scenario, run, recording))
            saver = stack.enter_context(open_checkpointer(store))
            executor = LogExecutor(path=workspace.root / f"{name}.outbox.jsonl")
            fld = Field(store, pack, model, clock, saver, executor=executor)
            for n, step in enumerate(scenario.timeline):
                _step(fld, scenario, step, n, run)
        with store.read() as session:
            run.outcome = run_outcome(session)
            if scenario.expect.backtest is not None:
                from revfield.policies import backtest_packs

                candidate = workspace.packs.get(scenario.expect.backtest.candidate, scenario)
                run.backtest = backtest_packs(session, pack, candidate)
    finally:
        store.dispose()
    run.seconds = time.perf_counter() - started
    return run


# -- names ----------------------------------------------------------------------------------

BUILT_IN_GUARDRAILS = (
    "contact-fatigue",
    "account-cap",
    "motion-budget",
    "retention-first",
    "exit-criteria",
)
"""The ids the guardrails record on a decision (besides the pack's counter metrics)."""


def check_names(scenario: Scenario, pack: CompiledPack) -> None:
    """Every rule, guardrail, action kind and field-event kind the scenario names exists in
    ``pack`` (a misspelt id in a ``never`` or ``count: 0`` expectation would test nothing);
    raises :class:`EvalError` listing each unknown name, with the closest known one."""
    rules = {r.id for r in pack.rules}
    guardrails = {*BUILT_IN_GUARDRAILS, *(c.id for c in pack.counter_metrics)}
    kinds = set(pack.catalog.kinds)
    events = {k.value for k in FieldEventKind}
    e = scenario.expect
    named: list[tuple[str, str | None, set[str], str]] = []
    for i, a in enumerate(e.actions):
        named += [(f"expect.actions.{i}.kind", a.kind, kinds, "action kind")]
        named += [(f"expect.actions.{i}.rules", r, rules, "rule") for r in a.rules]
        named += [
            (f"expect.actions.{i}.guardrails", g, guardrails, "guardrail") for g in a.guardrails
        ]
    named += [
        (f"expect.never.{i}.kind", n.kind, kinds, "action kind") for i, n in enumerate(e.never)
    ]
    named += [
        (f"expect.outbox.{i}.kind", o.kind, kinds, "action kind") for i, o in enumerate(e.outbox)
    ]
    named += [
        (f"expect.events.{i}.kind", v.kind, events, "field event") for i, v in enumerate(e.events)
    ]
    named += [
        (f"expect.no_events.{i}.kind", v.kind, events, "field event")
        for i, v in enumerate(e.no_events)
    ]
    named += [
        (f"expect.guardrails.{i}.id", g.id, guardrails, "guardrail")
        for i, g in enumerate(e.guardrails)
    ]
    for n, step in enumerate(scenario.timeline):
        named += [
            (f"timeline.{n}.answers.{i}.select.kind", a.select.kind, kinds, "action kind")
            for i, a in enumerate(step.answers)
        ]
    problems = [
        f"{scenario.path}: {where}: unknown {what} `{name}`" + (did_you_mean(name, known) or "")
        for where, name, known, what in named
        if name is not None and name not in known
    ]
    if problems:
        raise EvalError("\n".join(problems))


# -- the model --------------------------------------------------------------------------------


@contextmanager
def _model(scenario: Scenario, run: ScenarioRun, recording: Recording | None) -> Iterator[Model]:
    spec = scenario.model
    if spec.backend == "offline":
        yield OfflineModel()
        return
    assert spec.cassette is not None
    path = scenario.relative(spec.cassette)
    if recording is not None:
        with ExitStack() as stack:
            base_url = recording.base_url
            if base_url is None:
                server = stack.enter_context(LocalOpenAIServer(faults=spec.record_faults))
                base_url = server.base_url
            recorder = CassetteRecorder()
            model = OpenAIModel(
                api_key=recording.api_key,
                model=recording.model,
                base_url=base_url,
                max_retries=recording.max_retries,
                http_client=recorder.client(),
            )
            try:
                yield model
            finally:
                model.close()
            cassette = recorder.cassette(
                model=recording.model, base_url=base_url, max_retries=recording.max_retries
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            cassette.save(path)
            run.cassette_written = path
        return
    if not path.is_file():
        raise EvalError(
            f"scenario `{scenario.name}`: the cassette {path} does not exist; record it with "
            f"`revfield eval --record {scenario.path}`"
        )
    cassette = Cassette.load(path)
    with replaying(cassette) as playback:
        model = replay_model(cassette)
        try:
            yield model
        finally:
            model.close()
            run.problems += [
                f"a model request is not in the cassette {path.name}:\n{miss.describe()}"
                for miss in playback.misses
            ]


# -- seeding ----------------------------------------------------------------------------------


def _at(scenario: Scenario, offset: timedelta) -> datetime:
    return scenario.start + offset


def _seed(store: Store, scenario: Scenario, clock: ManualClock) -> None:
    m = scenario.memory
    t0 = scenario.start - timedelta(days=365)
    with store.session() as session:
        teams = {t.id: t.name or t.id for t in m.teams}  # a team a user names is created too
        teams.update({u.team: u.team for u in m.users if u.team and u.team not in teams})
        insert_reference_rows(
            session,
            "teams",
            [{"id": k, "name": name, "created_at": t0} for k, name in teams.items()],
        )
        insert_reference_rows(
            session,
            "users",
            [
                {
                    "id": u.id,
                    "name": u.name or u.id.title(),
                    "email": u.email,
                    "role": u.role,
                    "team_id": u.team,
                    "created_at": t0,
                }
                for u in m.users
            ],
        )
        insert_reference_rows(
            session,
            "accounts",
            [
                {
                    "id": a.id,
                    "name": a.name or a.id.split(".")[0].replace("-", " ").title(),
                    "domain": a.domain or (a.id if "." in a.id else None),
                    "segment": a.segment,
                    "industry": a.industry,
                    "employees": a.employees,
                    "region": a.region,
                    "customer_state": a.state,
                    "owner_id": a.owner,
                    "plan": a.plan,
                    "seats": a.seats,
                    "mrr": a.mrr,
                    "source": "eval",
                    "created_at": t0,
                    "updated_at": t0,
                }
                for a in m.accounts
            ],
        )
        insert_reference_rows(
            session,
            "contacts",
            [
                {
                    "account_id": c.account,
                    "email": c.email.lower(),
                    "name": c.name or c.email.split("@")[0].replace(".", " ").title(),
                    "role": c.role,
                    "do_not_contact": c.do_not_contact,
                    "created_at": t0,
                }
                for c in m.contacts
            ],
        )
        insert_reference_rows(
            session,
            "deals",
            [
                {
                    "id": d.id,
                    "account_id": d.account,
                    "owner_id": d.owner,
                    "name": d.name or d.id,
                    "stage": d.stage,
                    "stage_entered_at": _at(scenario, d.stage_entered or d.opened),
                    "amount": d.amount,
                    "currency": "USD",
                    "outcome": "open",
                    "source": "eval",
                    "created_at": _at(scenario, d.opened),
                    "updated_at": _at(scenario, d.opened),
                }
                for d in m.deals
            ],
        )
    if m.facts:
        _seed_facts(store, scenario, clock)


def _seed_facts(store: Store, scenario: Scenario, clock: ManualClock) -> None:
    """Each seeded fact comes from a ``note`` signal of its own (facts always cite a signal),
    marked as read so detection doesn't read it again."""
    facts = scenario.memory.facts
    records = [
        {
            "source": SEED_SOURCE,
            "external_id": f"fact-{n}",
            "kind": "note",
            "occurred_at": _at(scenario, f.observed).isoformat(),
            "account_id": f.account,
            "text": f.value,
        }
        for n, f in enumerate(facts)
    ]
    clock.set(scenario.start)
    report = ingest_signals(records, store=store, clock=clock, source=f"{scenario.name}:memory")
    if report.dead_lettered:
        first = report.problems[0] if report.problems else "refused"
        raise EvalError(f"scenario `{scenario.name}`: memory.facts: {first}")
    with store.session() as session:
        stored = stored_signals(session, [(SEED_SOURCE, r["external_id"]) for r in records])
        ids = {key[1]: sid for key, (sid, _digest) in stored.items()}
        claim_signals(session, ids.values(), scenario.start)
        note_detections(session, [(i, 1, 0, None) for i in ids.values()])
        people = contacts_by_email(session, [f.contact.lower() for f in facts if f.contact])
        emails = {email: contact_id for email, (contact_id, _account) in people.items()}
        add_facts(
            session,
            [
                NewFact(
                    account_id=f.account,
                    type=FactType(f.type),
                    value=f.value,
                    source_signal_id=ids[f"fact-{n}"],
                    confidence=f.confidence,
                    observed_at=_at(scenario, f.observed),
                    subject=f.subject,
                    span=f.value,
                    contact_id=emails.get(f.contact.lower()) if f.contact else None,
                )
                for n, f in enumerate(facts)
            ],
            now=scenario.start,
        )


# -- the timeline -----------------------------------------------------------------------------


def _records(scenario: Scenario, step: Step, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, s in enumerate(step.signals):
        record = _record(scenario, step, s, f"{scenario.name}-{n}-{i}")
        out += [record] * s.repeat
    return out


def _record(scenario: Scenario, step: Step, s: SignalSpec, default_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": s.source,
        "external_id": s.external_id or default_id,
        "kind": s.kind,
        "occurred_at": (
            s.occurred_at
            if s.occurred_at is not None
            else _at(scenario, s.occurred if s.occurred is not None else step.at).isoformat()
        ),
        "payload": s.payload,
    }
    optional = {
        "account_id": s.account,
        "account_domain": s.account_domain,
        "contact_email": s.contact,
        "contact_name": s.contact_name,
        "contact_role": s.contact_role,
        "text": s.text,
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    return record


def _step(fld: Field, scenario: Scenario, step: Step, n: int, run: ScenarioRun) -> None:
    clock = fld.clock
    assert isinstance(clock, ManualClock)
    clock.set(_at(scenario, step.at))
    records = _records(scenario, step, n)
    if records:
        ingest_signals(records, store=fld.store, clock=clock, source=f"{scenario.name}@{n}")
    if step.run:
        run_detection(fld.store, fld.pack, fld.model, clock, governance=True)
        fld.climb_ladder()
        report = fld.run_agents()
        run.agent_runs += report.runs
        run.seconds_agents += report.seconds
    for i, answer in enumerate(step.answers):
        _answer(fld, answer, f"timeline.{n}.answers.{i}", run)
    if step.run or step.answers:
        fld.deliver()


def matches(action: ActionOutcome, select: Selector, start: datetime) -> bool:
    """Whether ``action`` is one ``select`` names (every field given must match; ``after``
    and ``before`` count from ``start``, the scenario's)."""
    created = utc(action.created_at)
    return (
        (select.after is None or created >= start + select.after)
        and (select.before is None or created < start + select.before)
        and (select.kind is None or action.kind == select.kind)
        and (select.account is None or action.account_id == select.account)
        and (select.contact is None or (action.contact_email or "") == select.contact.lower())
        and (select.agent is None or action.agent == select.agent)
        and (select.motion is None or action.motion == select.motion)
    )


def _answer(fld: Field, answer: Answer, where: str, run: ScenarioRun) -> None:
    start = run.scenario.start
    with fld.store.read() as session:
        outcome = run_outcome(session)
    pending = [
        (a, item)
        for a in outcome.actions
        if matches(a, answer.select, start)
        for item in a.items
        if item.status == "pending"
    ]
    if len(pending) <= answer.select.nth:
        waiting = ", ".join(
            f"{a.kind} on {a.account_id}" + (f" to {a.contact_email}" if a.contact_email else "")
            for a in outcome.actions
            for i in a.items
            if i.status == "pending"
        )
        run.problems.append(
            f"{where}: no pending review item matches {_selector(answer.select)}"
            f" (waiting: {waiting or 'nothing'})"
        )
        return
    action, item = pending[answer.select.nth]
    user = answer.user or item.assignee_id
    try:
        with fld.store.read() as session:
            actor: Actor = resolve_actor(session, user) if user else LOCAL_ADMIN
        if answer.via == "langgraph":
            _answer_interrupt(fld, action, item.id, answer, actor)
        elif answer.decision == "reject":
            fld.reject(item.id, actor=actor, reason=answer.reason)
        else:
            fld.approve(item.id, actor=actor, edits=answer.edits or None)
    except ReviewError as exc:
        if not answer.expect_refused:
            run.problems.append(f"{where}: the answer was refused: {exc}")
        return
    if answer.expect_refused:
        run.problems.append(
            f"{where}: {user or 'the operator'}'s answer to {action.kind} on {action.account_id} "
            "was taken, but it should have been refused"
        )


def _answer_interrupt(
    fld: Field, action: ActionOutcome, review_id: int, answer: Answer, actor: Actor
) -> None:
    """Answer as a LangGraph client would: the run's interrupt for the item, resumed with an
    Agent Inbox ``HumanResponse``."""
    with fld.store.read() as session:
        thread = get_action(session, action.id).thread_id
    graph = fld.graphs.get(action.agent)
    if graph is None:
        raise ReviewError(f"the agent `{action.agent}` is not installed here")
    state = graph.get_state({"configurable": {"thread_id": thread}})
    intr = next(
        (
            i
            for i in state.interrupts
            if isinstance(i.value, dict)
            and (i.value.get("revfield") or {}).get("review_id") == review_id
        ),
        None,
    )
    if intr is None:
        raise ReviewError(f"run {thread} has no interrupt for review #{review_id}")
    shape: dict[str, Any]
    if answer.decision == "approve":
        shape = {"type": "accept", "args": None}
    elif answer.decision == "edit":
        shape = {"type": "edit", "args": {"action": action.kind, "args": answer.edits}}
    else:
        shape = {"type": "response", "args": answer.reason}
    fld.answer_interrupt(thread, intr.id, [shape], actor=actor)


def _selector(s: Selector) -> str:
    parts = {k: v for k, v in s.model_dump().items() if v is not None and k != "nth"}
    return "{" + ", ".join(f"{k}: {v}" for k, v in parts.items()) + "}"
