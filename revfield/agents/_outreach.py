"""The outreach agent (acquisition): drafts from memory only, cites everything it claims.

    intent surge, trial usage, no-contact deviation → a follow-up email + a follow-up task
    positive reply                                  → a reply proposing a meeting, + stage advance
    objection                                        → a task for the owner to answer it
    meeting booked                                   → a prep task with what memory knows
    other governance deviations                      → a task for the deal's owner

Every personal claim in a draft cites a fact or signal id the agent offered the model; a
draft with an uncited claim is still proposed, flagged, and the policy sends it to a person.
Complex deals (enterprise, several stakeholders) are marked so the policy routes them to the
owner. A model failure proposes nothing but an escalation with the reason.
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
from revfield.domain import ActionKind, CustomerState, FactType, Motion, ProposedAction
from revfield.domain import FieldEventKind as K
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Handles

__all__ = ["AGENT", "propose"]

NAME = "outreach"
M = Motion.ACQUISITION
DRAFT_FACTS = (FactType.PAIN, FactType.SUCCESS_CRITERION, FactType.USE_CASE, FactType.OBJECTION)
WRITE_TO = {"intent_surge", "positive_reply", "usage_near_limit", "seat_growth", "ticket_cluster"}
FOLLOW_UP_DAYS = 3
ACQUISITION = {K.INTENT_SURGE, K.POSITIVE_REPLY, K.OBJECTION, K.MEETING_BOOKED}
ACQUISITION |= {K.GOVERNANCE_DEVIATION}
TRIAL_EVENTS = {K.USAGE_NEAR_LIMIT, K.SEAT_GROWTH, K.TICKET_CLUSTER}
"""Product signals from a prospect (a trial): reasons to reach out, not to expand."""
WIN_BACK = {K.INTENT_SURGE, K.POSITIVE_REPLY, K.MEETING_BOOKED}


def _stakeholders(memory: AccountMemory) -> int:
    return len(memory.facts.get(FactType.STAKEHOLDER, [])) + len(
        memory.facts.get(FactType.CHAMPION, [])
    )


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    deal = next(
        (d for d in memory.open_deals if d.id == event.deal_id),
        memory.open_deals[0] if memory.open_deals else None,
    )
    complex_deal = (
        memory.account.segment is not None and memory.account.segment.value == "enterprise"
    ) or _stakeholders(memory) >= 3
    tags = ["complex"] if complex_deal else []
    owner = memory.account.owner.name if memory.account.owner else "the account team"
    common: dict[str, Any] = {
        "motion": M,
        "account_id": memory.account.id,
        "deal_id": deal.id if deal else None,
        "tags": tags,
        "model": model.name,
        "field_event_id": event.id,
        "cited_signal_ids": list(event.signal_ids),
    }
    rule = str(event.data.get("rule", ""))
    writes = event.kind in WRITE_TO or (
        event.kind == "governance_deviation" and rule == "no-contact"
    )

    if not writes:
        return Proposal([_task(event, memory, common, owner)])

    contact = pick_contact(memory, event)
    if contact is None:
        task = _task(
            event,
            memory,
            common,
            owner,
            extra="No contact is known yet: find the right person first.",
        )
        return Proposal([task], {"no_contact": True})
    email = draft_email(
        memory,
        event,
        model,
        contact,
        agent=NAME,
        purpose="reply" if event.kind == "positive_reply" else "follow_up",
        fact_types=DRAFT_FACTS,
        sender=owner,
        payload={"event": event.kind},
        fields={k: v for k, v in common.items() if k != "cited_signal_ids"},
    )
    if isinstance(email, Proposal):
        return email
    actions = [email]
    actions.append(
        ProposedAction(
            kind=ActionKind.SCHEDULE_FOLLOWUP,
            contact_id=contact.id,
            channel="task",
            after=ActionKind.SEND_EMAIL,
            subject=f"Follow up with {contact.name or contact.email} if no answer",
            payload={"due_in_days": FOLLOW_UP_DAYS},
            **common,
        )
    )
    if (
        event.kind == "positive_reply"
        and deal is not None
        and (nxt := playbook.next_stage(deal.stage))
    ):
        actions.append(
            ProposedAction(
                kind=ActionKind.ADVANCE_STAGE,
                to_stage=nxt,
                confidence=0.8,
                channel="crm",
                subject=f"Move {deal.name or deal.id} from {deal.stage} to {nxt}",
                payload={"from_stage": deal.stage},
                **common,
            )
        )
    return Proposal(actions, {"uncited_claims": email.uncited_claims})


def _task(
    event: EventView, memory: AccountMemory, common: dict[str, Any], owner: str, extra: str = ""
) -> ProposedAction:
    titles = {
        "objection": "Answer the objection",
        "meeting_booked": "Prepare the meeting",
        "governance_deviation": "Fix a governance deviation",
    }
    title = titles.get(event.kind, f"Act on {event.kind.replace('_', ' ')}")
    known = [
        f
        for t in (
            FactType.PAIN,
            FactType.OBJECTION,
            FactType.SUCCESS_CRITERION,
            FactType.STAKEHOLDER,
        )
        for f in memory.facts.get(t, [])[:2]
    ]
    lines = [f"- {f.type.value.replace('_', ' ')}: {f.value}" for f in known]
    body = "\n".join([event.detail, *lines, extra]).strip()
    return ProposedAction(
        kind=ActionKind.CREATE_TASK,
        channel="task",
        subject=f"{title}: {memory.account.name}",
        body=body,
        payload={"assignee": owner, "event": event.kind, "rule": event.data.get("rule", "")},
        cited_fact_ids=[f.id for f in known],
        **common,
    )


AGENT = AgentSpec(
    name=NAME,
    propose=propose,
    handles=(
        Handles.of(ACQUISITION | TRIAL_EVENTS, [CustomerState.PROSPECT]),
        Handles.of(WIN_BACK, [CustomerState.CHURNED]),
    ),
    description="Acquisition: prospects, and churned accounts worth winning back.",
)
