"""The onboarding handover agent: on closed-won, everything the sale learned goes to delivery.

The brief is compiled from the account's memory — pains, promises, stakeholders, champion,
competitors, success criteria, use cases, objections, risks, and the timeline of the deal —
each item with the fact id and the signal it came from. Every promise is checked against
the pack's capability catalog: a promise naming something the product does not do, or
nothing the catalog knows, is unsupported and the brief escalates (sale-to-delivery
coherence). **Information conservation** is the share of the acquisition facts the brief
carries; it is recorded on the action and reported by the demo.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from revfield.agents._common import EventView, Proposal, fault
from revfield.agents._playbook import Playbook, check_promise
from revfield.agents._spec import AgentSpec
from revfield.domain import ActionKind, FactType, FieldEventKind, Motion, ProposedAction
from revfield.llm import CitedItem, HandoverRequest, Model, ModelError
from revfield.memory import AccountMemory, FactView
from revfield.route import Handles

__all__ = ["ACQUISITION_FACTS", "PER_TYPE", "propose"]

NAME = "handover"
M = Motion.RETENTION_EXPANSION
ACQUISITION_FACTS = (
    FactType.PAIN,
    FactType.PROMISE,
    FactType.SUCCESS_CRITERION,
    FactType.CHAMPION,
    FactType.STAKEHOLDER,
    FactType.COMPETITOR,
    FactType.USE_CASE,
    FactType.OBJECTION,
    FactType.RISK,
)
PER_TYPE = 12
"""Facts of one type the brief carries (newest first); more are counted as not conserved."""


def _item(f: FactView) -> dict[str, Any]:
    return {
        "fact_id": f.id,
        "value": f.value,
        "subject": f.subject,
        "confidence": round(f.confidence, 2),
        "source_signal_id": f.source_signal_id,
        "source": f.source_signal_kind.value,
        "observed_at": f.observed_at.isoformat(),
    }


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    known = {t: memory.facts.get(t, []) for t in ACQUISITION_FACTS}
    total = sum(len(v) for v in known.values())
    sections = {
        t.value: [_item(f) for f in facts[:PER_TYPE]] for t, facts in known.items() if facts
    }
    carried = sum(len(v) for v in sections.values())
    conservation = carried / total if total else 1.0
    promises = []
    for f in known[FactType.PROMISE][:PER_TYPE]:
        promises.append(
            {"fact_id": f.id, "promise": f.value, **check_promise(f.value, playbook.capabilities)}
        )
    unsupported = [p for p in promises if p["status"] != "supported"]
    deal = next((d for d in memory.closed_deals if d.id == event.deal_id), None)
    timeline = {
        "closed_at": event.occurred_at.isoformat(),
        "deal": event.deal_id,
        "deal_created_at": deal.created_at.isoformat() if deal else None,
        "amount": deal.amount if deal else None,
        "first_signal_at": min(
            (s.occurred_at for s in memory.signals), default=event.occurred_at
        ).isoformat(),
    }
    items = [
        CitedItem(id=i["fact_id"], source="fact", type=t, text=i["value"][:600])
        for t, section in sections.items()
        for i in section
    ][:100]
    try:
        summary = model.summarise_handover(
            HandoverRequest(account_name=memory.account.name, items=items)
        )
    except ModelError as exc:
        return fault(event, NAME, str(exc), model.name, M)
    fact_ids = [i["fact_id"] for section in sections.values() for i in section]
    brief = ProposedAction(
        kind=ActionKind.HANDOVER_BRIEF,
        motion=M,
        account_id=memory.account.id,
        deal_id=event.deal_id,
        channel="crm",
        subject=f"Handover brief: {memory.account.name}",
        body=summary.summary,
        payload={
            "sections": sections,
            "highlights": summary.highlights,
            "promises": promises,
            "timeline": timeline,
            "conservation": {"carried": carried, "known": total, "ratio": round(conservation, 4)},
        },
        unsupported_promises=len(unsupported),
        cited_fact_ids=fact_ids,
        cited_signal_ids=list(event.signal_ids),
        model=model.name,
        field_event_id=event.id,
        confidence=0.9,
        tags=["unsupported-promise"] if unsupported else [],
        concerns=[_concern(p) for p in unsupported],
    )
    kickoff = ProposedAction(
        kind=ActionKind.CREATE_TASK,
        motion=M,
        account_id=memory.account.id,
        deal_id=event.deal_id,
        channel="task",
        subject=f"Kick-off with {memory.account.name}: agree the success criteria",
        body="\n".join(f"- {i['value']}" for i in sections.get("success_criterion", []))
        or "No success criteria were recorded: ask for them at kick-off.",
        payload={"assignee": "onboarding", "event": event.kind},
        cited_fact_ids=[i["fact_id"] for i in sections.get("success_criterion", [])],
        cited_signal_ids=list(event.signal_ids),
        model=model.name,
        field_event_id=event.id,
    )
    notes = {
        "conservation": conservation,
        "carried": carried,
        "known": total,
        "unsupported": len(unsupported),
    }
    return Proposal([brief, kickoff], notes)


def _concern(promise: dict[str, Any]) -> str:
    """What a person must know about a promise the product may not keep, in a line."""
    said = f"promised “{promise['promise'][:120]}”"
    if promise["status"] == "unsupported":
        return f"{said}: the product does not do {promise['name']} ({promise['capability']})"
    return f"{said}: nothing in the capability catalog matches it"


AGENT = AgentSpec(
    name=NAME,
    propose=propose,
    handles=(Handles.of([FieldEventKind.CLOSED_WON]),),
    description="Onboarding handover on closed-won: what was learned and promised.",
    closed_deals=3,
)
