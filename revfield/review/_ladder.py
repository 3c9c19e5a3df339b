"""The escalation ladder (owner → manager → RevOps by default): opening an item on the rung a
decision calls for, and moving unanswered items one rung up once their deadline passes.

Each step up is recorded in the audit trail (``escalated``, actor ``ladder``) and leaves a
notification for the new rung's person, both in the climb's own transaction: the step, its
record and the notice to deliver exist together or not at all. The notification is delivered
afterwards (``revfield.outbox.deliver_notifications``) under the key ``escalated:<new item>``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from revfield.domain import ReviewStatus, Verdict
from revfield.memory import (
    Session,
    audit,
    get_action,
    open_review,
    pending_reviews,
    queue_notification,
    rung_holder,
    transition,
)

if TYPE_CHECKING:  # only annotations: the inbox reads review items without the pack compiler
    from revfield.policies import CompiledPack, Decision

__all__ = ["climb_ladder", "open_review_item", "rung_for"]

_ACTOR = "ladder"
"""Who the audit trail names for a step up the ladder."""


def rung_for(pack: CompiledPack, verdict: Verdict, escalate_to: str | None) -> tuple[int, str]:
    """``(level, rung)`` where a verdict puts an item: ``review`` on the first rung, ``escalate``
    on the rule's ``escalate_to`` (else the second rung)."""
    ladder = list(pack.review.ladder)
    if verdict is Verdict.ESCALATE:
        role = escalate_to or (ladder[1] if len(ladder) > 1 else ladder[0])
        return (ladder.index(role) if role in ladder else min(1, len(ladder) - 1)), role
    return 0, ladder[0]


def open_review_item(
    session: Session,
    pack: CompiledPack,
    action_id: int,
    account_id: str,
    digest: str,
    decision_id: int,
    decision: Decision,
    now: datetime,
    *,
    level: int | None = None,
    concerns: Sequence[str] = (),
    trail: list[dict[str, Any]] | None = None,
) -> int:
    """A review item for the action ``action_id`` (as it is now: ``digest``) on the rung
    ``decision`` calls for (or on ``level``); returns its id. The item's reason is the
    decision's explanation, followed by the agent's ``concerns`` (what a person must know).
    ``trail``: where its audit entry goes, for the caller to write with its own (see
    :func:`~revfield.memory.open_review`); written at once without it."""
    level_, rung = rung_for(pack, decision.verdict, decision.escalate_to)
    if level is not None:
        level_, rung = level, pack.review.ladder[level]
    return open_review(
        session,
        action_id=action_id,
        account_id=account_id,
        digest=digest,
        decision_id=decision_id,
        verdict=decision.verdict.label,
        rung=rung,
        level=level_,
        assignee_id=rung_holder(session, account_id, rung),
        reason=decision.explanation + (f" — {'; '.join(concerns)}" if concerns else ""),
        deadline_at=now + timedelta(hours=pack.review.deadline_hours),
        now=now,
        trail=trail,
    )


def climb_ladder(session: Session, pack: CompiledPack, now: datetime) -> list[tuple[int, int]]:
    """Items past their deadline move one rung up the ladder (owner → manager → revops):
    the old item is superseded and a new one opened for the same action; the step is audited
    (``escalated``) and a notification for the new rung's person stored, all in ``session``.
    Returns (old, new) review ids. Items already on the top rung stay where they are."""
    ladder = list(pack.review.ladder)
    moved = []
    for due in pending_reviews(session, due_before=now, below_level=len(ladder) - 1):
        r = due.review
        rung = ladder[r.level + 1]
        if not transition(
            session,
            r.id,
            ReviewStatus.SUPERSEDED,
            answered_at=now,
            answered_by="ladder",
            note=f"no answer by {r.deadline_at:%Y-%m-%d %H:%M}; moved to {rung}",
        ):
            continue
        action = get_action(session, r.action_id)
        assignee = rung_holder(session, r.account_id, rung)
        deadline = now + timedelta(hours=pack.review.deadline_hours)
        new_id = open_review(
            session,
            action_id=r.action_id,
            account_id=r.account_id,
            digest=action.digest,
            decision_id=r.decision_id,
            verdict=r.verdict,
            rung=rung,
            level=r.level + 1,
            assignee_id=assignee,
            reason=r.reason,
            deadline_at=deadline,
            now=now,
        )
        step = {
            "from_rung": r.assignee_role,
            "from_review": r.id,
            "from_assignee": r.assignee_id,
            "to_rung": rung,
            "to_review": new_id,
            "assignee": assignee,
            "deadline_at": deadline,
        }
        audit(
            session,
            actor=_ACTOR,
            event="escalated",
            at=now,
            account_id=r.account_id,
            action_id=r.action_id,
            review_id=new_id,
            missed_deadline=r.deadline_at,
            **step,
        )
        queue_notification(
            session,
            key=f"escalated:{new_id}",
            review_id=new_id,
            account_id=r.account_id,
            recipient_id=assignee,
            rung=rung,
            payload={
                **step,
                "account_id": r.account_id,
                "account_name": due.account_name,
                "action_id": r.action_id,
                "kind": due.kind,
                "reason": r.reason,
            },
            now=now,
        )
        moved.append((r.id, new_id))
    return moved
