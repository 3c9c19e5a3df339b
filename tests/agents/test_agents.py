"""Each agent's proposals, from memory, as a seller or delivery lead would read them."""

from __future__ import annotations

import pytest

from revfield.agents import EventView
from revfield.agents import _expansion as expansion
from revfield.agents import _handover as handover
from revfield.agents import _outreach as outreach
from revfield.domain import ActionKind, FactType, Motion, ProposedAction
from revfield.llm import Draft, DraftClaim
from revfield.memory import recall
from revfield.policies import build_context, decide
from revfield.testing import ScriptedModel
from tests.agents import world
from tests.factories import T0


def _ctx(store, account_id):
    with store.read() as s:
        return recall(s, account_id)


def _event(kind, account_id, **kw):
    return EventView(
        id=1, kind=kind, account_id=account_id, signal_ids=(), detail=kind, occurred_at=T0, **kw
    )


def test_outreach_cites_a_fact_for_every_personal_claim(store):
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    pain = world.fact(
        store, "acme.io", FactType.PAIN, "Our reps update the CRM manually every Friday"
    )
    p = outreach.propose(
        _ctx(store, "acme.io"),
        _event("intent_surge", "acme.io", contact_id=pat),
        ScriptedModel(),
        world.PACK.playbook,
        T0,
    )
    email = next(a for a in p.actions if a.kind == ActionKind.SEND_EMAIL)
    assert email.contact_id == pat and pain in email.cited_fact_ids and email.uncited_claims == 0
    assert "update the CRM manually" in email.body and email.confidence >= 0.8
    follow = next(a for a in p.actions if a.kind == ActionKind.SCHEDULE_FOLLOWUP)
    assert follow.after == ActionKind.SEND_EMAIL  # goes out only once the email has
    assert follow.payload["due_in_days"] == 3  # due counted from when it goes out


def test_a_draft_with_an_uncited_claim_goes_to_a_person(store):
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "Forecasts differ by region")
    invented = Draft(
        subject="Hi",
        body="You told us you are switching vendors.",
        claims=[
            DraftClaim(text="you are switching vendors", cites=[]),
            DraftClaim(text="your CFO asked for this", cites=[999_999]),
        ],
    )
    model = ScriptedModel(answers={"draft_message": [invented]})
    p = outreach.propose(
        _ctx(store, "acme.io"),
        _event("intent_surge", "acme.io", contact_id=pat),
        model,
        world.PACK.playbook,
        T0,
    )
    email = next(a for a in p.actions if a.kind == ActionKind.SEND_EMAIL)
    assert email.uncited_claims == 2 and email.confidence < 0.6
    from revfield.policies import decide, merge_context

    ctx = merge_context(
        {
            "action": {
                "kind": "send_email",
                "motion": "acquisition",
                "uncited_claims": email.uncited_claims,
            },
            "contact": {"exists": True},
            "model": {"confidence": email.confidence},
            "account": {"exists": True, "segment": "smb", "icp_fit": True},
        }
    )
    assert "uncited-claims" in decide(world.PACK, ctx).matched


def test_complex_deals_are_marked_and_objections_become_a_task_for_the_owner(store):
    world.people(store)
    world.account(store, "globex.com", segment="enterprise")
    world.contact(store, "globex.com")
    p = outreach.propose(
        _ctx(store, "globex.com"),
        _event("objection", "globex.com"),
        ScriptedModel(),
        world.PACK.playbook,
        T0,
    )
    assert [a.kind for a in p.actions] == [ActionKind.CREATE_TASK] and "complex" in p.actions[
        0
    ].tags


def test_handover_carries_the_acquisition_facts_and_checks_every_promise(store):
    world.people(store)
    world.account(store, "initech.com", state="customer")
    facts = {
        world.fact(store, "initech.com", FactType.PAIN, "Every region sends different numbers"),
        world.fact(
            store, "initech.com", FactType.SUCCESS_CRITERION, "Forecast within 5% by next quarter"
        ),
        world.fact(
            store, "initech.com", FactType.CHAMPION, "Dana will champion this", subject="champion"
        ),
        world.fact(
            store, "initech.com", FactType.COMPETITOR, "Also evaluating Clari", subject="clari"
        ),
        world.fact(
            store, "initech.com", FactType.PROMISE, "You promised the Salesforce sync in week one"
        ),
        world.fact(
            store, "initech.com", FactType.PROMISE, "We were told on-prem deployment is possible"
        ),
        world.fact(
            store, "initech.com", FactType.PROMISE, "You said a dedicated teleporter is included"
        ),
    }
    p = handover.propose(
        _ctx(store, "initech.com"),
        _event("closed_won", "initech.com"),
        ScriptedModel(),
        world.PACK.playbook,
        T0,
    )
    brief = next(a for a in p.actions if a.kind == ActionKind.HANDOVER_BRIEF)
    assert set(brief.cited_fact_ids) == facts
    assert brief.payload["conservation"] == {"carried": 7, "known": 7, "ratio": 1.0}
    status = {x["promise"]: x["status"] for x in brief.payload["promises"]}
    assert status == {
        "You promised the Salesforce sync in week one": "supported",
        "We were told on-prem deployment is possible": "unsupported",
        "You said a dedicated teleporter is included": "unknown",
    }
    assert brief.unsupported_promises == 2  # not in the catalog counts: nobody can deliver it
    assert "Success means" in brief.body or "Pains" in brief.body


def test_conservation_counts_what_the_brief_could_not_carry(store, monkeypatch):
    world.people(store)
    world.account(store, "initech.com", state="customer")
    for i in range(5):
        world.fact(
            store,
            "initech.com",
            FactType.STAKEHOLDER,
            f"Stakeholder {i} signs off",
            subject=f"s{i}",
        )
    monkeypatch.setattr(handover, "PER_TYPE", 3)
    p = handover.propose(
        _ctx(store, "initech.com"),
        _event("closed_won", "initech.com"),
        ScriptedModel(),
        world.PACK.playbook,
        T0,
    )
    assert p.notes["conservation"] == 3 / 5


def test_retention_comes_first_an_open_churn_risk_turns_expansion_into_a_save_play(store):
    world.people(store)
    world.account(store, "initech.com", state="customer", plan="Pro", mrr=2000.0)
    world.contact(store, "initech.com")
    event = _event("usage_near_limit", "initech.com")
    calm = expansion.propose(
        _ctx(store, "initech.com"), event, ScriptedModel(), world.PACK.playbook, T0
    )
    assert {a.kind for a in calm.actions} == {
        ActionKind.CREATE_EXPANSION_OPPORTUNITY,
        ActionKind.SEND_EMAIL,
    }
    assert (
        next(a for a in calm.actions if a.kind == ActionKind.CREATE_EXPANSION_OPPORTUNITY).amount
        == 7200.0
    )
    world.fact(
        store,
        "initech.com",
        FactType.RISK,
        "We will not renew unless sync is fixed",
        subject="churn",
    )
    risky = expansion.propose(
        _ctx(store, "initech.com"), event, ScriptedModel(), world.PACK.playbook, T0
    )
    assert [a.kind for a in risky.actions] == [ActionKind.SAVE_PLAY, ActionKind.NOTIFY]
    assert risky.notes["retention_first"] and "held back" in risky.actions[1].subject


@pytest.mark.parametrize(
    ("subject", "churn"),
    [("churn", True), ("churn: detractor", True), ("customer churn", True), ("budget", False)],
)
def test_the_agent_and_the_guardrail_agree_on_what_is_a_churn_risk(store, clock, subject, churn):
    """One predicate: whenever the expansion agent holds growth back for a save play, the
    retention-first guardrail sees the same open churn risk — and neither does without it."""
    world.people(store)
    world.account(store, "initech.com", state="customer", plan="Pro", mrr=2000.0)
    world.contact(store, "initech.com")
    world.fact(store, "initech.com", FactType.RISK, "Renewal is at risk", subject=subject)
    event = _event("usage_near_limit", "initech.com")
    proposal = expansion.propose(
        _ctx(store, "initech.com"), event, ScriptedModel(), world.PACK.playbook, T0
    )
    held_back = proposal.actions[0].kind == ActionKind.SAVE_PLAY
    growth = ProposedAction(
        kind=ActionKind.CREATE_EXPANSION_OPPORTUNITY,
        motion=Motion.RETENTION_EXPANSION,
        account_id="initech.com",
        amount=7200.0,
    )
    with store.read() as s:
        ctx = build_context(s, world.PACK, growth, clock.now())
    guarded = "retention-first" in [g.id for g in decide(world.PACK, ctx).guardrails]
    assert held_back is guarded is ctx["counters"]["churn_risk"] is churn
