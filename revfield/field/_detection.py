"""Running detection over pending signals: the wiring around the pure rules and the text
graph (memory → detect → route → memory).

Per batch: read pending signals with the history the rules need (read-only), run the rules in
bulk and the text graph for text signals (model calls happen here, outside any write
transaction, through a recorder built for the run), then in one transaction claim the signals,
store facts, field events (each routed to its agent) and the memory effects, and record the
model calls. A signal is claimed once, so re-running, or two workers at once, never applies it
twice. After the signals: renewals coming up, inactivity and governance deviations, as of the
clock's now.

An event no installed agent handles for the account falls back to the general kind it refines
(a ``pricing_objection`` with the deal desk turned off, or from a churned account, is raised
as an ``objection``): a refinement never loses an event an agent used to act on.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from revfield.agents import build_router, discover_agents
from revfield.clock import Clock, days_before
from revfield.detect import (
    TEXT_KINDS,
    History,
    build_text_graph,
    deduplicate,
    detect_inactivity,
    detect_renewals,
    detect_structured,
)
from revfield.domain import (
    CustomerState,
    Detected,
    EventStatus,
    FactDraft,
    FactType,
    FieldEventKind,
    is_churn_risk,
)
from revfield.llm import Model, Recorder
from revfield.memory import (
    AccountSnap,
    NewFact,
    NewFieldEvent,
    Session,
    SignalSnap,
    Store,
    account_snaps,
    add_facts,
    add_field_events,
    apply_effects,
    champion_contacts,
    claim_signals,
    count_undetected,
    current_subscriptions,
    customer_states,
    last_raised,
    last_usage_of_customers,
    lock_buckets,
    note_detections,
    record_model_calls,
    signal_series,
    undetected_signals,
)
from revfield.policies import CompiledPack, governance_report
from revfield.route import Router

__all__ = ["DetectionReport", "Detector", "pending_signals", "run_detection"]

RULE_KINDS = frozenset(
    {
        "intent_surge",
        "product_usage",
        "seat_change",
        "support_ticket",
        "nps_response",
        "cancellation",
        "subscription_change",
        "contact_change",
        "crm_stage_change",
        "meeting_booked",
    }
)
"""Signal kinds a structured rule reads the payload of (other payloads are not decoded)."""
FALLBACK = {FieldEventKind.PRICING_OBJECTION: FieldEventKind.OBJECTION}
"""A refined event kind → the kind it refines, raised instead when no agent handles it."""


@dataclass
class DetectionReport:
    """What :func:`run_detection` found: signals read, facts written, field events raised by
    kind and where they were routed, and what the model cost."""

    signals: int = 0
    """Pending signals claimed and read (each is detected once)."""
    text_signals: int = 0
    """Of those, the ones whose free text the model read."""
    facts: int = 0
    """Facts written, with their provenance."""
    events: Counter[str] = field(default_factory=Counter)
    """Field events raised, by kind."""
    routed: Counter[str] = field(default_factory=Counter)
    """Field events by the agent they were routed to (``none``: no agent acts)."""
    duplicates: int = 0
    """Situations not raised again because they were raised within the cooldown."""
    model_calls: int = 0
    model_faults: int = 0
    """Text signals the model failed on; each raised a ``model_fault`` event for a person."""
    tokens: int = 0
    """Prompt and completion tokens of every model call."""
    effects: Counter[str] = field(default_factory=Counter)
    """Changes to the memory itself, by kind (a contact marked do-not-contact, an account
    become customer, a deal closed)."""
    seconds: float = 0.0
    last_id: int = 0
    """The newest signal id read: a later call may go on after it (``start_after``)."""

    @property
    def rate(self) -> float:
        """Signals per second."""
        return self.signals / self.seconds if self.seconds else 0.0

    @property
    def event_count(self) -> int:
        return sum(self.events.values())


def pending_signals(store: Store) -> int:
    """How many signals have not been through detection yet."""
    with store.read() as session:
        return count_undetected(session)


def run_detection(
    store: Store,
    pack: CompiledPack,
    model: Model,
    clock: Clock,
    *,
    batch_size: int = 5000,
    limit: int | None = None,
    governance: bool = True,
    on_progress: Callable[[int], None] | None = None,
    router: Router | None = None,
) -> DetectionReport:
    """Detect field events in every pending signal (at most ``limit``), then renewals coming
    up and (``governance``) inactivity and governance deviations, and route each to its agent
    (``router``: the installed agents the pack leaves on, by default). Returns what was
    found. (A worker uses a :class:`Detector`, one bucket of accounts at a time.)"""
    if router is None:
        router = build_router(discover_agents(), pack.agent_enabled)
    runner = _Runner(store, pack, model, clock, DetectionReport(), router)
    return _drive(
        runner,
        batch_size=batch_size,
        limit=limit,
        on_progress=on_progress,
        governance=governance,
    )


class Detector:
    """Detection kept ready between calls (its text graph built once), for a worker that
    detects one batch of one bucket at a time."""

    def __init__(
        self,
        store: Store,
        pack: CompiledPack,
        model: Model,
        clock: Clock,
        *,
        router: Router | None = None,
    ) -> None:
        self.pack = pack
        if router is None:
            router = build_router(discover_agents(), pack.agent_enabled)
        self._runner = _Runner(store, pack, model, clock, DetectionReport(), router)

    def detect(
        self, *, batch_size: int, bucket: int | None = None, start_after: int = 0
    ) -> DetectionReport:
        """One batch of pending signals (of ``bucket``, after signal ``start_after``)."""
        return _drive(
            self._runner,
            batch_size=batch_size,
            limit=batch_size,
            bucket=bucket,
            start_after=start_after,
            account_level=False,
        )


def _drive(
    runner: _Runner,
    *,
    batch_size: int,
    limit: int | None,
    bucket: int | None = None,
    start_after: int = 0,
    account_level: bool = True,
    governance: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> DetectionReport:
    report = runner.report = DetectionReport()
    started = time.perf_counter()
    runner.bucket, runner.after = bucket, start_after
    while limit is None or report.signals < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.signals)
        done = runner.batch(size)
        if not done:
            break
        if on_progress:
            on_progress(report.signals)
    report.last_id = runner.after
    if account_level:
        runner.account_level(governance=governance)
    report.seconds = time.perf_counter() - started
    return report


class _Runner:
    def __init__(
        self,
        store: Store,
        pack: CompiledPack,
        model: Model,
        clock: Clock,
        report: DetectionReport,
        router: Router,
        *,
        bucket: int | None = None,
    ) -> None:
        self.store, self.pack, self.clock, self.report = store, pack, clock, report
        self.bucket = bucket
        self.router = router
        self.spec = pack.detection
        self.model = Recorder(model)
        self.graph = build_text_graph(self.model, self.spec)
        self.after = 0
        """Within one run, continue after the last signal read instead of rescanning every
        processed signal from the start (a later run starts over and catches signals that
        committed late with lower ids)."""

    # -- one batch ----------------------------------------------------------------------------

    def batch(self, size: int) -> int:
        with self.store.read() as session:
            snaps, unattributed = undetected_signals(
                session,
                after=self.after,
                size=size,
                payload_kinds=RULE_KINDS,
                bucket=self.bucket,
            )
            if not snaps and not unattributed:
                return 0
            self.after = max([s.id for s in snaps] + unattributed)
            accounts = account_snaps(session, {s.account_id for s in snaps})
            history = self._history(session, snaps, accounts)
        found = detect_structured(snaps, accounts, history, self.spec)
        found += self._read_texts(snaps)
        with self.store.session() as session:
            now = self.clock.now()
            claimed = claim_signals(session, [s.id for s in snaps] + unattributed, now)
            mine = [d for d in found if not d.signal_ids or d.signal_ids[0] in claimed]
            self._write(session, mine, claimed, now)
        self.report.signals += len(claimed)
        return len(snaps) + len(unattributed)

    def _history(
        self, session: Session, snaps: Sequence[SignalSnap], accounts: dict[str, AccountSnap]
    ) -> History:
        """Only what the rules will read: ticket and usage series for the accounts that have
        such a signal in this batch (usage only where the plan has a limit), and champions
        for accounts where a contact changed."""
        history = History()
        limits = self.spec.usage_near_limit.plan_limits
        wanted: dict[str, tuple[int, dict[str, Any], str | None, set[str]]] = {
            "support_ticket": (self.spec.ticket_cluster.window_days, history.tickets, None, set()),
            "product_usage": (
                self.spec.usage_near_limit.window_days,
                history.usage,
                "count",
                set(),
            ),
        }
        first: dict[str, datetime] = {}
        last: dict[str, datetime] = {}
        changed: set[str] = set()
        for s in snaps:
            if s.kind in wanted and (
                s.kind != "product_usage"
                or (accounts.get(s.account_id) and limits.get(accounts[s.account_id].plan or ""))
            ):
                wanted[s.kind][3].add(s.account_id)
                first[s.kind] = min(first.get(s.kind, s.occurred_at), s.occurred_at)
                last[s.kind] = max(last.get(s.kind, s.occurred_at), s.occurred_at)
            elif s.kind == "contact_change":
                changed.add(s.account_id)
        for kind, (window, target, amount, ids) in wanted.items():
            if not ids:
                continue
            series = signal_series(
                session,
                kind,
                ids,
                since=days_before(first[kind], window),
                until=last[kind],
                amount=amount,
            )
            for account_id, items in series.items():
                target[account_id] = History.series(items)
        if changed:
            history.champions.update(champion_contacts(session, changed))
        return history

    def _read_texts(self, snaps: Sequence[SignalSnap]) -> list[Detected]:
        found: list[Detected] = []
        for s in snaps:
            if not s.text or s.kind not in TEXT_KINDS:
                continue
            with self.model.about(signal_id=s.id, account_id=s.account_id):
                state = self.graph.invoke(
                    {
                        "signal_id": s.id,
                        "kind": s.kind,
                        "text": s.text,
                        "account_id": s.account_id,
                        "contact_id": s.contact_id,
                        "occurred_at": s.occurred_at,
                    }
                )
            self.report.text_signals += 1
            found.extend(state.get("detected", []))
        return found

    # -- writing ------------------------------------------------------------------------------

    def _write(
        self, session: Session, found: list[Detected], claimed: set[int], now: datetime
    ) -> None:
        # one writer per bucket of accounts at a time: the cooldown read below sees every
        # event an earlier writer raised for these accounts (PostgreSQL; SQLite has one writer)
        lock_buckets(session, {d.account_id for d in found})
        kept = self._deduplicate(session, found)
        effects = [e for d in kept for e in d.effects]
        apply_effects(session, effects, now)
        self.report.effects.update(e.kind for e in effects)
        states = customer_states(
            session,
            {d.account_id for d in kept if d.kind is not None or any(map(_churn, d.facts))},
        )
        per_signal: dict[int, Counter[str]] = defaultdict(Counter)
        events: list[NewFieldEvent] = []
        new_facts: list[NewFact] = []
        for d in kept:
            trigger = d.signal_ids[0] if d.signal_ids else None
            state = states.get(d.account_id, CustomerState.PROSPECT)
            for fact in d.facts:
                if _churn(fact) and state != CustomerState.CUSTOMER:
                    continue  # only a customer can churn: a prospect's "too expensive" is its
                    # objection (recorded beside it), not a retention risk
                new_facts.append(
                    NewFact(
                        d.account_id,
                        fact.type,
                        fact.value,
                        fact.source_signal_id,
                        fact.confidence,
                        fact.observed_at,
                        fact.subject,
                        fact.span,
                        fact.contact_id,
                    )
                )
                if trigger is not None:
                    per_signal[trigger]["facts"] += 1
            if d.kind is None:
                continue
            kind = d.kind
            agent = self.router.route(kind, state)
            if agent is None and kind in FALLBACK:
                kind = FALLBACK[kind]
                agent = self.router.route(kind, state)
            events.append(
                NewFieldEvent(
                    account_id=d.account_id,
                    kind=kind.value,
                    key=d.key,
                    signal_ids=d.signal_ids,
                    detail=d.detail,
                    data=dict(d.data),
                    occurred_at=d.occurred_at,
                    detected_at=now,
                    agent=agent,
                    status=EventStatus.PENDING if agent else EventStatus.IGNORED,
                    contact_id=d.contact_id,
                    deal_id=d.deal_id,
                )
            )
            self.report.events[kind.value] += 1
            self.report.routed[agent or "none"] += 1
            if trigger is not None:
                per_signal[trigger]["events"] += 1
                if kind is FieldEventKind.MODEL_FAULT:
                    per_signal[trigger]["fault"] = 1
                    self.report.model_faults += 1
        add_facts(session, new_facts, now=now)
        self.report.facts += len(new_facts)
        add_field_events(session, events)
        note_detections(
            session,
            [
                (sid, c["facts"], c["events"], "model fault" if c["fault"] else None)
                for sid, c in per_signal.items()
                if sid in claimed
            ],
        )
        calls = self.model.drain()
        record_model_calls(session, calls, now)
        self.report.model_calls += len(calls)
        self.report.tokens += sum(
            c.record.prompt_tokens + c.record.completion_tokens for c in calls
        )

    def _deduplicate(self, session: Session, found: list[Detected]) -> list[Detected]:
        raised = [d for d in found if d.kind is not None]
        last_seen = (
            last_raised(
                session, {d.account_id for d in raised}, {d.kind.value for d in raised if d.kind}
            )
            if raised
            else {}
        )
        kept = deduplicate(found, last_seen, self.spec.cooldown_days)
        self.report.duplicates += len(raised) - sum(1 for d in kept if d.kind is not None)
        return kept

    # -- after the signals: account-level situations --------------------------------------------

    def account_level(self, *, governance: bool = True) -> None:
        """Situations of accounts rather than of one signal, as of now: renewals coming up
        (every run: one query, and a churn risk the signals just opened counts), then with
        ``governance`` inactivity and governance deviations."""
        now = self.clock.now()
        with self.store.read() as session:
            found = detect_renewals(current_subscriptions(session, now), now, self.spec)
            if governance:
                lookback = now - timedelta(days=self.spec.inactivity.lookback_days)
                last_usage = last_usage_of_customers(session, lookback)
                accounts = account_snaps(session, last_usage)
                found += detect_inactivity(last_usage, accounts, now, self.spec)
            if governance and (self.pack.stages or self.pack.icp):
                found += governance_report(session, self.pack, now).field_events()
        if found:
            with self.store.session() as session:
                self._write(session, found, set(), now)


def _churn(fact: FactDraft) -> bool:
    return fact.type is FactType.RISK and is_churn_risk(fact.subject)
