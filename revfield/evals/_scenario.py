"""The scenario format: ``evals/scenarios/*.yaml``, validated by pydantic.

A scenario seeds a memory, drives a timeline of signals and people's answers through the
field, and states what must (and must never) happen. Errors name the file, the line and the
field (``evals/scenarios/x.yaml:12:7: timeline.0.answers.0.decision: …``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from revfield._text import did_you_mean
from revfield._yaml import Located, Pos, YamlError, read_yaml
from revfield.errors import RevfieldError

__all__ = [
    "ActionExpectation",
    "Answer",
    "BacktestExpectation",
    "EventExpectation",
    "Expectations",
    "FactExpectation",
    "GuardrailExpectation",
    "HandoverExpectation",
    "MemorySeed",
    "Metrics",
    "ModelSpec",
    "NeverExpectation",
    "OutboxExpectation",
    "PackChange",
    "PackSpec",
    "Scenario",
    "ScenarioError",
    "Selector",
    "SignalSpec",
    "StateExpectation",
    "Step",
    "load_scenario",
    "load_scenarios",
    "parse_offset",
]

DEFAULT_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MAX_OFFSET = timedelta(days=36_525)
_OFFSET = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?")


def parse_offset(value: Any) -> timedelta:
    """``3d``, ``2h``, ``30m``, ``1d 2h``, ``-60d`` (before the scenario starts) or ``0``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    if not isinstance(value, str):
        raise ValueError(f"expected a time offset such as 30m, 2h, 3d or -60d, got {value!r}")
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    m = _OFFSET.fullmatch(text.lstrip("+-").strip())
    if text in ("0", "-0") or (m and any(m.groups())):
        d, h, mins = ((int(g) if g else 0) for g in (m.groups() if m else (0, 0, 0)))
        offset = sign * timedelta(days=d, hours=h, minutes=mins)
        if abs(offset) > MAX_OFFSET:
            raise ValueError(f"{value!r} is more than 100 years from the scenario's start")
        return offset
    raise ValueError(f"expected a time offset such as 30m, 2h, 3d or -60d, got {value!r}")


Offset = Annotated[timedelta, BeforeValidator(parse_offset)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- memory -----------------------------------------------------------------------------------


class TeamSeed(_Strict):
    id: str
    name: str | None = None


class UserSeed(_Strict):
    id: str
    role: Literal["seller", "manager", "revops"]
    team: str | None = None
    name: str | None = None
    email: str | None = None


class AccountSeed(_Strict):
    id: str
    """The account id; also its domain unless ``domain`` is given."""
    name: str | None = None
    domain: str | None = None
    segment: Literal["smb", "mid_market", "enterprise"] | None = None
    industry: str | None = "software"
    employees: int | None = 60
    region: str | None = None
    state: Literal["prospect", "customer", "churned"] = "prospect"
    owner: str | None = None
    plan: str | None = None
    seats: int | None = None
    mrr: float | None = None


class ContactSeed(_Strict):
    account: str
    email: str
    name: str | None = None
    role: str | None = None
    do_not_contact: bool = False


class DealSeed(_Strict):
    id: str
    account: str
    stage: str = "prospecting"
    amount: float | None = None
    owner: str | None = None
    name: str | None = None
    opened: Offset = timedelta(days=-14)
    """When the deal was created, relative to the scenario's start (``-60d``)."""
    stage_entered: Offset | None = None


class FactSeed(_Strict):
    account: str
    type: Literal[
        "pain",
        "promise",
        "stakeholder",
        "champion",
        "competitor",
        "success_criterion",
        "objection",
        "use_case",
        "risk",
    ]
    value: str
    subject: str | None = None
    contact: str | None = None
    """The contact's e-mail, when the fact is about one person (a champion)."""
    confidence: float = Field(0.9, ge=0, le=1)
    observed: Offset = timedelta(days=-7)


class MemorySeed(_Strict):
    """What memory holds before the timeline starts (inline, or ``fixture``: a YAML file of
    the same shape, relative to the scenario, merged in first)."""

    fixture: str | None = None
    teams: list[TeamSeed] = []
    users: list[UserSeed] = []
    accounts: list[AccountSeed] = []
    contacts: list[ContactSeed] = []
    deals: list[DealSeed] = []
    facts: list[FactSeed] = []

    @model_validator(mode="after")
    def _references(self) -> MemorySeed:
        """Every user, account and contact named is one the memory holds."""
        users = {u.id for u in self.users}
        accounts = {a.id for a in self.accounts}
        contacts = {c.email.lower() for c in self.contacts}
        named = [
            *((f"accounts.{i}.owner", a.owner, users, "user") for i, a in enumerate(self.accounts)),
            *(
                (f"contacts.{i}.account", c.account, accounts, "account")
                for i, c in enumerate(self.contacts)
            ),
            *(
                (f"deals.{i}.account", d.account, accounts, "account")
                for i, d in enumerate(self.deals)
            ),
            *((f"deals.{i}.owner", d.owner, users, "user") for i, d in enumerate(self.deals)),
            *(
                (f"facts.{i}.account", f.account, accounts, "account")
                for i, f in enumerate(self.facts)
            ),
            *(
                (
                    f"facts.{i}.contact",
                    f.contact.lower() if f.contact else None,
                    contacts,
                    "contact",
                )
                for i, f in enumerate(self.facts)
            ),
        ]
        for where, name, known, what in named:
            if name is not None and name not in known:
                raise ValueError(
                    f"{where}: no {what} `{name}` in memory{did_you_mean(name, known)}"
                )
        return self


# -- the pack and the model ---------------------------------------------------------------------


class PackChange(_Strict):
    """One textual change to a copy of the pack: ``replace`` must occur in ``file``."""

    file: str
    replace: str
    with_: str = Field(alias="with")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PackSpec(_Strict):
    """The pack the scenario runs with: the pack under test (``revfield eval --pack``, by
    default the configured one) or a named variant (``path``, relative to the scenario), with
    ``changes`` applied and ``add`` (pack sections, e.g. more rules) written as one more file
    of it."""

    path: str | None = None
    changes: list[PackChange] = []
    add: dict[str, Any] | None = None


class ModelSpec(_Strict):
    backend: Literal["offline", "openai"] = "offline"
    cassette: str | None = None
    """The cassette file (relative to the scenario) for ``openai``."""
    record_faults: dict[str, int] = {}
    """When recording against revfield's local server: operation (or ``*``) → the HTTP
    status it answers instead (``{draft_message: 503}``)."""

    @model_validator(mode="after")
    def _cassette_for_openai(self) -> ModelSpec:
        if self.backend == "openai" and not self.cassette:
            raise ValueError("`backend: openai` needs `cassette: FILE` (record it with --record)")
        return self


# -- the timeline -------------------------------------------------------------------------------


class SignalSpec(_Strict):
    """One signal of the timeline: the signal schema's fields, with shortcuts — ``account``
    for ``account_id``, ``contact`` for ``contact_email``; ``source`` defaults to ``eval``,
    ``external_id`` to one of its own, ``occurred_at`` to the step's time."""

    kind: str
    account: str | None = None
    account_domain: str | None = None
    contact: str | None = None
    contact_name: str | None = None
    contact_role: str | None = None
    text: str | None = None
    payload: dict[str, Any] = {}
    source: str = "eval"
    external_id: str | None = None
    occurred: Offset | None = None
    """When it happened relative to the start (default: the step's time)."""
    occurred_at: Any = None
    """The raw ``occurred_at`` to send instead (a real export's value, or a malformed one to
    see it dead-lettered)."""
    repeat: int = Field(1, ge=1, le=500)
    """Send it this many times (the same record: delivered again, stored once)."""


class Selector(_Strict):
    """Which action (or review item) an answer or an expectation is about; every field
    given must match."""

    kind: str | None = None
    account: str | None = None
    contact: str | None = None
    """The contact's e-mail."""
    agent: str | None = None
    motion: Literal["acquisition", "retention_expansion"] | None = None
    after: Offset | None = None
    """Only actions proposed at or after this time (``2d``): a later step's."""
    before: Offset | None = None
    """Only actions proposed before this time."""
    nth: int = Field(0, ge=0)
    """Among several matches (oldest first), the n-th (answers only)."""


class Answer(_Strict):
    """A person answering a review item, through the same path the inbox uses."""

    select: Selector
    decision: Literal["approve", "reject", "edit"]
    user: str | None = None
    """Who answers (default: the item's assignee)."""
    edits: dict[str, Any] = {}
    reason: str = "not right for this account"
    via: Literal["inbox", "langgraph"] = "inbox"
    """``inbox``: as ``revfield approve`` / the web inbox; ``langgraph``: a LangGraph client
    resuming the item's interrupt (Agent Inbox's answer shape)."""
    expect_refused: bool = False
    """The answer must be refused (not this person's item, a stale digest…)."""


class Step(_Strict):
    """What happens at one moment: signals arrive, the field runs, people answer."""

    at: Offset = timedelta(0)
    signals: list[SignalSpec] = []
    answers: list[Answer] = []
    run: bool = True
    """Run the field after the signals (detection, the ladder, agents, the outbox)."""


# -- expectations -------------------------------------------------------------------------------

Verdict = Literal["auto", "review", "escalate", "block"]
Rung = Literal["owner", "manager", "revops"]


class ActionExpectation(Selector):
    """An action that must be proposed, with its first decision and where it ended."""

    verdict: Verdict | None = None
    rung: Rung | None = None
    """Who it first waited for (``owner`` for a review, else the escalation target)."""
    status: str | None = None
    """Where it ended: executed, pending_review, rejected, blocked, cancelled, …"""
    rules: list[str] = []
    """Rule ids that must be among the matched ones."""
    guardrails: list[str] = []
    """Guardrails that must have tightened the decision."""
    explanation_contains: list[str] = []
    payload: dict[str, Any] = {}
    """Keys the proposal's payload (or the action itself) must hold with these values; a
    dotted key reaches inside (``promises.0.status``)."""
    reason_contains: list[str] = []
    """Words a later decision or a review item's reason must hold (what a person was told)."""
    final_verdict: Verdict | None = None
    """The verdict of the last decision on it (after an edit, the re-decision)."""
    answered_by: str | None = None
    """The user who approved or rejected it."""
    count: int | None = Field(None, ge=0)
    """Exactly this many matching actions (default: at least one)."""


class NeverExpectation(Selector):
    """An action that must never happen: never ``executed`` (default), or never even
    ``proposed``."""

    never: Literal["executed", "proposed", "automated"] = "executed"


class EventExpectation(_Strict):
    kind: str
    account: str | None = None
    count: int | None = Field(None, ge=0)
    detail_contains: list[str] = []


class GuardrailExpectation(_Strict):
    id: str
    account: str | None = None
    count: int | None = Field(None, ge=0)
    """Exactly this many decisions it tightened (default: at least one)."""


class HandoverExpectation(_Strict):
    account: str
    conserved_at_least: float = Field(0.9, ge=0, le=1)
    carries: list[str] = []
    """Words the brief must carry (a pain, a promise…)."""


class OutboxExpectation(_Strict):
    kind: str | None = None
    account: str | None = None
    contact: str | None = None
    status: str = "sent"
    count: int | None = Field(None, ge=0)


class Metrics(_Strict):
    """Bounds on the whole run."""

    max_model_calls: int | None = None
    max_model_failures: int | None = None
    min_model_calls: int | None = None
    max_automated: int | None = None
    max_executed: int | None = None
    pending_reviews: int | None = None
    min_conservation: float | None = None
    max_dead_letters: int | None = None
    dead_letters: int | None = None
    """Exactly this many rows refused (bad rows of an export)."""
    signals_stored: int | None = None


class FactExpectation(_Strict):
    account: str
    type: str | None = None
    subject_contains: str | None = None
    value_contains: str | None = None
    count: int | None = Field(None, ge=0)
    """Exactly this many current facts (default: at least one)."""


class StateExpectation(_Strict):
    """What memory holds at the end: an account's state, a contact's reachability, a deal's
    stage and outcome, an account's churn risk."""

    account: str | None = None
    customer_state: Literal["prospect", "customer", "churned"] | None = None
    contact: str | None = None
    do_not_contact: bool | None = None
    deal: str | None = None
    stage: str | None = None
    outcome: Literal["open", "won", "lost"] | None = None
    churn_risk: Literal["open", "addressed", "resolved", "none"] | None = None
    """The status of the account's newest churn risk (``none``: it never had one)."""


class BacktestExpectation(_Strict):
    """``revfield policy backtest`` of this scenario's answers against a candidate pack."""

    candidate: PackSpec
    max_automated_against_people: int | None = None
    min_automated_against_people: int | None = None


class Expectations(_Strict):
    actions: list[ActionExpectation] = []
    never: list[NeverExpectation] = []
    events: list[EventExpectation] = []
    no_events: list[EventExpectation] = []
    guardrails: list[GuardrailExpectation] = []
    handover: list[HandoverExpectation] = []
    outbox: list[OutboxExpectation] = []
    outbox_count: int | None = None
    """Exactly this many outbox items at the end, whatever their status."""
    facts: list[FactExpectation] = []
    no_facts: list[FactExpectation] = []
    memory: list[StateExpectation] = []
    metrics: Metrics = Metrics()
    backtest: BacktestExpectation | None = None


class Scenario(_Strict):
    """One recorded situation: memory, a timeline, the pack and model, expectations."""

    name: str
    situation: str
    """What happens, in the field's words."""
    source: str
    """Where the situation comes from (a seed essay, a data export)."""
    tags: list[str] = []
    start: AwareDatetime = DEFAULT_START
    pack: PackSpec = PackSpec()
    model: ModelSpec = ModelSpec()
    memory: MemorySeed = MemorySeed()
    timeline: list[Step] = Field(min_length=1)
    expect: Expectations

    path: Path | None = Field(None, exclude=True)
    """The file it was read from (set by :func:`load_scenario`)."""

    def relative(self, name: str) -> Path:
        """A file named in the scenario, relative to the scenario's folder."""
        base = self.path.parent if self.path else Path.cwd()
        return (base / name).resolve()


class ScenarioError(RevfieldError):
    """A scenario file that can't be used: every problem with file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _position(doc: Located, loc: tuple[Any, ...], file: str, *, key: bool = False) -> Pos:
    """Where ``loc`` is in the file: its key (``key``: an unknown field), else its value, else
    the nearest enclosing value."""
    if key and loc in doc.keys:
        return doc.keys[loc]
    for n in range(len(loc), -1, -1):
        if loc[:n] in doc.values:
            return doc.values[loc[:n]]
    return Pos(file, 1, 1)


def _problems(doc: Located, exc: ValidationError, file: str) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        where = ".".join(str(p) for p in loc) or "(top)"
        message = err["msg"].removeprefix("Value error, ")
        key = err["type"] == "extra_forbidden"
        if key:
            message = f"unknown field `{loc[-1]}`" + did_you_mean(
                str(loc[-1]), _fields_at(loc[:-1])
            )
        elif err["type"] == "missing":
            message = "required field is missing"
        out.append(f"{_position(doc, loc, file, key=key)}: {where}: {message}")
    return out


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if model is None:
            return []
    names = list(getattr(model, "model_fields", {}))
    return [n.rstrip("_") for n in names if n != "path"]


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; raises :class:`ScenarioError` naming each
    problem's file, line and field."""
    file = str(path)
    try:
        doc = read_yaml(path, file)
    except YamlError as exc:
        raise ScenarioError([str(exc)]) from None
    except OSError as exc:
        raise ScenarioError([f"{file}: cannot read: {exc.strerror or exc}"]) from None
    data = doc.data
    if not isinstance(data, dict):
        raise ScenarioError([f"{file}:1:1: a scenario is a mapping (name, situation, …)"])
    data = {"name": path.stem, **data}
    fixture = (
        (data.get("memory") or {}).get("fixture") if isinstance(data.get("memory"), dict) else None
    )
    if isinstance(fixture, str):
        data["memory"] = _with_fixture(path.parent / fixture, data["memory"], doc, file)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems(doc, exc, file)) from None
    return scenario.model_copy(update={"path": path.resolve()})


def _with_fixture(fixture: Path, memory: dict[str, Any], doc: Located, file: str) -> dict[str, Any]:
    """The memory section with the fixture's lists first."""
    pos = doc.values.get(("memory", "fixture"), Pos(file, 1, 1))
    try:
        shared = read_yaml(fixture, str(fixture))
    except YamlError as exc:
        raise ScenarioError([f"{pos}: memory.fixture: {exc}"]) from None
    except OSError as exc:
        raise ScenarioError(
            [f"{pos}: memory.fixture: cannot read {fixture}: {exc.strerror or exc}"]
        ) from None
    if not isinstance(shared.data, dict):
        raise ScenarioError([f"{fixture}:1:1: a memory fixture is a mapping of lists"])
    try:
        MemorySeed.model_validate(shared.data)
    except ValidationError as exc:
        raise ScenarioError(_problems(shared, exc, str(fixture))) from None
    merged = dict(memory)
    for key, rows in shared.data.items():
        if key != "fixture":
            merged[key] = list(rows or []) + list(memory.get(key) or [])
    return merged


def load_scenarios(paths: list[Path]) -> list[Scenario]:
    """Every scenario in ``paths`` (files, or folders of ``*.yaml``), sorted by name; all
    problems of all files are raised together."""
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
    problems: list[str] = []
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for f in files:
        try:
            s = load_scenario(f)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        if s.name in seen:
            problems.append(f"{f}:1:1: name `{s.name}` is also the name of {seen[s.name]}")
        seen.setdefault(s.name, f)
        scenarios.append(s)
    if problems:
        raise ScenarioError(problems)
    return sorted(scenarios, key=lambda s: s.name)
