"""The expansion & retention agent: customers' orbital signals → growth or a save play.

Retention first: while the account's churn risk is open, it proposes a save play and no
expansion push, whatever the event (the pack's retention-first guardrail enforces the same).
One save play per risk: a later risk signal joins the risk (a note to the owner), a growth
signal waits. Once the save play is approved or went out, or the risk is resolved, growth
signals propose expansion again — still decided by the policy.

    usage near limit, seat growth            → expansion opportunity + an expansion email
    churn risk, ticket cluster, champion left,
    NPS detractor, inactivity                 → save play (+ a note to the owner)
    renewal due                               → a note to the owner + a renewal check-in
                                                 (only the note while a churn risk is open:
                                                 the deal desk makes the offer)
    intent, replies, meetings, deviations     → a check-in email or a task
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from revfield.agents._common import (
    EventView,
    Proposal,
    draft_email,
    pick_contact,
)
from revfield.agents._playbook import Playbook
from revfield.agents._spec import AgentSpec
from revfield.domain import (
    ActionKind,
    CustomerState,
    FactType,
    Motion,
    ProposedAction,
    RiskStatus,
    is_churn_risk,
)
from revfield.domain import FieldEventKind as K
from revfield.llm import Model
from revfield.memory import AccountMemory, ContactView
from revfield.route import Handles

__all__ = ["AGENT", "EXPANSION_EVENTS", "RISK_EVENTS", "open_churn_risks", "propose"]

NAME = "expansion_retention"
M = Motion.RETENTION_EXPANSION
EXPANSION_EVENTS = {"usage_near_limit", "seat_growth"}
RISK_EVENTS = {"churn_risk", "ticket_cluster", "champion_left", "nps_detractor", "inactivity"}
CUSTOMER_EVENTS = {
    K.USAGE_NEAR_LIMIT,
    K.SEAT_GROWTH,
    K.CHURN_RISK,
    K.TICKET_CLUSTER,
    K.CHAMPION_LEFT,
    K.NPS_DETRACTOR,
    K.INACTIVITY,
    K.RENEWAL_DUE,
    K.INTENT_SURGE,
    K.POSITIVE_REPLY,
    K.OBJECTION,
    K.MEETING_BOOKED,
    K.GOVERNANCE_DEVIATION,
}
"""Every event of a customer this agent acts on (a renewal too: a check-in before it)."""
UPLIFT = 0.3
"""Expected growth of annual value when a customer at its limit moves up (for the amount)."""


def open_churn_risks(memory: AccountMemory) -> list[int]:
    return [f.id for f in memory.facts.get(FactType.RISK, []) if is_churn_risk(f.subject)]


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    base = {
        "motion": M,
        "account_id": memory.account.id,
        "model": model.name,
        "field_event_id": event.id,
    }
    risk = memory.churn_risk
    open_risk = risk if risk is not None and risk.status is RiskStatus.OPEN else None
    risks = list(open_risk.fact_ids) if open_risk else open_churn_risks(memory)
    if open_risk is not None and open_risk.save_play_live:
        play = f"save play #{open_risk.save_play_action_id}"
        if event.kind in RISK_EVENTS:  # the signal joins the risk the save play works off
            note = f"New signal on the open churn risk at {memory.account.name}: {event.detail}"
            return Proposal([_note(memory, event, base, f"{note} ({play})")], {"risk": risk})
        if event.kind in EXPANSION_EVENTS and not open_risk.save_play_answered:
            held = (
                f"Expansion held back: {memory.account.name} has an open churn risk; its "
                f"{play} is waiting ({event.detail})"
            )
            return Proposal([_note(memory, event, base, held)], {"retention_first": True})
    if event.kind == K.RENEWAL_DUE:
        return _renewal(memory, event, model, base, open_risk is not None)
    if event.kind in RISK_EVENTS or (
        open_risk is not None
        and not open_risk.save_play_answered
        and event.kind in EXPANSION_EVENTS
    ):
        return _save_play(memory, event, risks, base)
    contact = pick_contact(memory, event)
    if event.kind in EXPANSION_EVENTS:
        mrr = memory.account.mrr or 0.0
        amount = round(max(mrr, 100.0) * 12 * UPLIFT, 2)
        opportunity = ProposedAction(
            kind=ActionKind.CREATE_EXPANSION_OPPORTUNITY,
            channel="crm",
            amount=amount,
            subject=f"Expansion: {memory.account.name} ({event.detail})",
            payload={
                "plan": memory.account.plan,
                "seats": memory.account.seats,
                "mrr": mrr,
                "reason": event.detail,
                "event": event.kind,
            },
            cited_signal_ids=list(event.signal_ids),
            confidence=0.85,
            **base,
        )
        actions = [opportunity]
        if contact is not None:
            email = _email(memory, event, model, contact, "expansion", base)
            if isinstance(email, Proposal):
                return email
            actions.append(email)
        return Proposal(actions)
    if contact is None:
        return Proposal(
            [_note(memory, event, base, f"{event.detail}: no contact known to check in with")]
        )
    email = _email(memory, event, model, contact, "check_in", base)
    return email if isinstance(email, Proposal) else Proposal([email])


def _renewal(
    memory: AccountMemory, event: EventView, model: Model, base: dict[str, Any], at_risk: bool
) -> Proposal:
    """A renewal coming up: the owner hears of it; a customer not at risk gets a check-in
    (at risk, the save play and the deal desk's offer speak for us instead)."""
    end = event.data.get("end_date")
    note = f"Renewal of {memory.account.name}: {event.detail}"
    if at_risk:
        note += "; a churn risk is open: the deal desk proposes the offer"
    actions = [_note(memory, event, base, note)]
    contact = pick_contact(memory, event)
    if not at_risk and contact is not None:
        email = _email(memory, event, model, contact, "check_in", base, reason="renewal")
        if isinstance(email, Proposal):
            return email
        actions.append(email)
    return Proposal(actions, {"renewal": end, "at_risk": at_risk})


def _email(
    memory: AccountMemory,
    event: EventView,
    model: Model,
    contact: ContactView,
    purpose: str,
    base: dict[str, Any],
    *,
    reason: str | None = None,
) -> ProposedAction | Proposal:
    kinds = {
        "expansion": (FactType.USE_CASE,),
        "check_in": (FactType.SUCCESS_CRITERION, FactType.USE_CASE),
    }[purpose]
    return draft_email(
        memory,
        event,
        model,
        contact,
        agent=NAME,
        purpose=purpose,
        fact_types=kinds,
        sender=memory.account.owner.name if memory.account.owner else "your account team",
        payload={"purpose": purpose, **({"reason": reason} if reason else {})},
        fields=base,
    )


def _save_play(
    memory: AccountMemory, event: EventView, risks: list[int], base: dict[str, Any]
) -> Proposal:
    risk_facts = [f for f in memory.facts.get(FactType.RISK, []) if f.id in risks or not risks][:5]
    steps = [
        "Call the champion within two business days",
        "Review open tickets with support",
        "Agree a recovery plan with dates",
    ]
    if event.kind == "champion_left":
        steps[0] = "Find and meet the new owner of the tool"
    play = ProposedAction(
        kind=ActionKind.SAVE_PLAY,
        channel="crm",
        subject=f"Save play: {memory.account.name}",
        body=f"{event.detail}\n" + "\n".join(f"- {f.value}" for f in risk_facts),
        payload={
            "steps": steps,
            "event": event.kind,
            "mrr": memory.account.mrr or 0.0,
            "risks": [{"fact_id": f.id, "value": f.value} for f in risk_facts],
        },
        cited_fact_ids=[f.id for f in risk_facts],
        cited_signal_ids=list(event.signal_ids),
        confidence=0.85,
        **base,
    )
    actions = [
        play,
        _note(memory, event, base, f"Retention risk at {memory.account.name}: {event.detail}"),
    ]
    if event.kind in EXPANSION_EVENTS:
        actions[1] = _note(
            memory,
            event,
            base,
            f"Expansion held back: {memory.account.name} has an open churn risk ({event.detail})",
        )
    return Proposal(actions, {"retention_first": event.kind in EXPANSION_EVENTS})


def _note(
    memory: AccountMemory, event: EventView, base: dict[str, Any], text: str
) -> ProposedAction:
    owner = memory.account.owner.id if memory.account.owner else "unassigned"
    return ProposedAction(
        kind=ActionKind.NOTIFY,
        channel="internal",
        subject=text[:200],
        body=event.detail,
        payload={"to": owner, "event": event.kind},
        cited_signal_ids=list(event.signal_ids),
        **base,
    )


AGENT = AgentSpec(
    name=NAME,
    propose=propose,
    handles=(Handles.of(CUSTOMER_EVENTS, [CustomerState.CUSTOMER]),),
    description="Customers: expansion opportunities and save plays, retention first.",
)
