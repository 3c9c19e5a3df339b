"""Submitting an action proposed outside revfield (another system, another LangGraph graph, a
person at the command line): it becomes a field event of kind ``action_submitted`` that the
``submitted`` agent proposes as given, so it takes the same path as an agent's proposal —
decision, guardrails, the review ladder, the outbox, the audit trail.

The same idempotency key (given, or the action's own digest) is the same action: submitting
it again answers what became of the first one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from revfield.domain import (
    EventStatus,
    FieldEventKind,
    Motion,
    ProposalError,
    ProposedAction,
)
from revfield.memory import (
    AccountNotFoundError,
    NewFieldEvent,
    Session,
    actions_of_run,
    cited_facts,
    find_account_id,
    get_review,
    latest_decision,
    pending_review_id,
    recall,
)
from revfield.policies import CompiledPack

__all__ = ["SubmitResult", "prepare_submission", "submission_result"]

AGENT = "submitted"
_CALLER_FIELDS = {"account_id", "contact_id", "field_event_id", "cited_fact_ids", "after"}


@dataclass(frozen=True)
class SubmitResult:
    """What became of a submitted action."""

    action_id: int
    event_id: int
    kind: str
    status: str
    """``queued``, ``pending_review``, ``blocked``, ``executed``, ``rejected``…"""
    verdict: str
    """The policy's decision: ``auto``, ``review``, ``escalate`` or ``block``."""
    rules: tuple[str, ...]
    explanation: str
    policy_version: str
    review_id: int | None = None
    rung: str | None = None
    """Who it waits for (``owner``, ``manager``, ``revops``), when it waits."""
    assignee_id: str | None = None
    deadline: datetime | None = None
    new: bool = True
    """False when the idempotency key named an action submitted before."""

    @property
    def message(self) -> str:
        """What happened, in a sentence."""
        again = "" if self.new else " (submitted before: this is the same action)"
        if self.status == "pending_review":
            who = f"the {self.rung}" + (f" ({self.assignee_id})" if self.assignee_id else "")
            by = f" by {self.deadline:%Y-%m-%d %H:%M}" if self.deadline else ""
            return (
                f"action #{self.action_id} waits for {who}{by}, review #{self.review_id}: "
                f"{self.explanation}{again}"
            )
        if self.status == "blocked":
            return f"action #{self.action_id} is blocked: {self.explanation}{again}"
        if self.status == "queued":
            return f"action #{self.action_id} is queued for delivery: {self.explanation}{again}"
        return f"action #{self.action_id} is {self.status}: {self.explanation}{again}"


def _contact_id(session: Session, account_id: str, contact: int | str | None) -> int | None:
    if contact is None:
        return None
    memory = recall(session, account_id, signals=0, count_signals=False)
    for c in memory.contacts:
        if contact == c.id or (isinstance(contact, str) and contact.lower() == (c.email or "")):
            return c.id
        if isinstance(contact, str) and contact.isdigit() and int(contact) == c.id:
            return c.id
    raise ProposalError(f"contact `{contact}` is not a contact of {account_id}")


def prepare_submission(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction | Mapping[str, Any],
    *,
    account: str,
    contact: int | str | None,
    cites: Sequence[int],
    idempotency_key: str | None,
    source: str,
    now: datetime,
) -> NewFieldEvent:
    """The field event that carries a submitted action, with the action checked against the
    pack's catalog. Raises :class:`~revfield.domain.ProposalError` naming what is wrong (an
    unknown account, contact, kind, field or cited fact); nothing is stored."""
    try:
        account_id = find_account_id(session, account)
    except AccountNotFoundError as exc:
        raise ProposalError(str(exc)) from None
    data = action.model_dump(mode="json") if isinstance(action, ProposedAction) else dict(action)
    given = sorted(_CALLER_FIELDS & set(data) - {"account_id", "contact_id", "cited_fact_ids"})
    if given:
        raise ProposalError(f"`{given[0]}` is set by revfield, not by a submission")
    data["account_id"] = account_id
    contact_id = _contact_id(session, account_id, contact)
    if contact_id is not None:
        data["contact_id"] = contact_id
    facts = [int(i) for i in (cites or data.get("cited_fact_ids") or [])]
    found = {i for i, _, _ in cited_facts(session, facts, account_id)}
    missing = [i for i in facts if i not in found]
    if missing:
        raise ProposalError(f"fact #{missing[0]} is not a fact of {account_id}; cite its facts")
    data["cited_fact_ids"] = facts
    kind = str(data.get("kind", ""))
    if "motion" not in data:
        spec = pack.catalog.spec(kind)
        if spec is not None and spec.motion is not None:
            data["motion"] = spec.motion.value
        else:
            state = recall(session, account_id, signals=0, count_signals=False)
            data["motion"] = Motion.of_state(state.account.customer_state).value
    data.setdefault("model", f"submitted:{source}")
    try:
        proposed = ProposedAction.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "action"
        if err["type"] == "extra_forbidden":
            raise ProposalError(
                f"unknown action field `{where}` (the fields of a kind the pack declares go "
                "in `payload`)"
            ) from None
        raise ProposalError(f"action field `{where}`: {err['msg']}") from None
    proposed = pack.catalog.check(proposed)
    key = idempotency_key or proposed.digest()
    if not key.strip() or len(key) > 160:
        raise ProposalError("an idempotency key is 1 to 160 characters")
    return NewFieldEvent(
        account_id=account_id,
        kind=FieldEventKind.ACTION_SUBMITTED.value,
        key="submit:" + hashlib.sha256(key.encode()).hexdigest()[:40],
        signal_ids=tuple(proposed.cited_signal_ids),
        detail=f"{proposed.kind.replace('_', ' ')} submitted by {source}",
        data={
            "action": proposed.model_dump(mode="json"),
            "source": source,
            "idempotency_key": key,
        },
        occurred_at=now,
        detected_at=now,
        agent=AGENT,
        status=EventStatus.PENDING,
        contact_id=proposed.contact_id,
        deal_id=proposed.deal_id,
    )


def submission_result(session: Session, event_id: int, *, new: bool) -> SubmitResult:
    """What became of the action the event ``event_id`` carries."""
    (action,) = actions_of_run(session, event_id, AGENT)
    decision = latest_decision(session, action.id)
    review_id = pending_review_id(session, action.id)
    review = get_review(session, review_id) if review_id else None
    return SubmitResult(
        action_id=action.id,
        event_id=event_id,
        kind=action.kind,
        status=action.status.value,
        verdict=decision.verdict if decision else "",
        rules=tuple(decision.matched_rules) if decision else (),
        explanation=decision.explanation if decision else "",
        policy_version=decision.policy_version if decision else "",
        review_id=review_id,
        rung=review.assignee_role if review else None,
        assignee_id=review.assignee_id if review else None,
        deadline=review.deadline_at if review else None,
        new=new,
    )
