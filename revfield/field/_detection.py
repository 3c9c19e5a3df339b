"""Running detection over pending signals: the I/O around the pure rules and the text graph.

Per batch: read pending signals with the history the rules need (read-only), run the rules in
bulk and the text graph for text signals (model calls happen here, outside any write
transaction), then in one transaction claim the signals, store facts, field events (each
routed to its agent) and the memory effects, and record the model calls. A signal is claimed
once (``signal_detections``), so re-running, or two workers at once, never applies it twice.
After the signals: inactivity and governance deviations, as of the clock's now.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.clock import Clock
from revfield.detect._rules import (
    AccountSnap,
    History,
    SignalSnap,
    deduplicate,
    detect_inactivity,
    detect_structured,
)
from revfield.detect._text import TEXT_KINDS, build_text_graph
from revfield.domain import (
    BecameCustomer,
    CustomerState,
    DealOutcome,
    Detected,
    DoNotContact,
    Effect,
    FactType,
    FieldEventKind,
)
from revfield.llm import CallRecord, Model
from revfield.memory._facts import NewFact, add_facts
from revfield.memory._sql import chunks, insert_ignore
from revfield.memory._store import Store
from revfield.memory._types import as_utc
from revfield.memory.models import (
    Account,
    Contact,
    Deal,
    Fact,
    FieldEvent,
    ModelCall,
    Signal,
    SignalDetection,
    table_of,
)
from revfield.policies._governance import governance_report
from revfield.policies._load import CompiledPack
from revfield.route import route

__all__ = ["DetectionReport", "pending_signals", "run_detection"]

S, D, A, C, F, E, M, DL = (
    table_of(m)
    for m in (Signal, SignalDetection, Account, Contact, Fact, FieldEvent, ModelCall, Deal)
)


@dataclass
class DetectionReport:
    signals: int = 0
    text_signals: int = 0
    facts: int = 0
    events: Counter[str] = field(default_factory=Counter)
    routed: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    """Situations not raised again because they were raised within the cooldown."""
    model_calls: int = 0
    model_faults: int = 0
    tokens: int = 0
    effects: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.signals / self.seconds if self.seconds else 0.0

    @property
    def event_count(self) -> int:
        return sum(self.events.values())


def pending_signals(store: Store) -> int:
    """How many signals have not been through detection yet."""
    with store.read() as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).select_from(S).where(~_detected())
            ).scalar_one()
        )


def _detected() -> sa.Exists:
    return sa.select(D.c.signal_id).where(D.c.signal_id == S.c.id).exists()


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
) -> DetectionReport:
    """Detect field events in every pending signal (at most ``limit``), then inactivity and
    governance deviations. Returns what was found."""
    report = DetectionReport()
    started = time.perf_counter()
    runner = _Runner(store, pack, model, clock, report)
    while limit is None or report.signals < limit:
        size = batch_size if limit is None else min(batch_size, limit - report.signals)
        done = runner.batch(size)
        if not done:
            break
        if on_progress:
            on_progress(report.signals)
    if governance:
        runner.account_level()
    report.seconds = time.perf_counter() - started
    return report


class _Runner:
    def __init__(
        self, store: Store, pack: CompiledPack, model: Model, clock: Clock, report: DetectionReport
    ) -> None:
        self.store, self.pack, self.model, self.clock, self.report = (
            store,
            pack,
            model,
            clock,
            report,
        )
        self.spec = pack.detection
        self.graph = build_text_graph(model)
        self.calls: list[tuple[CallRecord, int | None, str | None]] = []
        self.after = 0
        """Within one run, continue after the last signal read instead of rescanning every
        processed signal from the start (a later run starts over and catches signals that
        committed late with lower ids)."""
        self._current: tuple[int | None, str | None] = (None, None)
        model.on_call = lambda record: self.calls.append((record, *self._current))

    # -- one batch ----------------------------------------------------------------------------

    def batch(self, size: int) -> int:
        with self.store.read() as session:
            snaps, unattributed = self._pending(session, size)
            if not snaps and not unattributed:
                return 0
            account_ids = sorted({s.account_id for s in snaps})
            accounts = self._accounts(session, account_ids)
            history = self._history(session, snaps, accounts)
        found = detect_structured(snaps, accounts, history, self.spec)
        found += self._read_texts(snaps)
        with self.store.session() as session:
            now = self.clock.now()
            claimed = self._claim(session, [s.id for s in snaps] + unattributed, now)
            mine = [d for d in found if not d.signal_ids or d.signal_ids[0] in claimed]
            self._write(session, mine, claimed, now)
        self.report.signals += len(claimed)
        return len(snaps) + len(unattributed)

    def _pending(self, session: Session, size: int) -> tuple[list[SignalSnap], list[int]]:
        done = _detected()
        # payloads are decoded only for kinds a rule reads (most signals are visits and opens)
        sqlite = session.get_bind().dialect.name == "sqlite"
        payload = sa.type_coerce(S.c.payload, sa.Text) if sqlite else S.c.payload
        query = (
            sa.select(
                S.c.id,
                S.c.kind,
                S.c.account_id,
                S.c.contact_id,
                S.c.occurred_at,
                payload.label("payload"),
                S.c.text,
            )
            .where(S.c.id > self.after, ~done)
            .order_by(S.c.id)
            .limit(size)
        )
        rows = session.execute(query).all()
        if rows:
            self.after = rows[-1].id
        snaps = [
            SignalSnap(
                r.id,
                str(r.kind),
                r.account_id,
                r.contact_id,
                r.occurred_at,
                _payload(r.payload) if r.kind in RULE_KINDS else {},
                r.text,
            )
            for r in rows
            if r.account_id is not None
        ]
        return snaps, [r.id for r in rows if r.account_id is None]

    def _accounts(self, session: Session, ids: list[str]) -> dict[str, AccountSnap]:
        out = {}
        for part in chunks(ids, 2000):
            for r in session.execute(
                sa.select(A.c.id, A.c.customer_state, A.c.plan, A.c.seats).where(A.c.id.in_(part))
            ):
                out[r.id] = AccountSnap(r.id, str(r.customer_state), r.plan, r.seats)
        return out

    def _history(
        self, session: Session, snaps: Sequence[SignalSnap], accounts: dict[str, AccountSnap]
    ) -> History:
        """Only what the rules will read: ticket and usage series for the accounts that have
        such a signal in this batch (usage only where the plan has a limit), and champions
        for accounts where a contact changed."""
        history = History()
        limits = self.spec.usage_near_limit.plan_limits
        wanted: dict[str, tuple[int, dict[str, Any], set[str]]] = {
            "support_ticket": (self.spec.ticket_cluster.window_days, history.tickets, set()),
            "product_usage": (self.spec.usage_near_limit.window_days, history.usage, set()),
        }
        first: dict[str, datetime] = {}
        last: dict[str, datetime] = {}
        changed: set[str] = set()
        for s in snaps:
            if s.kind in wanted and (
                s.kind != "product_usage"
                or (accounts.get(s.account_id) and limits.get(accounts[s.account_id].plan or ""))
            ):
                wanted[s.kind][2].add(s.account_id)
                first[s.kind] = min(first.get(s.kind, s.occurred_at), s.occurred_at)
                last[s.kind] = max(last.get(s.kind, s.occurred_at), s.occurred_at)
            elif s.kind == "contact_change":
                changed.add(s.account_id)
        for kind, (window, target, ids) in wanted.items():
            if not ids:
                continue
            amount = (
                sa.literal(1.0)
                if kind == "support_ticket"
                else sa.func.coalesce(S.c.payload["count"].as_float(), 0.0)
            )
            rows: dict[str, list[tuple[datetime, int, float]]] = defaultdict(list)
            for part in chunks(sorted(ids), 1000):
                q = sa.select(S.c.account_id, S.c.occurred_at, S.c.id, amount).where(
                    S.c.account_id.in_(part),
                    S.c.kind == kind,
                    S.c.occurred_at >= first[kind] - timedelta(days=window),
                    S.c.occurred_at <= last[kind],
                )
                for account_id, when, sid, value in session.execute(q):
                    rows[account_id].append((when, sid, float(value or 0.0)))
            for account_id, items in rows.items():
                target[account_id] = History.series(items)
        if changed:
            q = sa.select(F.c.account_id, F.c.contact_id).where(
                F.c.account_id.in_(sorted(changed)),
                F.c.type == FactType.CHAMPION.value,
                F.c.superseded_by.is_(None),
                F.c.contact_id.is_not(None),
            )
            for row in session.execute(q):
                history.champions.setdefault(row.account_id, set()).add(int(row.contact_id))
        return history

    def _read_texts(self, snaps: Sequence[SignalSnap]) -> list[Detected]:
        found: list[Detected] = []
        for s in snaps:
            if not s.text or s.kind not in TEXT_KINDS:
                continue
            self._current = (s.id, s.account_id)
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
        self._current = (None, None)
        return found

    def _claim(self, session: Session, ids: list[int], now: datetime) -> set[int]:
        """Mark signals as detected; returns those this transaction claimed (another worker
        may have claimed some since they were read)."""
        claimed: set[int] = set()
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":  # the write lock is held: look, then insert the rest
            taken: set[int] = set()
            for part in chunks(sorted(ids), 1000):
                taken.update(
                    session.scalars(sa.select(D.c.signal_id).where(D.c.signal_id.in_(part)))
                )
            fresh = [i for i in sorted(ids) if i not in taken]
            stamp = (
                now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            )  # as SQLAlchemy stores it
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(
                "INSERT INTO signal_detections (signal_id, processed_at, facts, events) "
                "VALUES (?, ?, 0, 0)",
                [(i, stamp) for i in fresh],
            )
            return set(fresh)
        for part in chunks(sorted(ids), 1000):
            stmt = insert_ignore(dialect, D).returning(D.c.signal_id)
            rows = [
                {"signal_id": i, "processed_at": now, "facts": 0, "events": 0, "error": None}
                for i in part
            ]
            claimed.update(session.execute(stmt, rows).scalars())
        return claimed

    # -- writing ------------------------------------------------------------------------------

    def _write(
        self, session: Session, found: list[Detected], claimed: set[int], now: datetime
    ) -> None:
        kept = self._deduplicate(session, found)
        per_signal: dict[int, Counter[str]] = defaultdict(Counter)
        for d in kept:
            for effect in d.effects:
                self._apply(session, effect, now)
        states = self._states(session, {d.account_id for d in kept if d.kind is not None})
        events = []
        new_facts = []
        for d in kept:
            trigger = d.signal_ids[0] if d.signal_ids else None
            for fact in d.facts:
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
            agent = route(d.kind, states.get(d.account_id, CustomerState.PROSPECT))
            events.append(
                {
                    "account_id": d.account_id,
                    "kind": d.kind.value,
                    "key": d.key[:200],
                    "signal_ids": list(d.signal_ids),
                    "contact_id": d.contact_id,
                    "deal_id": d.deal_id,
                    "detail": d.detail,
                    "data": json_ready(d.data),
                    "occurred_at": d.occurred_at,
                    "detected_at": now,
                    "agent": agent.value if agent else None,
                    "status": "pending" if agent else "ignored",
                }
            )
            self.report.events[d.kind.value] += 1
            self.report.routed[agent.value if agent else "none"] += 1
            if trigger is not None:
                per_signal[trigger]["events"] += 1
                if d.kind is FieldEventKind.MODEL_FAULT:
                    per_signal[trigger]["fault"] = 1
                    self.report.model_faults += 1
        add_facts(session, new_facts, now=now)
        self.report.facts += len(new_facts)
        if events:
            self._existing_deals(session, events)
            session.execute(sa.insert(E), events)
        counts = [
            {
                "sid": sid,
                "facts": c["facts"],
                "events": c["events"],
                "error": "model fault" if c["fault"] else None,
            }
            for sid, c in per_signal.items()
            if sid in claimed
        ]
        if counts:
            session.execute(
                sa.update(D)
                .where(D.c.signal_id == sa.bindparam("sid"))
                .values(
                    facts=sa.bindparam("facts"),
                    events=sa.bindparam("events"),
                    error=sa.bindparam("error"),
                ),
                counts,
            )
        self._record_calls(session, now)

    def _existing_deals(self, session: Session, events: list[dict[str, Any]]) -> None:
        """A stage-change signal may name a deal the memory doesn't hold: keep the event, drop
        the link."""
        ids = {e["deal_id"] for e in events if e["deal_id"]}
        if not ids:
            return
        known = set(session.scalars(sa.select(DL.c.id).where(DL.c.id.in_(ids))))
        for e in events:
            if e["deal_id"] and e["deal_id"] not in known:
                e["data"] = {**e["data"], "deal_ref": e["deal_id"]}
                e["deal_id"] = None

    def _deduplicate(self, session: Session, found: list[Detected]) -> list[Detected]:
        keys = {(d.account_id, d.kind.value) for d in found if d.kind is not None}
        last_seen: dict[tuple[str, str, str], datetime] = {}
        if keys:
            accounts = sorted({a for a, _ in keys})
            kinds = sorted({k for _, k in keys})
            for part in chunks(accounts, 1000):
                q = (
                    sa.select(E.c.account_id, E.c.kind, E.c.key, sa.func.max(E.c.occurred_at))
                    .where(E.c.account_id.in_(part), E.c.kind.in_(kinds))
                    .group_by(E.c.account_id, E.c.kind, E.c.key)
                )
                for account_id, kind, key, last in session.execute(q):
                    last_seen[(account_id, kind, key)] = as_utc(last)
        before = sum(1 for d in found if d.kind is not None)
        kept = deduplicate(found, last_seen, self.spec.cooldown_days)
        self.report.duplicates += before - sum(1 for d in kept if d.kind is not None)
        return kept

    def _states(self, session: Session, ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in chunks(sorted(ids), 1000):
            out.update(
                {
                    i: str(s)
                    for i, s in session.execute(
                        sa.select(A.c.id, A.c.customer_state).where(A.c.id.in_(part))
                    )
                }
            )
        return out

    def _apply(self, session: Session, effect: Effect, now: datetime) -> None:
        if isinstance(effect, DoNotContact):
            session.execute(
                sa.update(C).where(C.c.id == effect.contact_id).values(do_not_contact=True)
            )
        elif isinstance(effect, BecameCustomer):
            session.execute(
                sa.update(A)
                .where(
                    A.c.id == effect.account_id, A.c.customer_state == CustomerState.PROSPECT.value
                )
                .values(customer_state=CustomerState.CUSTOMER.value, updated_at=now)
            )
        else:
            session.execute(
                sa.update(DL)
                .where(DL.c.id == effect.deal_id, DL.c.outcome == DealOutcome.OPEN.value)
                .values(
                    stage=effect.stage,
                    outcome=effect.outcome.value,
                    stage_entered_at=effect.at,
                    close_date=effect.at.date(),
                    updated_at=now,
                )
            )
        self.report.effects[effect.kind] += 1

    def _record_calls(self, session: Session, now: datetime) -> None:
        if not self.calls:
            return
        rows = [
            {
                "operation": r.operation,
                "backend": r.backend,
                "model": r.model,
                "ok": r.ok,
                "latency_ms": r.latency_ms,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "error": r.error or None,
                "signal_id": sid,
                "account_id": acc,
                "called_at": now,
            }
            for r, sid, acc in self.calls
        ]
        session.execute(sa.insert(M), rows)
        self.report.model_calls += len(rows)
        self.report.tokens += sum(r.prompt_tokens + r.completion_tokens for r, _, _ in self.calls)
        self.calls.clear()

    # -- after the signals: account-level situations --------------------------------------------

    def account_level(self) -> None:
        now = self.clock.now()
        with self.store.read() as session:
            lookback = now - timedelta(days=self.spec.inactivity.lookback_days)
            last_usage = {
                account_id: as_utc(last)
                for account_id, last in session.execute(
                    sa.select(S.c.account_id, sa.func.max(S.c.occurred_at))
                    .select_from(S.join(A, A.c.id == S.c.account_id))
                    .where(
                        S.c.kind == "product_usage",
                        A.c.customer_state == CustomerState.CUSTOMER.value,
                    )
                    .group_by(S.c.account_id)
                    .having(sa.func.max(S.c.occurred_at) >= lookback)
                )
            }
            accounts = self._accounts(session, sorted(last_usage))
            found = detect_inactivity(last_usage, accounts, now, self.spec)
            report = (
                governance_report(session, self.pack, now)
                if self.pack.stages or self.pack.icp
                else None
            )
        if report is not None:
            for dev in report.deviations:
                found.append(
                    Detected(
                        FieldEventKind.GOVERNANCE_DEVIATION,
                        dev.account_id,
                        f"{dev.rule}:{dev.deal_id}",
                        (),
                        now,
                        f"{dev.rule}: {dev.detail}",
                        deal_id=dev.deal_id,
                        data={
                            "rule": dev.rule,
                            "age_days": dev.age_days,
                            "owner_id": dev.owner_id,
                            "team_id": dev.team_id,
                        },
                    )
                )
        if found:
            with self.store.session() as session:
                self._write(session, found, set(), now)


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


def _payload(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        loaded = json.loads(raw)
        return loaded if isinstance(loaded, dict) else {}
    return raw if isinstance(raw, dict) else {}
