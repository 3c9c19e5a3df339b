"""Each structured detection rule at its boundary, the router, and de-duplication. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revfield.agents import build_router, discover_agents
from revfield.detect._rules import (
    AccountSnap,
    History,
    SignalSnap,
    deduplicate,
    detect_inactivity,
    detect_structured,
)
from revfield.domain import DealClosed, DealOutcome
from revfield.domain import FieldEventKind as K
from revfield.policies import load_pack
from revfield.route import Agent
from tests.policies.conftest import DEFAULT_PACK

SPEC = load_pack(DEFAULT_PACK).detection
T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACC = {"a": AccountSnap("a", "customer", plan="Basic", seats=10)}


def sig(
    kind: str,
    payload: dict | None = None,
    *,
    n: int = 1,
    at: datetime = T,
    contact: int | None = None,
    text=None,
):
    return SignalSnap(n, kind, "a", contact, at, payload or {}, text)


def kinds(signals, history=None, accounts=ACC):
    return [
        d.kind for d in detect_structured(signals, accounts, history or History(), SPEC) if d.kind
    ]


@pytest.mark.parametrize(
    ("score", "baseline", "raised"),
    [(60, 40, True), (59, 30, False), (80, 61, False), (80, None, True)],
)
def test_intent_surge_needs_the_score_and_the_lift(score, baseline, raised):
    payload = {"score": score, "topic": "forecasting"} | (
        {"baseline": baseline} if baseline is not None else {}
    )
    assert (K.INTENT_SURGE in kinds([sig("intent_surge", payload)])) is raised


@pytest.mark.parametrize(("count", "raised"), [(80, True), (79, False)])
def test_usage_near_a_stated_limit(count, raised):
    assert (
        K.USAGE_NEAR_LIMIT
        in kinds([sig("product_usage", {"feature": "api", "count": count, "limit": 100})])
    ) is raised


def _usage_history(total: float, days_ago: int = 5) -> History:
    h = History()
    h.usage["a"] = History.series([(T - timedelta(days=days_ago), 99, total - 1), (T, 1, 1.0)])
    return h


@pytest.mark.parametrize(
    ("total", "days_ago", "raised"), [(80, 5, True), (79, 5, False), (80, 31, False)]
)
def test_usage_near_the_plan_limit_within_the_window(total, days_ago, raised):
    found = kinds(
        [sig("product_usage", {"feature": "api", "count": 1})], _usage_history(total, days_ago)
    )
    assert (K.USAGE_NEAR_LIMIT in found) is raised  # Basic includes 100 per 30 days; 80% raises


@pytest.mark.parametrize(
    ("seats", "previous", "limit", "raised"),
    [(12, 10, None, True), (11, 10, None, False), (9, 9, 10, True), (8, 8, 10, False)],
)
def test_seat_growth_by_growth_or_by_nearing_the_seat_limit(seats, previous, limit, raised):
    payload = {"seats": seats, "previous_seats": previous} | (
        {"seat_limit": limit} if limit else {}
    )
    assert (K.SEAT_GROWTH in kinds([sig("seat_change", payload)])) is raised


def _tickets(*days_ago: int) -> History:
    h = History()
    h.tickets["a"] = History.series([(T - timedelta(days=d), 100 + d, 1.0) for d in days_ago])
    return h


@pytest.mark.parametrize(
    ("days_ago", "raised"), [((0, 3, 13), True), ((0, 3), False), ((0, 3, 15), False)]
)
def test_a_ticket_cluster_is_enough_tickets_within_the_window(days_ago, raised):
    found = detect_structured(
        [sig("support_ticket", {"priority": "high"}, n=100)], ACC, _tickets(*days_ago), SPEC
    )
    clusters = [d for d in found if d.kind is K.TICKET_CLUSTER]
    assert bool(clusters) is raised
    if raised:
        assert (
            clusters[0].signal_ids[0] == 100
        )  # the triggering ticket first, then the rest of the cluster
        assert clusters[0].facts[0].subject == "churn: support load"


@pytest.mark.parametrize(("score", "raised"), [(6, True), (7, False)])
def test_an_nps_detractor(score, raised):
    assert (K.NPS_DETRACTOR in kinds([sig("nps_response", {"score": score}, contact=5)])) is raised


def test_a_cancellation_is_a_churn_risk_with_a_churn_fact():
    (d,) = detect_structured(
        [sig("cancellation", {"reason": "pricing"}, text="too expensive")], ACC, History(), SPEC
    )
    assert d.kind is K.CHURN_RISK and d.facts[0].subject == "churn: cancellation"
    assert "too expensive" in d.detail


def test_a_downgrade_is_a_churn_risk_but_an_upgrade_is_not():
    assert kinds([sig("subscription_change", {"plan": "Basic", "downgrade": True})]) == [
        K.CHURN_RISK
    ]
    assert kinds([sig("subscription_change", {"plan": "Pro", "upgrade": True})]) == []


def test_a_champion_leaving_is_raised_only_for_the_champion():
    h = History()
    h.champions["a"] = {7}
    assert kinds([sig("contact_change", {"left": True}, contact=7)], h) == [K.CHAMPION_LEFT]
    assert kinds([sig("contact_change", {"left": True}, contact=8)], h) == []


def test_closed_won_makes_the_account_a_customer_and_closes_the_deal():
    (d,) = detect_structured(
        [sig("crm_stage_change", {"to_stage": "closed_won", "deal_id": "d1"})],
        {"a": AccountSnap("a", "prospect")},
        History(),
        SPEC,
    )
    assert d.kind is K.CLOSED_WON and d.deal_id == "d1"
    assert [e.kind for e in d.effects] == ["became_customer", "deal_closed"]


def test_a_lost_deal_updates_memory_without_an_event():
    (d,) = detect_structured(
        [sig("crm_stage_change", {"to_stage": "closed_lost", "deal_id": "d1"})],
        ACC,
        History(),
        SPEC,
    )
    assert d.kind is None and d.effects == (DealClosed("d1", "closed_lost", DealOutcome.LOST, T),)


def test_a_meeting_booked():
    assert kinds([sig("meeting_booked", {"starts_at": "2026-11-05T10:00:00Z"}, contact=3)]) == [
        K.MEETING_BOOKED
    ]


@pytest.mark.parametrize(("quiet", "raised"), [(21, True), (20, False), (91, False)])
def test_inactivity_is_a_customer_that_went_quiet_recently(quiet, raised):
    found = detect_inactivity({"a": T - timedelta(days=quiet)}, ACC, T, SPEC)
    assert bool(found) is raised


def test_inactivity_is_not_raised_for_prospects():
    assert (
        detect_inactivity(
            {"a": T - timedelta(days=30)}, {"a": AccountSnap("a", "prospect")}, T, SPEC
        )
        == []
    )


def test_signals_without_a_rule_raise_nothing():
    assert kinds([sig("web_visit", {"url": "/pricing"}), sig("email_opened")]) == []


@pytest.mark.parametrize(("gap_days", "kept"), [(13, 1), (14, 2)])
def test_the_same_situation_is_not_raised_again_within_the_cooldown(gap_days, kept):
    a = detect_structured([sig("cancellation", {"reason": "x"}, n=1)], ACC, History(), SPEC)
    b = detect_structured(
        [sig("cancellation", {"reason": "y"}, n=2, at=T + timedelta(days=gap_days))],
        ACC,
        History(),
        SPEC,
    )
    assert len(deduplicate(a + b, {}, SPEC.cooldown_days)) == kept


def test_the_cooldown_counts_events_already_stored():
    found = detect_structured([sig("cancellation", {"reason": "x"})], ACC, History(), SPEC)
    assert (
        deduplicate(
            found, {("a", "churn_risk", "cancellation"): T - timedelta(days=3)}, SPEC.cooldown_days
        )
        == []
    )


@pytest.mark.parametrize(
    ("kind", "state", "agent"),
    [
        (K.INTENT_SURGE, "prospect", Agent.OUTREACH),
        (K.POSITIVE_REPLY, "prospect", Agent.OUTREACH),
        (K.CLOSED_WON, "prospect", Agent.HANDOVER),
        (K.CLOSED_WON, "customer", Agent.HANDOVER),
        (K.USAGE_NEAR_LIMIT, "customer", Agent.EXPANSION_RETENTION),
        (K.CHURN_RISK, "customer", Agent.EXPANSION_RETENTION),
        (K.TICKET_CLUSTER, "customer", Agent.EXPANSION_RETENTION),
        (K.USAGE_NEAR_LIMIT, "prospect", Agent.OUTREACH),
        (K.INTENT_SURGE, "customer", Agent.EXPANSION_RETENTION),
        (K.INTENT_SURGE, "churned", Agent.OUTREACH),
        (K.CHURN_RISK, "churned", None),
        (K.CHURN_RISK, "prospect", None),
        (K.UNSUBSCRIBE, "prospect", None),
        (K.MODEL_FAULT, "customer", Agent.ESCALATION),
        (K.GOVERNANCE_DEVIATION, "prospect", Agent.OUTREACH),
        (K.PRICING_OBJECTION, "prospect", Agent.DEAL_DESK),
        (K.PRICING_OBJECTION, "customer", Agent.DEAL_DESK),
        (K.PRICING_OBJECTION, "churned", None),
        (K.RENEWAL_DUE, "customer", Agent.EXPANSION_RETENTION),
        (K.RENEWAL_AT_RISK, "customer", Agent.DEAL_DESK),
        (K.RENEWAL_DUE, "prospect", None),
        (K.ACTION_SUBMITTED, "prospect", Agent.SUBMITTED),
    ],
)
def test_the_router_chooses_by_customer_state_and_kind(kind, state, agent):
    assert build_router(discover_agents()).route(kind, state) == agent
