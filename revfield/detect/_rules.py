"""Signal detection over structured signals: compiled rules, in bulk, outside any graph.

Pure functions over frozen snapshots: a batch of signals, the accounts they concern, and the
recent history each rule needs (tickets and usage in the rule's window, who the champions
are). The thresholds come from the policy pack's ``detection`` section. Free text is read by
the model in :mod:`revfield.detect._text`.

Renewals: a customer's current subscription ending within the pack's notice period
(``detection: renewal: notice_days``) raises ``renewal_due`` (expansion & retention's), and
also ``renewal_at_risk`` (the deal desk's) while a churn risk is open on the account. Each is
raised once per subscription end, whatever the cooldown: its key is the subscription and its
end date, so a renewed subscription (a new end date) is news again, and a risk that opens
later in the notice period still raises ``renewal_at_risk``.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from revfield.clock import days_before
from revfield.detect._spec import DetectionSpec
from revfield.domain import (
    BecameCustomer,
    DealClosed,
    DealMoved,
    DealOutcome,
    Detected,
    DoNotContact,
    Effect,
    FactDraft,
    FactType,
    FieldEventKind,
    RiskRecovered,
)
from revfield.memory import AccountSnap, SignalSnap, SubscriptionSnap

__all__ = [
    "ONCE",
    "AccountSnap",
    "History",
    "SignalSnap",
    "SubscriptionSnap",
    "deduplicate",
    "detect_inactivity",
    "detect_renewals",
    "detect_structured",
]

K = FieldEventKind
ONCE = frozenset({K.RENEWAL_DUE.value, K.RENEWAL_AT_RISK.value})
"""Kinds raised once per key, ever (a subscription's end), not again after the cooldown."""
ENDED = frozenset({"churned", "cancelled", "canceled", "ended", "expired", "terminated"})
"""A subscription whose payload says it ended (a flag set, or its ``status``) renews nothing."""
WON_STAGES = {"closed_won", "won"}
LOST_STAGES = {"closed_lost", "lost"}


@dataclass
class _Series:
    """Times (sorted) with running totals, to sum any window in O(log n)."""

    times: list[datetime] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)

    def window(self, end: datetime, days: int) -> tuple[float, list[int]]:
        lo = bisect.bisect_left(self.times, days_before(end, days))
        hi = bisect.bisect_right(self.times, end)
        if hi <= lo:
            return 0.0, []
        total = self.totals[hi - 1] - (self.totals[lo - 1] if lo else 0.0)
        return total, self.ids[lo:hi]


@dataclass
class History:
    """What the rules need beyond the batch itself, for the batch's accounts."""

    tickets: dict[str, _Series] = field(default_factory=dict)
    usage: dict[str, _Series] = field(default_factory=dict)
    champions: dict[str, set[int]] = field(default_factory=dict)
    """Contact ids that current champion facts name, per account."""

    @staticmethod
    def series(rows: Iterable[tuple[datetime, int, float]]) -> _Series:
        s = _Series()
        total = 0.0
        for when, sid, amount in sorted(rows, key=lambda r: (r[0], r[1])):
            total += amount
            s.times.append(when)
            s.ids.append(sid)
            s.totals.append(total)
        return s


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def detect_structured(
    signals: Sequence[SignalSnap],
    accounts: Mapping[str, AccountSnap],
    history: History,
    spec: DetectionSpec,
) -> list[Detected]:
    """Every field event the structured rules see in ``signals`` (before de-duplication)."""
    found: list[Detected] = []
    for s in signals:
        account = accounts.get(s.account_id)
        rule = _RULES.get(s.kind)
        if rule is not None and account is not None:
            found.extend(rule(s, account, history, spec))
    return found


def _intent(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    score, baseline = _num(s.payload.get("score")), _num(s.payload.get("baseline"))
    rule = spec.intent_surge
    if (
        score is None
        or score < rule.min_score
        or (baseline is not None and score - baseline < rule.min_lift)
    ):
        return []
    topic = str(s.payload.get("topic") or "intent")
    lift = f", {score - baseline:+.0f} over its baseline" if baseline is not None else ""
    return [
        Detected(
            K.INTENT_SURGE,
            a.id,
            topic.lower(),
            (s.id,),
            s.occurred_at,
            f"buying intent on “{topic}” at {score:.0f}{lift}",
            contact_id=s.contact_id,
            data={"score": score, "topic": topic},
        )
    ]


def _usage(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    rule = spec.usage_near_limit
    out: list[Detected] = []
    count, limit = _num(s.payload.get("count")), _num(s.payload.get("limit"))
    feature = str(s.payload.get("feature") or "usage")
    if count is not None and limit and count >= rule.ratio * limit:
        out.append(
            Detected(
                K.USAGE_NEAR_LIMIT,
                a.id,
                feature,
                (s.id,),
                s.occurred_at,
                f"{feature} at {count:,.0f} of {limit:,.0f} ({count / limit:.0%} of the plan)",
                data={"feature": feature, "used": count, "limit": limit},
            )
        )
    plan_limit = rule.plan_limits.get(a.plan or "")
    series = h.usage.get(a.id)
    if plan_limit and series is not None:
        used, ids = series.window(s.occurred_at, rule.window_days)
        back = spec.recovery.usage_ratio
        if a.at_risk and back is not None and used >= back * plan_limit:
            reason = f"usage back to {used / plan_limit:.0%} of the {a.plan} plan"
            out.append(_recovered(s, a, f"{reason} in {rule.window_days} days"))
        if used >= rule.ratio * plan_limit:
            out.append(
                Detected(
                    K.USAGE_NEAR_LIMIT,
                    a.id,
                    "plan",
                    _trigger_first(s.id, ids[-20:]),
                    s.occurred_at,
                    f"{used:,.0f} of the {plan_limit:,.0f} {a.plan} plan includes "
                    f"in {rule.window_days} days "
                    f"({used / plan_limit:.0%})",
                    data={"used": used, "limit": plan_limit, "plan": a.plan},
                )
            )
    return out


def _seats(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    rule = spec.seat_growth
    seats, previous, cap = (
        _num(s.payload.get("seats")),
        _num(s.payload.get("previous_seats")),
        _num(s.payload.get("seat_limit")),
    )
    if seats is None:
        return []
    reasons = []
    if previous and seats >= previous * (1 + rule.min_growth_pct / 100):
        reasons.append(
            f"seats grew from {previous:.0f} to {seats:.0f} (+{(seats / previous - 1):.0%})"
        )
    if cap and seats >= rule.near_limit_ratio * cap:
        reasons.append(f"{seats:.0f} of {cap:.0f} seats in use")
    if not reasons:
        return []
    return [
        Detected(
            K.SEAT_GROWTH,
            a.id,
            "seats",
            (s.id,),
            s.occurred_at,
            "; ".join(reasons),
            data={"seats": seats, "previous_seats": previous, "seat_limit": cap},
        )
    ]


def _recovered(s: SignalSnap, a: AccountSnap, reason: str) -> Detected:
    """No event: the account's churn risk is resolved by this signal."""
    return Detected(
        None, a.id, "", (s.id,), s.occurred_at, "", effects=(RiskRecovered(a.id, reason),)
    )


def _trigger_first(trigger: int, ids: Iterable[int]) -> tuple[int, ...]:
    """The signal that triggered a detection comes first; the others are context."""
    return (trigger, *(i for i in ids if i != trigger))


def _risk(s: SignalSnap, subject: str, value: str, confidence: float = 0.9) -> FactDraft:
    return FactDraft(
        FactType.RISK,
        value,
        s.id,
        s.occurred_at,
        confidence,
        subject=subject,
        contact_id=s.contact_id,
    )


def _ticket(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    rule = spec.ticket_cluster
    series = h.tickets.get(a.id)
    if series is None:
        return []
    count, ids = series.window(s.occurred_at, rule.window_days)
    if count < rule.count:
        return []
    detail = f"{count:.0f} support tickets in {rule.window_days} days"
    return [
        Detected(
            K.TICKET_CLUSTER,
            a.id,
            "tickets",
            _trigger_first(s.id, ids),
            s.occurred_at,
            detail,
            data={"tickets": int(count), "window_days": rule.window_days},
            facts=(_risk(s, "churn: support load", detail),),
        )
    ]


def _nps(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    score = _num(s.payload.get("score"))
    promoter = spec.recovery.nps_promoter_min
    if score is not None and a.at_risk and promoter is not None and score >= promoter:
        return [_recovered(s, a, f"NPS {score:.0f} (promoter)")]
    if score is None or score > spec.nps_detractor.max_score:
        return []
    detail = f"NPS {score:.0f} (detractor)"
    return [
        Detected(
            K.NPS_DETRACTOR,
            a.id,
            str(s.contact_id or "nps"),
            (s.id,),
            s.occurred_at,
            detail,
            contact_id=s.contact_id,
            data={"score": score},
            facts=(_risk(s, "churn: detractor", detail + (f": {s.text[:200]}" if s.text else "")),),
        )
    ]


def _cancellation(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    reason = str(s.payload.get("reason") or "unspecified")
    detail = f"cancellation ({reason})" + (f": “{s.text[:120]}”" if s.text else "")
    return [
        Detected(
            K.CHURN_RISK,
            a.id,
            "cancellation",
            (s.id,),
            s.occurred_at,
            detail,
            data={"reason": reason},
            facts=(_risk(s, "churn: cancellation", detail),),
        )
    ]


def _subscription(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    if s.payload.get("downgrade") is not True:
        return []
    detail = f"downgraded to {s.payload.get('plan') or 'a smaller plan'}"
    return [
        Detected(
            K.CHURN_RISK,
            a.id,
            "downgrade",
            (s.id,),
            s.occurred_at,
            detail,
            facts=(_risk(s, "churn: downgrade", detail),),
        )
    ]


def _contact_change(
    s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec
) -> list[Detected]:
    left = s.payload.get("left") is True or str(s.payload.get("status", "")).lower() in (
        "left",
        "departed",
    )
    if not left or s.contact_id is None:
        return []
    if s.contact_id not in h.champions.get(a.id, set()):  # no event: just not reachable now
        return [
            Detected(
                None, a.id, "", (s.id,), s.occurred_at, "", effects=(DoNotContact(s.contact_id),)
            )
        ]
    detail = "the champion left the company"
    # a customer's champion leaving is a churn risk; a prospect's, a risk to the deal
    subject = "churn: champion left" if a.customer_state == "customer" else "deal: champion left"
    return [
        Detected(
            K.CHAMPION_LEFT,
            a.id,
            str(s.contact_id),
            (s.id,),
            s.occurred_at,
            detail,
            contact_id=s.contact_id,
            facts=(_risk(s, subject, detail),),
            effects=(DoNotContact(s.contact_id),),  # their address reaches nobody now
        )
    ]


def _stage(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    stage = str(s.payload.get("to_stage") or "").lower()
    deal = s.payload.get("deal_id")
    deal_id = str(deal) if deal else None
    if stage in WON_STAGES:
        effects: list[Effect] = [BecameCustomer(a.id)]
        if deal_id:
            effects.append(DealClosed(deal_id, "closed_won", DealOutcome.WON, s.occurred_at))
        return [
            Detected(
                K.CLOSED_WON,
                a.id,
                deal_id or "deal",
                (s.id,),
                s.occurred_at,
                "deal closed won",
                deal_id=deal_id,
                effects=tuple(effects),
            )
        ]
    if stage in LOST_STAGES and deal_id:  # no event, but the memory learns the outcome
        lost = DealClosed(deal_id, "closed_lost", DealOutcome.LOST, s.occurred_at)
        return [Detected(None, a.id, "", (s.id,), s.occurred_at, "", effects=(lost,))]
    if stage and deal_id:  # the memory follows the CRM; governance checks what was skipped
        moved = DealMoved(deal_id, stage[:64], s.occurred_at)
        return [Detected(None, a.id, "", (s.id,), s.occurred_at, "", effects=(moved,))]
    return []


def _meeting(s: SignalSnap, a: AccountSnap, h: History, spec: DetectionSpec) -> list[Detected]:
    when = s.payload.get("starts_at")
    return [
        Detected(
            K.MEETING_BOOKED,
            a.id,
            str(s.contact_id or s.id),
            (s.id,),
            s.occurred_at,
            "meeting booked" + (f" for {when}" if when else ""),
            contact_id=s.contact_id,
        )
    ]


_RULES = {
    "intent_surge": _intent,
    "product_usage": _usage,
    "seat_change": _seats,
    "support_ticket": _ticket,
    "nps_response": _nps,
    "cancellation": _cancellation,
    "subscription_change": _subscription,
    "contact_change": _contact_change,
    "crm_stage_change": _stage,
    "meeting_booked": _meeting,
}


def detect_inactivity(
    last_usage: Mapping[str, datetime],
    accounts: Mapping[str, AccountSnap],
    now: datetime,
    spec: DetectionSpec,
) -> list[Detected]:
    """Customers that were active within the lookback but not in the last ``days``."""
    rule = spec.inactivity
    out = []
    for account_id, last in last_usage.items():
        account = accounts.get(account_id)
        quiet = (now - last).days
        if (
            account is None
            or account.customer_state != "customer"
            or not rule.days <= quiet <= rule.lookback_days
        ):
            continue
        detail = f"no product usage for {quiet} days"
        out.append(
            Detected(K.INACTIVITY, account_id, "usage", (), now, detail, data={"days": quiet})
        )
    return out


def _end_date(value: Any) -> date | None:
    """An ISO date (or date-time) from a payload; None for anything else."""
    if not isinstance(value, str) or not 8 <= len(value.strip()) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC).date() if parsed.tzinfo else parsed.date()


def _ended(payload: Mapping[str, Any]) -> bool:
    status = payload.get("status")
    return (isinstance(status, str) and status.strip().lower() in ENDED) or any(
        payload.get(flag) is True for flag in (*ENDED, "churn")
    )


def detect_renewals(
    subscriptions: Iterable[SubscriptionSnap], now: datetime, spec: DetectionSpec
) -> list[Detected]:
    """Customers whose current subscription ends within the notice period (today counts; an
    end date in the past, beyond the period, unreadable, or on a subscription that ended or
    was cancelled raises nothing)."""
    notice = spec.renewal.notice_days
    today = now.astimezone(UTC).date()
    out: list[Detected] = []
    for s in subscriptions:
        end = _end_date(s.payload.get("end_date"))
        if end is None or _ended(s.payload):
            continue
        days = (end - today).days
        if not 0 <= days <= notice:
            continue
        raw = s.payload.get("subscription_id")
        sub = str(raw)[:80] if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
        name = f"subscription {sub}" if sub else "the subscription"
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        detail = f"{name} ends on {end.isoformat()}, {when}"
        data: dict[str, Any] = {
            "subscription_id": sub or None,
            "end_date": end.isoformat(),
            "days_left": days,
            "notice_days": notice,
        }
        key = f"{sub or f'signal {s.signal_id}'}:{end.isoformat()}"
        out.append(
            Detected(K.RENEWAL_DUE, s.account_id, key, (s.signal_id,), now, detail, data=data)
        )
        if s.risk_id is not None:
            out.append(
                Detected(
                    K.RENEWAL_AT_RISK,
                    s.account_id,
                    key,
                    (s.signal_id,),
                    now,
                    f"{detail}, while churn risk #{s.risk_id} is open",
                    data={**data, "risk_id": s.risk_id},
                )
            )
    return out


def deduplicate(
    found: Iterable[Detected],
    last_seen: dict[tuple[str, str, str], datetime],
    cooldown_days: int,
    once: Collection[str] = ONCE,
) -> list[Detected]:
    """Drop situations already raised within the cooldown (same account, kind and key), and
    those of the ``once`` kinds raised at any time. ``last_seen`` is updated with what is
    kept, so repeats inside one batch drop too."""
    kept = []
    window = timedelta(days=cooldown_days)
    for d in sorted(found, key=lambda d: d.occurred_at):
        if d.kind is None:
            kept.append(d)
            continue
        key = (d.account_id, d.kind.value, d.key)
        last = last_seen.get(key)
        if last is not None and (d.kind.value in once or abs(d.occurred_at - last) < window):
            continue
        last_seen[key] = d.occurred_at
        kept.append(d)
    return kept
