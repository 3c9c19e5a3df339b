"""The invariant checker run after every soak of many workers (and by ``revfield check``):
nothing lost, nothing doubled, no guardrail passed twice, every state change audited.

:func:`check_invariants` reads one consistent snapshot of the memory and :func:`judge`, pure
logic, holds it against seven invariants, each with a stable id:

``signal-once``
    every signal the feeder had accepted is stored exactly once (``(source, external id)``
    is its key), no key is stored twice, and — once the workers are drained — every stored
    signal went through detection exactly once.
``event-once``
    every field event an agent acts on was run once: drained, none is left ``pending`` or
    ``running``; no two actions share (field event, agent, kind, target), no action was
    proposed twice, and no action was decided more often than once plus once per edit.
``executed-once``
    an action reached the outbox only when automated or approved, with exactly one outbox
    item whose state agrees with the action's; an item is ``waiting`` exactly while the
    action its action waits for is not executed (and still may be), and is never claimed or
    sent before; drained, every item ended ``sent``, ``failed``, ``cancelled`` or ``waiting``
    (for an action still in review); with ``effects`` (what
    the receiver applied, per idempotency key) every sent item was applied exactly once, and
    nothing was applied that the outbox did not send.
``answered-once``
    every review item is answered at most once, and an action answered on one rung of the
    ladder is not answered again on another.
``fatigue-cap``
    no contact (and no account) got more automated touches in the pack's window than its cap:
    see :func:`_capped` for how this is counted so that a single-process run always passes.
``motion-budget``
    automated decisions per motion per day (UTC, as the guardrail counts them) stay within the
    pack's ``motion_budgets``, and each took a slot of the day's counter (the counter is at
    least the day's automated decisions).
``audit-complete``
    every state change has its audit entry: ``proposed``, ``queued``, ``executed``,
    ``blocked``, ``cancelled``, ``delivery_failed``, ``review_opened``, the answer
    (``review_approved``/``rejected``/``blocked``) and every climb of the ladder
    (``escalated``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from revfield.domain import ActionStatus, OutboxStatus, ReviewStatus, Verdict
from revfield.memory import (
    CALLER,
    CheckedAction,
    CheckedAudit,
    CheckedDecision,
    CheckedEvent,
    CheckedOutbox,
    CheckedReview,
    CheckedSignals,
    CheckedTouch,
    Session,
    Store,
    checked_actions,
    checked_audit,
    checked_budgets,
    checked_consistently,
    checked_decisions,
    checked_events,
    checked_keys,
    checked_outbox,
    checked_reviews,
    checked_signals,
    checked_touches,
)
from revfield.policies import CompiledPack

__all__ = [
    "INVARIANTS",
    "InvariantReport",
    "Snapshot",
    "Violation",
    "check_invariants",
    "judge",
    "read_snapshot",
]

INVARIANTS = (
    "signal-once",
    "event-once",
    "executed-once",
    "answered-once",
    "fatigue-cap",
    "motion-budget",
    "audit-complete",
)
"""The invariants' stable ids, in the order they are reported."""

SAMPLE = 10
"""A message lists at most this many ids of one problem, then how many more."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant, with a message naming the rows (ids, account, contact, counts)."""

    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}"


@dataclass
class InvariantReport:
    """What the checker found: the violations, how much each invariant checked, and the
    counts a soak's note gives (signals, events, runs, actions, executions …)."""

    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVARIANTS, 0))
    """Invariant id → how many rows (signals, events, actions, items …) it looked at, every
    invariant in report order."""

    @property
    def ok(self) -> bool:
        """Whether no invariant is broken."""
        return not self.violations

    def of(self, invariant: str) -> list[Violation]:
        """The violations of one invariant."""
        return [v for v in self.violations if v.invariant == invariant]


@dataclass(frozen=True)
class Snapshot:
    """Everything the invariants are judged on, read in one consistent snapshot."""

    signals: CheckedSignals
    events: Sequence[CheckedEvent]
    actions: Sequence[CheckedAction]
    decisions: Sequence[CheckedDecision]
    outbox: Sequence[CheckedOutbox]
    reviews: Sequence[CheckedReview]
    audit: Sequence[CheckedAudit]
    touches: Sequence[CheckedTouch]
    """Signals of the kinds the pack's fatigue and account caps count."""
    accepted: Mapping[tuple[str, str], int] | None = None
    """Rows stored per key the feeder accepted (a key not stored: 0), when keys were given."""
    budgets: Mapping[tuple[str, date], int] = field(default_factory=dict)
    """Slots taken of each motion's daily budget: ``(motion, day) → spent``."""


def check_invariants(
    store: Store,
    pack: CompiledPack,
    *,
    effects: Mapping[str, int] | None = None,
    accepted: Iterable[tuple[str, str]] | None = None,
    drained: bool = True,
    signal_grace: timedelta = timedelta(0),
) -> InvariantReport:
    """Check every invariant over what ``store`` holds, for the guardrails of ``pack``.

    ``effects``: idempotency key → how many times the receiver applied it (omit when the
    receiver's effects aren't known). ``accepted``: the ``(source, external id)`` keys the
    feeder was told were accepted. ``drained``: the workers finished everything there was to
    do (False skips the checks that need it, for a check while work is still under way).
    ``signal_grace``: a touch signal counts against a cap only if it arrived this long before
    the decision (for workers that decide while signals are still being ingested, whose
    transactions may not have committed yet)."""
    with store.read() as session:
        snap = read_snapshot(session, pack, accepted)
    return judge(snap, pack, effects=effects, drained=drained, grace=signal_grace)


def read_snapshot(
    session: Session, pack: CompiledPack, accepted: Iterable[tuple[str, str]] | None = None
) -> Snapshot:
    """Read a :class:`Snapshot` in ``session`` (a fresh memory session: no read before),
    with the touch signals of the kinds ``pack``'s caps count."""
    checked_consistently(session)
    kinds = {k for _, cap in _caps(pack) for k in cap.signal_kinds}
    keys = None if accepted is None else set(accepted)
    found = None if keys is None else checked_keys(session, keys)
    return Snapshot(
        signals=checked_signals(session),
        events=checked_events(session),
        actions=checked_actions(session),
        decisions=checked_decisions(session),
        outbox=checked_outbox(session),
        reviews=checked_reviews(session),
        audit=checked_audit(session),
        touches=checked_touches(session, kinds),
        accepted=None if keys is None or found is None else {k: found.get(k, 0) for k in keys},
        budgets=checked_budgets(session),
    )


class _Cap(Protocol):
    """A touch cap of the pack's guardrails (contact fatigue, or the account cap)."""

    @property
    def max_touches(self) -> int: ...
    @property
    def window_days(self) -> int: ...
    @property
    def action_kinds(self) -> list[str]: ...
    @property
    def signal_kinds(self) -> list[str]: ...
    @property
    def at_least(self) -> str: ...


def _caps(pack: CompiledPack) -> list[tuple[bool, _Cap]]:
    """``(per contact, cap)`` of the touch caps that can hold an automated action back
    (``at_least: auto`` can't)."""
    g = pack.guardrails
    return [
        (per_contact, cap)
        for per_contact, cap in ((True, g.contact_fatigue), (False, g.account_cap))
        if cap is not None and Verdict.parse(cap.at_least) > Verdict.AUTO
    ]


def _ids(ids: Iterable[object], total: int | None = None) -> str:
    """``#1, #2, … (+N more)``: the first ids of ``total`` (default: as many as given)."""
    items = list(ids)
    total = len(items) if total is None else total
    shown = ", ".join(f"#{i}" for i in items[:SAMPLE])
    return shown + (f" (+{total - SAMPLE} more)" if total > SAMPLE else "")


class _Index:
    """The snapshot's rows by the keys the checks look them up by."""

    def __init__(self, snap: Snapshot) -> None:
        self.actions = {a.id: a for a in snap.actions}
        self.outbox_of: dict[int, list[CheckedOutbox]] = defaultdict(list)
        for item in snap.outbox:
            self.outbox_of[item.action_id].append(item)
        self.outbox_by_key = {item.idempotency_key: item for item in snap.outbox}
        self.decisions_of: dict[int, list[CheckedDecision]] = defaultdict(list)
        for d in snap.decisions:
            if d.action_id is not None:
                self.decisions_of[d.action_id].append(d)
        self.first = {a: ds[0] for a, ds in self.decisions_of.items()}
        self.audit_of: dict[int, Counter[str]] = defaultdict(Counter)
        self.review_audit: dict[int, Counter[str]] = defaultdict(Counter)
        self.climbed_from: set[int] = set()
        for e in snap.audit:
            if e.action_id is not None:
                self.audit_of[e.action_id][e.event] += 1
            if e.review_id is not None:
                self.review_audit[e.review_id][e.event] += 1
            if e.event == "escalated" and e.from_review is not None:
                self.climbed_from.add(e.from_review)
        self.reviews_of: dict[int, list[CheckedReview]] = defaultdict(list)
        for r in snap.reviews:
            self.reviews_of[r.action_id].append(r)

    def automated(self, action_id: int) -> bool:
        """Whether the action's first decision was ``auto``."""
        first = self.first.get(action_id)
        return first is not None and first.verdict == Verdict.AUTO.label


def judge(
    snap: Snapshot,
    pack: CompiledPack,
    *,
    effects: Mapping[str, int] | None = None,
    drained: bool = True,
    grace: timedelta = timedelta(0),
) -> InvariantReport:
    """Hold ``snap`` against every invariant, with the guardrails of ``pack`` (pure: no
    database)."""
    report = InvariantReport()
    idx = _Index(snap)
    _signal_once(snap, drained, report)
    _event_once(snap, idx, drained, report)
    _executed_once(snap, idx, effects, drained, report)
    _answered_once(snap, idx, report)
    _fatigue_cap(snap, idx, pack, grace, report)
    _motion_budget(snap, pack, report)
    _audit_complete(snap, idx, report)
    report.counts = _counts(snap, idx, effects)
    return report


def _add(report: InvariantReport, invariant: str, message: str) -> None:
    report.violations.append(Violation(invariant, message))


# -- signal-once ---------------------------------------------------------------------------


def _signal_once(snap: Snapshot, drained: bool, report: InvariantReport) -> None:
    inv = "signal-once"
    t = snap.signals
    report.checked[inv] = t.stored + len(snap.accepted or {})
    for (source, external_id), n in sorted((snap.accepted or {}).items()):
        if n == 0:
            _add(report, inv, f"signal ({source}, {external_id}) was accepted but is not stored")
        elif n > 1:
            _add(report, inv, f"signal ({source}, {external_id}) was accepted once, stored {n}×")
    for source, external_id, n in t.shared_keys:
        _add(report, inv, f"{n} stored signals share the key ({source}, {external_id})")
    for signal_id, n in t.multi_detected:
        _add(report, inv, f"signal #{signal_id} went through detection {n} times")
    if drained and t.undetected:
        _add(
            report,
            inv,
            f"{t.undetected} stored signal(s) never went through detection: "
            f"{_ids(t.undetected_ids, t.undetected)}",
        )


# -- event-once ----------------------------------------------------------------------------


def _event_once(snap: Snapshot, idx: _Index, drained: bool, report: InvariantReport) -> None:
    inv = "event-once"
    runs = [e for e in snap.events if e.agent is not None]
    report.checked[inv] = len(runs)
    if drained:
        waits = {a.field_event_id for a in snap.actions if a.status == ActionStatus.PENDING_REVIEW}
        for e in runs:
            what = f"field event #{e.id} ({e.kind} at {e.account_id}, agent {e.agent})"
            if e.status in ("pending", "running"):
                _add(report, inv, f"{what} was left {e.status}: its run never finished")
            elif e.status == "waiting" and e.id not in waits:
                _add(
                    report, inv, f"{what} is waiting though none of its actions waits for a person"
                )
    same: dict[tuple[int, str, str, str], list[int]] = defaultdict(list)
    for a in snap.actions:
        if a.field_event_id is not None:
            same[(a.field_event_id, a.agent, a.kind, a.target)].append(a.id)
    for (event_id, agent, kind, target), ids in sorted(same.items()):
        if len(ids) > 1:
            _add(
                report,
                inv,
                f"field event #{event_id}: agent {agent} proposed {kind} to {target} "
                f"{len(ids)} times (actions {_ids(ids)})",
            )
    for a in snap.actions:
        proposed = idx.audit_of[a.id]["proposed"]
        if proposed > 1:
            _add(report, inv, f"action #{a.id} ({a.kind} at {a.account_id}) proposed {proposed}×")
        decided = len(idx.decisions_of.get(a.id, ()))
        edits = idx.audit_of[a.id]["action_edited"]
        if decided > 1 + edits:
            _add(
                report,
                inv,
                f"action #{a.id} ({a.kind} at {a.account_id}) decided {decided} times with "
                f"{edits} edit(s): decisions "
                f"{_ids(d.id for d in idx.decisions_of[a.id])}",
            )


# -- executed-once -------------------------------------------------------------------------

_OUT = {ActionStatus.QUEUED.value, ActionStatus.EXECUTED.value, ActionStatus.FAILED.value}
"""Action statuses that need an outbox item."""
_AGREE = {
    OutboxStatus.WAITING.value: {ActionStatus.QUEUED.value},
    OutboxStatus.PENDING.value: {ActionStatus.QUEUED.value},
    OutboxStatus.SENDING.value: {ActionStatus.QUEUED.value},
    OutboxStatus.SENT.value: {ActionStatus.EXECUTED.value},
    OutboxStatus.FAILED.value: {ActionStatus.FAILED.value},
    OutboxStatus.CANCELLED.value: {ActionStatus.CANCELLED.value},
}
"""Outbox item status → the action statuses that agree with it."""
_MAY_GO = {ActionStatus.PENDING_REVIEW.value, ActionStatus.APPROVED.value}
"""Statuses of an action still waiting for a person: what waits for it may wait too."""
_MAY_WAIT = {*_MAY_GO, ActionStatus.QUEUED.value}
"""Statuses of an action that may yet be executed: an item waiting for it waits rightly."""
_AFTER = {OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.SENT.value}
"""Item statuses reached only once the action its action waits for was executed."""


def _executed_once(
    snap: Snapshot,
    idx: _Index,
    effects: Mapping[str, int] | None,
    drained: bool,
    report: InvariantReport,
) -> None:
    inv = "executed-once"
    report.checked[inv] = len(snap.outbox)
    for a in snap.actions:
        items = idx.outbox_of.get(a.id, [])
        if len(items) > 1:
            _add(
                report,
                inv,
                f"action #{a.id} ({a.kind} at {a.account_id}) has {len(items)} outbox items: "
                f"{_ids(i.id for i in items)}",
            )
        elif not items and a.status in _OUT:
            _add(
                report,
                inv,
                f"action #{a.id} ({a.kind} at {a.account_id}) is {a.status} but has no outbox item",
            )
    for item in snap.outbox:
        action = idx.actions.get(item.action_id)
        if action is None:
            _add(report, inv, f"outbox item #{item.id} names action #{item.action_id}, not stored")
            continue
        what = f"outbox item #{item.id} (action #{action.id}, {action.kind} at {action.account_id})"
        approved = any(r.status == ReviewStatus.APPROVED for r in idx.reviews_of[action.id])
        if not idx.automated(action.id) and not approved:
            verdict = idx.first[action.id].verdict if action.id in idx.first else "none"
            _add(
                report,
                inv,
                f"{what}: queued though neither automated nor approved (first verdict {verdict})",
            )
        if action.status not in _AGREE.get(item.status, set()):
            _add(report, inv, f"{what} is {item.status} while its action is {action.status}")
        _waited_rightly(item, action, idx, what, report)
        left = item.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
        if drained and left and item.executor != CALLER:
            _add(report, inv, f"{what} was left {item.status} after {item.attempts} attempt(s)")
    if effects is None:
        return
    for key, n in sorted(effects.items()):
        if n <= 0:
            continue
        found = idx.outbox_by_key.get(key)
        if found is None:
            _add(report, inv, f"the receiver applied key {key} {n}× but no outbox item has it")
            continue
        what = f"key {key} (outbox item #{found.id}, action #{found.action_id})"
        if n > 1:
            _add(report, inv, f"{what} was applied {n} times by the receiver")
        if found.status != OutboxStatus.SENT and (drained or found.status != OutboxStatus.SENDING):
            _add(report, inv, f"{what} was applied by the receiver but the item is {found.status}")
    for item in snap.outbox:
        if (
            item.status == OutboxStatus.SENT
            and item.executor != CALLER
            and effects.get(item.idempotency_key, 0) <= 0
        ):
            _add(
                report,
                inv,
                f"outbox item #{item.id} (action #{item.action_id}) is sent but the receiver "
                f"never applied its key {item.idempotency_key}",
            )


def _waited_rightly(
    item: CheckedOutbox, action: CheckedAction, idx: _Index, what: str, report: InvariantReport
) -> None:
    """An item waits exactly while what its action waits for may still go out, and is due
    (claimed, sent) only once that was executed."""
    inv = "executed-once"
    pre = idx.actions.get(action.after_action_id or 0)
    if item.status == OutboxStatus.WAITING:
        if pre is None:
            _add(report, inv, f"{what} is waiting, but its action waits for no action")
        elif pre.status not in _MAY_WAIT:
            _add(
                report, inv, f"{what} is still waiting for action #{pre.id}, which is {pre.status}"
            )
    elif pre is not None and item.status in _AFTER and pre.status != ActionStatus.EXECUTED:
        _add(
            report,
            inv,
            f"{what} is {item.status} though action #{pre.id} it waits for is {pre.status}",
        )


# -- answered-once -------------------------------------------------------------------------

_ANSWERS = ("review_approved", "review_rejected", "review_blocked")
_ANSWERED = {ReviewStatus.APPROVED.value, ReviewStatus.REJECTED.value}


def _answered_once(snap: Snapshot, idx: _Index, report: InvariantReport) -> None:
    inv = "answered-once"
    report.checked[inv] = sum(r.status in _ANSWERED for r in snap.reviews)
    for r in snap.reviews:
        n = sum(idx.review_audit[r.id][e] for e in _ANSWERS)
        if n > 1:
            _add(report, inv, f"review #{r.id} (action #{r.action_id}) was answered {n} times")
    for action_id, reviews in sorted(idx.reviews_of.items()):
        answered = [r for r in reviews if r.status in _ANSWERED]
        answers = sum(idx.audit_of[action_id][e] for e in _ANSWERS)
        if len(answered) > 1 or answers > 1:
            rungs = ", ".join(f"{r.assignee_role} (#{r.id}: {r.status})" for r in answered)
            _add(
                report,
                inv,
                f"action #{action_id} was answered {max(len(answered), answers)} times"
                + (f": {rungs}" if rungs else ""),
            )


# -- fatigue-cap ---------------------------------------------------------------------------

_WENT_OUT = {ActionStatus.QUEUED.value, ActionStatus.EXECUTED.value}
"""Final statuses of an automated action that was surely counted as a touch all along."""


def _fatigue_cap(
    snap: Snapshot, idx: _Index, pack: CompiledPack, grace: timedelta, report: InvariantReport
) -> None:
    inv = "fatigue-cap"
    checked = 0
    for per_contact, cap in _caps(pack):
        kinds = set(cap.action_kinds)
        groups: dict[tuple[str, int | None], list[tuple[CheckedDecision, CheckedAction]]] = (
            defaultdict(list)
        )
        for a in snap.actions:
            d = idx.first.get(a.id)
            if d is None or d.verdict != Verdict.AUTO.label or a.kind not in kinds:
                continue
            if per_contact and a.contact_id is None:
                continue
            groups[(a.account_id, a.contact_id if per_contact else None)].append((d, a))
        seen: dict[tuple[str, int | None], list[CheckedTouch]] = defaultdict(list)
        signal_kinds = set(cap.signal_kinds)
        for s in snap.touches:
            if s.kind not in signal_kinds or s.account_id is None:
                continue
            if not per_contact or s.contact_id is not None:
                seen[(s.account_id, s.contact_id if per_contact else None)].append(s)
        window = timedelta(days=cap.window_days)
        for who, decided in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            decided.sort(key=lambda da: da[0].id)
            checked += len(decided)
            for i, (d, a) in enumerate(decided):
                earlier, signals = _capped(
                    decided[:i], seen.get(who, []), d.decided_at, window, grace
                )
                if earlier + len(signals) < cap.max_touches:
                    continue
                whom = (
                    f"contact {a.contact_id} of {a.account_id}"
                    if per_contact
                    else f"account {a.account_id}"
                )
                _add(
                    report,
                    inv,
                    f"action #{a.id} ({a.kind}, decision #{d.id} at {d.decided_at:%Y-%m-%d %H:%M}) "
                    f"was automated though {whom} already had {earlier + len(signals)} touches "
                    f"in {cap.window_days} days (cap {cap.max_touches}): "
                    f"{earlier} automated action(s) decided before it"
                    + (f", signals {_ids(s.id for s in signals)}" if signals else ""),
                )
    report.checked[inv] = checked


def _capped(
    before: Sequence[tuple[CheckedDecision, CheckedAction]],
    signals: Sequence[CheckedTouch],
    at: datetime,
    window: timedelta,
    grace: timedelta,
) -> tuple[int, list[CheckedTouch]]:
    """The touches the guardrail surely saw when deciding at ``at``: automated actions decided
    before (lower decision id: deciding holds the account's lock, so ids are the order of the
    account's decisions) within the window that went out and stayed out (queued or executed:
    they were counted then, by their ``updated_at``), and the touch signals that occurred in
    the window and had arrived by then (the guardrail counts a signal by when it occurred,
    with no upper bound, so one that arrived early counts too). A person's approvals count in
    the real guardrail but not here, so this never counts more than the guardrail did."""
    since = at - window
    earlier = sum(1 for d, a in before if a.status in _WENT_OUT and d.decided_at >= since)
    seen = [s for s in signals if s.occurred_at >= since and s.received_at <= at - grace]
    return earlier, seen


# -- motion-budget -------------------------------------------------------------------------


def _motion_budget(snap: Snapshot, pack: CompiledPack, report: InvariantReport) -> None:
    inv = "motion-budget"
    per_day: dict[tuple[str, date], list[int]] = defaultdict(list)
    for d in snap.decisions:
        if d.verdict == Verdict.AUTO.label:
            per_day[(d.motion, d.decided_at.date())].append(d.id)
    report.checked[inv] = sum(len(v) for v in per_day.values())
    first: dict[str, date] = {}  # each motion's first day counted in slots
    for motion, day in sorted(snap.budgets, key=lambda k: k[1], reverse=True):
        first[motion] = day
    for (motion, day), ids in sorted(per_day.items()):
        budget = pack.guardrails.motion_budgets.get(motion)  # type: ignore[call-overload]
        if budget is None:
            continue
        start = first.get(motion)  # None, or a day before it: from before the counter
        counted = start is not None and day >= start
        spent = snap.budgets.get((motion, day), 0) if counted else None
        if spent is not None and spent < len(ids):
            _add(
                report,
                inv,
                f"{motion} on {day}: {len(ids)} automated decisions but {spent} budget slots "
                "taken: an automated decision did not take its slot",
            )
        if Verdict.parse(budget.at_least) == Verdict.AUTO:
            continue
        if len(ids) > budget.max_auto_per_day:
            _add(
                report,
                inv,
                f"{motion} on {day}: {len(ids)} automated decisions, budget "
                f"{budget.max_auto_per_day}; beyond it: decisions "
                f"{_ids(sorted(ids)[budget.max_auto_per_day :])}",
            )


# -- audit-complete ------------------------------------------------------------------------

_STATUS_ENTRY = {
    ActionStatus.EXECUTED.value: ("executed",),
    ActionStatus.BLOCKED.value: ("blocked", "review_blocked"),
    ActionStatus.CANCELLED.value: ("cancelled",),
    ActionStatus.FAILED.value: ("delivery_failed",),
    ActionStatus.REJECTED.value: ("review_rejected",),
    ActionStatus.APPROVED.value: ("review_approved",),
}
"""An action's status → the audit events, one of which must record the move to it."""
_REVIEW_ENTRY = {
    ReviewStatus.APPROVED.value: ("review_approved",),
    ReviewStatus.REJECTED.value: ("review_rejected", "review_blocked"),
}


def _audit_complete(snap: Snapshot, idx: _Index, report: InvariantReport) -> None:
    inv = "audit-complete"
    report.checked[inv] = len(snap.actions) + len(snap.reviews)
    for a in snap.actions:
        entries = idx.audit_of[a.id]
        what = f"action #{a.id} ({a.kind} at {a.account_id}, {a.status})"
        missing = [] if entries["proposed"] else ["proposed"]
        if idx.outbox_of.get(a.id) and not entries["queued"]:
            missing.append("queued")
        wanted = _STATUS_ENTRY.get(a.status)
        if wanted and not any(entries[e] for e in wanted):
            missing.append(" or ".join(wanted))
        if missing:
            _add(report, inv, f"{what} has no {', no '.join(missing)} entry")
    for r in snap.reviews:
        entries = idx.review_audit[r.id]
        what = f"review #{r.id} (action #{r.action_id}, {r.assignee_role}, {r.status})"
        missing = [] if entries["review_opened"] else ["review_opened"]
        wanted = _REVIEW_ENTRY.get(r.status)
        if wanted and not any(entries[e] for e in wanted):
            missing.append(" or ".join(wanted))
        climbed = r.status == ReviewStatus.SUPERSEDED and r.answered_by == "ladder"
        if climbed and r.id not in idx.climbed_from:
            missing.append("escalated")
        if missing:
            _add(report, inv, f"{what} has no {', no '.join(missing)} entry")


# -- counts --------------------------------------------------------------------------------


def _counts(snap: Snapshot, idx: _Index, effects: Mapping[str, int] | None) -> dict[str, int]:
    """The numbers a soak's note gives."""
    status = Counter(item.status for item in snap.outbox)
    counts = {
        "signals": snap.signals.stored,
        "signals detected": snap.signals.detected,
        "field events": len(snap.events),
        "runs": sum(e.agent is not None for e in snap.events),
        "actions": len(snap.actions),
        "decisions": len(snap.decisions),
        "auto": sum(idx.automated(a.id) for a in snap.actions),
        "queued": len(snap.outbox),
        "executed": status[OutboxStatus.SENT.value],
        "failed": status[OutboxStatus.FAILED.value],
        "cancelled": status[OutboxStatus.CANCELLED.value],
        "reviews": len(snap.reviews),
        "reviews answered": sum(r.status in _ANSWERED for r in snap.reviews),
        "climbs": sum(a.event == "escalated" for a in snap.audit),
        "audit entries": len(snap.audit),
    }
    if snap.accepted is not None:
        counts["signals accepted"] = len(snap.accepted)
    if effects is not None:
        counts["effects applied"] = sum(n for n in effects.values() if n > 0)
    return counts
