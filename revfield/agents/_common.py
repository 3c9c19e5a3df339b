"""What every agent shares: the event it acts on, what it proposes, and the checks on drafts.

Pure: agents receive the account's memory (an :class:`AccountMemory`) and a model, and
return proposals. They never write, send or decide; the policy layer decides on each
proposal and only the outbox acts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from revfield.domain import ActionKind, FactType, Motion, ProposedAction
from revfield.llm import CitedItem, Draft, DraftRequest, Model, ModelError
from revfield.memory import AccountMemory, ContactView, EventView, FactView, SignalView

__all__ = [
    "EventView",
    "Proposal",
    "check_draft",
    "draft_email",
    "fact_items",
    "fault",
    "pick_contact",
    "signal_items",
]

EXECUTIVE = ("ceo", "cfo", "cto", "coo", "cro", "chief", "president", "founder", "vp")


@dataclass
class Proposal:
    """What one agent run proposes, and what it measured on the way."""

    actions: list[ProposedAction]
    notes: dict[str, Any] = field(default_factory=dict)


def fact_items(
    memory: AccountMemory, types: Iterable[FactType], limit: int = 12
) -> list[CitedItem]:
    """Current facts of ``types`` as items the model may cite (newest first)."""
    out: list[CitedItem] = []
    for t in types:
        for f in memory.facts.get(t, [])[:4]:
            out.append(CitedItem(id=f.id, source="fact", type=t.value, text=f.value[:600]))
    return out[:limit]


def signal_items(signals: Sequence[SignalView], ids: Iterable[int]) -> list[CitedItem]:
    """The event's own signals as citable items, described from their payload."""
    wanted = set(ids)
    out = []
    for s in signals:
        if s.id in wanted:
            text = s.text or ", ".join(f"{k} {v}" for k, v in list(s.payload.items())[:4])
            out.append(
                CitedItem(
                    id=s.id, source="signal", type=s.kind.value, text=(text or s.kind.value)[:600]
                )
            )
    return out


@dataclass(frozen=True)
class DraftCheck:
    cited_fact_ids: list[int]
    cited_signal_ids: list[int]
    uncited_claims: int
    confidence: float


def check_draft(draft: Draft, items: Sequence[CitedItem]) -> DraftCheck:
    """Every personal claim must cite an item the agent offered; a claim citing nothing, or
    only ids that were not offered, is uncited (and the draft goes to a person)."""
    facts = {i.id for i in items if i.source == "fact"}
    signals = {i.id for i in items if i.source == "signal"}
    cited_f: set[int] = set()
    cited_s: set[int] = set()
    uncited = 0
    for claim in draft.claims:
        hits = [c for c in claim.cites if c in facts or c in signals]
        if not hits:
            uncited += 1
        cited_f.update(c for c in hits if c in facts)
        cited_s.update(c for c in hits if c in signals)
    confidence = 0.5 if uncited else (0.9 if draft.claims else 0.7)
    return DraftCheck(sorted(cited_f), sorted(cited_s), uncited, confidence)


def pick_contact(memory: AccountMemory, event: EventView) -> ContactView | None:
    """Who to write to: the event's own contact, else the champion, else the first contact
    with a role, else any contact; contacts who can't be reached (opted out, left the
    company) only if nobody else is there (the policy then blocks it)."""
    contacts = {c.id: c for c in memory.contacts}
    reachable = [c for c in memory.contacts if not c.do_not_contact and c.email]
    own = contacts.get(event.contact_id) if event.contact_id is not None else None
    if own is not None and (not own.do_not_contact or not reachable):
        return own
    champions: list[FactView] = memory.facts.get(FactType.CHAMPION, [])
    for f in champions:
        if f.contact_id in contacts and not contacts[f.contact_id].do_not_contact:
            return contacts[f.contact_id]
    with_role = [c for c in reachable if c.role]
    if with_role:
        return with_role[0]
    return reachable[0] if reachable else (memory.contacts[0] if memory.contacts else None)


def fault(event: EventView, agent: str, reason: str, model: str, motion: Motion) -> Proposal:
    """A model fault: no draft, no guess — one notification that escalates with the reason."""
    action = ProposedAction(
        kind=ActionKind.NOTIFY,
        motion=motion,
        account_id=event.account_id,
        channel="internal",
        subject=f"{agent}: the model failed on {event.kind.replace('_', ' ')}",
        body=(
            f"{event.detail}\n\nThe model could not help: {reason}. "
            "A person should decide what to do."
        ),
        payload={"event": event.kind, "reason": reason},
        confidence=0.0,
        model=model,
        model_fault=reason,
        cited_signal_ids=list(event.signal_ids),
        field_event_id=event.id,
    )
    return Proposal([action], {"model_fault": reason})


def draft_email(
    memory: AccountMemory,
    event: EventView,
    model: Model,
    contact: ContactView,
    *,
    agent: str,
    purpose: str,
    fact_types: Iterable[FactType],
    sender: str,
    payload: dict[str, Any],
    fields: dict[str, Any],
) -> ProposedAction | Proposal:
    """An email to ``contact`` drafted by the model from memory only. The model is offered the
    account's current facts of ``fact_types`` and the event's own signals, and every personal
    claim it makes must cite one of them: uncited claims are counted on the action (the policy
    sends such a draft to a person). ``fields`` are the action's other fields (``motion`` among
    them), ``payload`` what it carries besides the recipient and the claims. A model failure
    gives the escalation :func:`fault` proposes instead of an email."""
    items = fact_items(memory, fact_types) + signal_items(memory.signals, event.signal_ids)
    request = DraftRequest(
        purpose=purpose,
        account_name=memory.account.name,
        recipient_name=contact.name or "",
        sender_name=sender,
        items=items,
    )
    try:
        draft = model.draft_message(request)
    except ModelError as exc:
        return fault(event, agent, str(exc), model.name, fields["motion"])
    check = check_draft(draft, items)
    return ProposedAction(
        kind=ActionKind.SEND_EMAIL,
        contact_id=contact.id,
        channel="email",
        subject=draft.subject,
        body=draft.body,
        confidence=check.confidence,
        cited_fact_ids=check.cited_fact_ids,
        cited_signal_ids=sorted({*event.signal_ids, *check.cited_signal_ids}),
        uncited_claims=check.uncited_claims,
        payload={
            "to": contact.email or "",
            "claims": [c.model_dump() for c in draft.claims],
            **payload,
        },
        **fields,
    )
