"""Decision semantics, guardrails as pure functions, and the properties that must always hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revfield.domain import Verdict as V
from revfield.policies import Verdict, decide, explain, load_pack, merge_context
from revfield.policies._context import ACTION_KINDS, MOTIONS
from revfield.policies._load import CompiledRule
from tests.policies.conftest import DEFAULT_PACK

PACK = load_pack(DEFAULT_PACK)


def ctx(**parts):
    return merge_context(parts)


def test_every_matching_rule_counts_and_the_most_restrictive_wins():
    d = decide(
        PACK, ctx(action={"kind": "offer_discount", "motion": "acquisition", "discount_pct": 40})
    )
    assert d.verdict is Verdict.BLOCK
    assert set(d.matched) == {"discount-beyond-limit", "big-discount"}
    assert d.explanation.startswith("block: rule `discount-beyond-limit`")


def test_the_default_applies_only_when_nothing_matches(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        default: escalate
        rules:
          - {id: tasks, when: 'action.kind == "create_task"', decision: auto, reason: r}
    """
        )
    )
    nothing = decide(pack, ctx(action={"kind": "notify", "motion": "acquisition"}))
    assert (nothing.verdict, nothing.default_applied, nothing.matched) == (
        Verdict.ESCALATE,
        True,
        (),
    )
    assert "no rule matched, pack default `escalate`" in nothing.explanation
    task = decide(pack, ctx(action={"kind": "create_task", "motion": "acquisition"}))
    assert (task.verdict, task.default_applied) == (Verdict.AUTO, False)


def test_a_rule_that_fails_to_evaluate_fails_closed_and_is_recorded(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        rules:
          - {id: gold, when: 'action.payload.tier == "gold"', decision: auto, reason: r}
          - {id: tasks, when: 'action.kind == "create_task"', decision: auto, reason: r}
    """
        )
    )
    d = decide(pack, ctx(action={"kind": "create_task", "motion": "acquisition", "payload": {}}))
    assert d.verdict is Verdict.ESCALATE  # never open: an error can't let an action run
    assert "gold" in d.matched
    assert d.errors[0].rule_id == "gold" and "no such key" in d.errors[0].message
    assert "failed to evaluate" in d.explanation


def test_a_failing_definition_fails_every_rule_that_uses_it(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        definitions:
          gold: action.payload.tier == "gold"
        rules:
          - {id: gold-auto, when: gold && action.kind == "notify", decision: auto, reason: r}
    """
        )
    )
    d = decide(pack, ctx(action={"kind": "notify", "motion": "acquisition"}))
    assert d.verdict is Verdict.ESCALATE and "definition `gold`" in d.errors[0].message


@pytest.mark.parametrize("damage", ["counters", "contact"])
def test_a_malformed_context_fails_closed_instead_of_crashing(damage):
    broken = ctx(action={"kind": "notify", "motion": "acquisition"})
    broken[damage] = {}
    d = decide(PACK, broken)
    assert d.verdict >= Verdict.ESCALATE
    assert d.errors


def test_an_escalation_names_who_answers():
    d = decide(
        PACK, ctx(action={"kind": "offer_discount", "motion": "acquisition", "discount_pct": 20})
    )
    assert (d.verdict, d.escalate_to) == (Verdict.ESCALATE, "manager")


def test_exit_criteria_block_an_advance_and_name_what_is_missing():
    d = decide(
        PACK,
        ctx(
            action={"kind": "advance_stage", "motion": "acquisition", "to_stage": "evaluation"},
            deal={"stage": "engaging"},
            account={"facts": {"pain": 1}},
            model={"confidence": 0.99},
        ),
    )
    assert d.verdict is Verdict.BLOCK
    assert d.missing_criteria == ("engaging.champion_identified",)
    assert "exit criteria not met: engaging.champion_identified" in d.explanation


def test_an_unknown_target_stage_is_blocked():
    d = decide(
        PACK,
        ctx(
            action={"kind": "advance_stage", "motion": "acquisition", "to_stage": "won-ish"},
            model={"confidence": 0.99},
        ),
    )
    assert d.verdict is Verdict.BLOCK and "unknown target stage `won-ish`" in d.explanation


# -- properties ---------------------------------------------------------------------------------

texts = st.sampled_from(
    [
        "",
        "smb",
        "mid_market",
        "enterprise",
        "prospect",
        "customer",
        "churned",
        "Chief Executive Officer",
        "x",
    ]
)


def _random_context(
    kind,
    motion,
    conf,
    pct,
    amount,
    seg,
    state,
    dnc,
    contact,
    deal,
    dstage,
    touches,
    auto,
    risks,
    churn,
    answered,
    fit,
    role,
    mrr,
    stakeholders,
):
    return merge_context(
        {
            "action": {
                "kind": kind,
                "motion": motion,
                "discount_pct": pct,
                "amount": amount,
                "to_stage": dstage,
                "uncited_claims": int(pct) % 2,
                "unsupported_promises": int(amount) % 2,
            },
            "account": {"segment": seg, "customer_state": state, "icp_fit": fit, "mrr": mrr},
            "contact": {"exists": contact, "do_not_contact": dnc, "role": role},
            "deal": {
                "exists": deal,
                "stage": dstage,
                "amount": amount,
                "stakeholders": stakeholders,
            },
            "model": {"confidence": conf},
            "counters": {
                "contact_touches": touches,
                "account_touches": touches * 3,
                "motion_auto_today": auto,
                "open_risks": risks,
                "churn_risk": churn,
                "save_play_answered": answered,
            },
        }
    )


contexts = st.builds(
    _random_context,
    st.sampled_from(ACTION_KINDS),
    st.sampled_from(MOTIONS),
    st.floats(0, 1),
    st.floats(0, 100),
    st.floats(0, 500_000),
    st.sampled_from(["", "smb", "mid_market", "enterprise"]),
    st.sampled_from(["prospect", "customer", "churned"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "prospecting", "engaging", "evaluation", "proposal", "negotiation"]),
    st.integers(0, 6),
    st.integers(0, 300),
    st.integers(0, 3),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "CEO", "Office manager", "VP Sales"]),
    st.floats(0, 20000),
    st.integers(0, 4),
)
rule_sources = st.sampled_from(
    [
        'action.kind == "send_email"',
        "model.confidence < 0.5",
        'account.segment == "enterprise"',
        "counters.contact_touches > 1",
        "deal.exists && deal.amount > 1000.0",
        "contact.do_not_contact",
        'action.motion == "retention_expansion"',
        "true",
        "action.discount_pct > 50.0",
        "action.payload.x == 1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(context=contexts, when=rule_sources, verdict=st.sampled_from(list(V)))
def test_adding_a_rule_never_makes_a_decision_less_restrictive(context, when, verdict):
    """A new rule never lowers a decision that rules made. Where no rule matched, the pack
    default stood in; a matching new rule replaces it (that is how RevOps automates
    something new), and the result is still at least the new rule's decision."""
    from revfield.policies._conditions import compile_condition

    before = decide(PACK, context)
    extra = CompiledRule(
        "extra-rule", verdict, "r", None, compile_condition(when), PACK.rules[0].pos
    )
    after = decide(PACK.with_rules([*PACK.rules, extra]), context)
    if not before.default_applied:
        assert after.verdict >= before.verdict
    elif "extra-rule" in after.matched:
        assert after.verdict >= verdict
    else:
        assert after.verdict == before.verdict


@settings(max_examples=300, deadline=None)
@given(context=contexts)
def test_guardrails_never_loosen_a_decision(context):
    d = decide(PACK, context)
    rules_only = max(
        (next(r.verdict for r in PACK.rules if r.id == m) for m in d.matched), default=PACK.default
    )
    if d.errors:
        rules_only = max(rules_only, Verdict.ESCALATE)
    assert d.verdict >= rules_only
    assert all(d.verdict >= g.at_least for g in d.guardrails)


@settings(max_examples=300, deadline=None)
@given(context=contexts)
def test_evaluation_is_deterministic_and_any_valid_context_evaluates(context):
    first, second = decide(PACK, context), decide(PACK, context)
    assert (first.verdict, first.matched, first.guardrails, first.explanation) == (
        second.verdict,
        second.matched,
        second.guardrails,
        second.explanation,
    )
    assert first.errors == ()  # the default pack never fails on a context valid under the schema


@settings(max_examples=200, deadline=None)
@given(context=contexts)
def test_explain_shows_exactly_the_rules_decide_counted(context):
    """`policy explain` and the decision come from one evaluation: every rule explain shows as
    holding (or failing) is one decide counted, in pack order, and no other."""
    shown = explain(PACK, context)
    assert [o.rule_id for o in shown] == [r.id for r in PACK.rules]
    assert (
        tuple(o.rule_id for o in shown if o.outcome is not False) == decide(PACK, context).matched
    )


def test_the_default_pack_never_lets_a_model_fault_run_by_itself():
    for kind in ACTION_KINDS:
        d = decide(
            PACK,
            ctx(
                action={"kind": kind, "motion": "acquisition"},
                model={"fault": True, "confidence": 1.0},
            ),
        )
        assert d.verdict >= Verdict.ESCALATE, kind


@pytest.mark.parametrize("kind", ACTION_KINDS)
def test_an_opted_out_contact_blocks_every_action_kind_addressed_to_them(kind):
    d = decide(
        PACK, ctx(action={"kind": kind, "motion": "acquisition"}, contact={"do_not_contact": True})
    )
    assert d.verdict is Verdict.BLOCK


def test_the_explanation_leads_with_what_decided():
    """A guardrail that made the decision stricter comes first; the rule it overrode after."""
    ctx = merge_context(
        {
            "action": {"kind": "advance_stage", "motion": "acquisition", "to_stage": "proposal"},
            "deal": {"stage": "discovery"},
            "model": {"confidence": 0.95},
        }
    )
    d = decide(PACK, ctx)
    assert d.verdict is Verdict.BLOCK
    assert d.explanation.startswith("block: exit-criteria: cannot reach `proposal`")
    assert "over rule `" in d.explanation
