"""Each structured detection rule at its boundary, the router, and de-duplication. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revfield.agents import build_router, discover_agents
from revfield.detect._rules import (
    AccountSnap,
    History,
    SignalSnap,
    SubscriptionSnap,
    deduplicate,
    detect_inactivity,
    detect_renewals,
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


# -- renewals -----------------------------------------------------------------------------------


def subscription(payload: dict, *, risk: int | None = None, account: str = "a"):
    return SubscriptionSnap(account, 40, T - timedelta(days=200), payload, risk)


def ending_in(days: int) -> dict:
    return {"subscription_id": "s-1", "end_date": (T + timedelta(days=days)).date().isoformat()}


@pytest.mark.parametrize(
    ("days", "raised"), [(-1, False), (0, True), (1, True), (60, True), (61, False)]
)
def test_a_renewal_is_due_within_the_notice_period_never_after_the_end(days, raised):
    found = detect_renewals([subscription(ending_in(days))], T, SPEC)
    assert [d.kind for d in found] == ([K.RENEWAL_DUE] if raised else [])
    if raised:
        (d,) = found
        end = (T + timedelta(days=days)).date().isoformat()
        assert d.key == f"s-1:{end}" and d.signal_ids == (40,)
        assert d.data == {
            "subscription_id": "s-1",
            "end_date": end,
            "days_left": days,
            "notice_days": 60,
        }
        assert d.detail.startswith(f"subscription s-1 ends on {end}, ")


def test_the_notice_period_is_the_packs():
    spec = SPEC.model_copy(update={"renewal": SPEC.renewal.model_copy(update={"notice_days": 90})})
    assert detect_renewals([subscription(ending_in(80))], T, SPEC) == []
    assert [d.kind for d in detect_renewals([subscription(ending_in(80))], T, spec)] == [
        K.RENEWAL_DUE
    ]


def test_with_a_churn_risk_open_the_renewal_is_also_at_risk_for_the_deal_desk():
    due, at_risk = detect_renewals([subscription(ending_in(30), risk=4)], T, SPEC)
    assert (due.kind, at_risk.kind) == (K.RENEWAL_DUE, K.RENEWAL_AT_RISK)
    assert at_risk.key == due.key and at_risk.data["risk_id"] == 4
    assert at_risk.detail.endswith("while churn risk #4 is open")


@pytest.mark.parametrize(
    "ended",
    [
        {"status": "cancelled"},
        {"status": "Churned"},
        {"churned": True},
        {"cancelled": True},
        {"churn": True},
        {"canceled": True},
    ],
)
def test_a_subscription_that_churned_or_was_cancelled_renews_nothing(ended):
    assert detect_renewals([subscription(ending_in(20) | ended, risk=1)], T, SPEC) == []


@pytest.mark.parametrize(
    "end_date",
    [
        "soon",
        "",
        "2026-13-45",
        "31/12/2026",
        20261201,
        None,
        True,
        {"date": "2026-12-01"},
        ["2026-12-01"],
        "2026-12-01" * 20,
    ],
)
def test_an_end_date_that_is_not_a_date_raises_nothing_and_breaks_nothing(end_date):
    payloads = [{"subscription_id": "s-1", "end_date": end_date}, ending_in(10)]
    found = detect_renewals(
        [subscription(payloads[0]), subscription(payloads[1], account="b")], T, SPEC
    )
    assert [(d.account_id, d.kind) for d in found] == [("b", K.RENEWAL_DUE)]


def test_an_end_date_with_a_time_and_zone_counts_by_its_utc_day():
    found = detect_renewals(
        [subscription({"end_date": "2026-11-03T01:00:00+05:00"})], T, SPEC
    )  # 2026-11-02 20:00 UTC: today
    assert found[0].data["days_left"] == 0 and found[0].key == "signal 40:2026-11-02"


def test_a_renewal_is_raised_once_per_subscription_end_whatever_the_cooldown():
    (due,) = detect_renewals([subscription(ending_in(50))], T, SPEC)
    seen = {("a", "renewal_due", due.key): T - timedelta(days=45)}  # long past the cooldown
    assert deduplicate([due], dict(seen), SPEC.cooldown_days) == []
    renewed = detect_renewals(
        [subscription({"subscription_id": "s-1", "end_date": "2027-12-01"})],
        T + timedelta(days=340),
        SPEC,
    )
    assert deduplicate(renewed, dict(seen), SPEC.cooldown_days) == renewed  # a new end: news


# -- pricing objections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Honestly it looks too expensive for us right now", "expensive"),
        ("The PRICING is hard to justify.", "pricing"),
        ("It is simply too much for a team of five", "too much"),
        ("Our budget is frozen", "budget"),
        ("Not a priority this quarter", None),
        ("This is priceless and expensively built", None),  # whole words only
        ("We already use Clari", None),
    ],
)
def test_a_pricing_objection_is_one_of_the_packs_words(text, word):
    assert SPEC.pricing_objection.matches(text) == word


def test_the_packs_pricing_words_are_words(tmp_path):
    from tests.agents.world import pack_with

    custom = pack_with(
        tmp_path / "ok", "detection.yaml", "words: [price,", "words: [Licence  Fee, price,"
    )
    assert custom.detection.pricing_objection.matches("the licence fee is high") == "licence fee"
    from revfield.policies import PackError

    with pytest.raises(PackError, match="add-on"):
        pack_with(tmp_path / "bad", "detection.yaml", "words: [price,", "words: [add-on, price,")


def _read(kind: str, text: str, facts=None):
    from revfield.detect import build_text_graph
    from revfield.llm import OfflineModel

    state = build_text_graph(OfflineModel(), SPEC).invoke(
        {
            "signal_id": 9,
            "kind": kind,
            "text": text,
            "account_id": "a",
            "contact_id": 3,
            "occurred_at": T,
        }
    )
    return state["detected"]


def test_a_reply_objecting_to_the_price_is_a_pricing_objection_that_keeps_its_fact():
    (d,) = _read("email_replied", "Honestly it looks too expensive for us, our budget is frozen.")
    assert d.kind is K.PRICING_OBJECTION and d.key == "3"
    assert d.data["pricing_word"] == "budget" and "pricing objection" in d.detail
    assert [(f.type.value, f.subject) for f in d.facts if f.type.value == "objection"] == [
        ("objection", "price")
    ]


def test_other_objections_stay_objections():
    (d,) = _read("email_replied", "Not a priority this quarter, maybe revisit next year.")
    assert d.kind is K.OBJECTION and "pricing_word" not in d.data


def test_a_call_where_the_objection_is_the_price_raises_a_pricing_objection():
    text = (
        "We need one forecast the board trusts. The pricing is more than we can justify. "
        "We are also evaluating Clari for the same budget."
    )
    (d,) = _read("call_transcript", text)
    assert d.kind is K.PRICING_OBJECTION and d.key == "3"
    assert d.detail == (
        "pricing objection (“pricing”) in a call transcript: “The pricing is more than we can "
        "justify”"
    )
    assert {f.type.value for f in d.facts} >= {"objection", "pain", "competitor"}


def test_a_call_too_expensive_to_renew_is_a_churn_risk_and_a_pricing_objection():
    found = _read("meeting_held", "Honestly it is too expensive, we will not renew.")
    assert [d.kind for d in found] == [K.CHURN_RISK, K.PRICING_OBJECTION]
    assert found[0].facts and not found[1].facts  # each fact is stored once


def test_a_call_that_only_mentions_a_budget_raises_nothing():
    found = _read("call_transcript", "We are also evaluating Clari for the same budget.")
    assert [d.kind for d in found] == [None]  # the competitor fact is remembered, no event


def test_an_intent_surge_is_about_the_contact_who_was_reading():
    (found,) = detect_structured(
        [sig("intent_surge", {"score": 90, "baseline": 40}, contact=12)], ACC, History(), SPEC
    )
    assert found.contact_id == 12  # the outreach agent writes to that person, not the first one


def test_a_contact_who_left_is_no_longer_reachable_and_a_prospects_champion_is_a_deal_risk():
    h = History()
    h.champions["a"] = {7}
    prospect = {"a": AccountSnap("a", "prospect")}
    (champion,) = detect_structured(
        [sig("contact_change", {"left": True}, contact=7)], prospect, h, SPEC
    )
    assert champion.facts[0].subject == "deal: champion left"  # a prospect can't churn
    assert [(e.kind, e.contact_id) for e in champion.effects] == [("do_not_contact", 7)]
    (customer,) = detect_structured(
        [sig("contact_change", {"left": True}, contact=7)], ACC, h, SPEC
    )
    assert customer.facts[0].subject == "churn: champion left"
    (other,) = detect_structured([sig("contact_change", {"left": True}, contact=8)], ACC, h, SPEC)
    assert other.kind is None and [e.kind for e in other.effects] == ["do_not_contact"]


def test_a_crm_move_to_a_middle_stage_moves_the_deal_in_memory_without_an_event():
    (moved,) = detect_structured(
        [sig("crm_stage_change", {"to_stage": "Proposal", "deal_id": "d1"})], ACC, History(), SPEC
    )
    assert moved.kind is None
    (effect,) = moved.effects
    assert (effect.kind, effect.deal_id, effect.stage, effect.at) == (
        "deal_moved",
        "d1",
        "proposal",
        T,
    )
    assert (
        detect_structured([sig("crm_stage_change", {"to_stage": "Proposal"})], ACC, History(), SPEC)
        == []
    )
