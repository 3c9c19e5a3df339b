"""What people answered: every review item a person approved (unchanged or with edits) or
rejected, with the stored decision context that sent it to them — the ground truth
``revfield policy backtest`` scores a pack change against. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ReviewStatus
from revfield.memory._tables import ACTIONS, DECISIONS, REVIEWS

__all__ = ["AnswerKind", "AnsweredItem", "answered_items"]

AnswerKind = Literal["approved", "edited", "rejected"]
"""What a person answered: ``approved`` unchanged, ``edited`` (approved with edits) or
``rejected``."""


@dataclass(frozen=True, slots=True)
class AnsweredItem:
    """One review item a person answered, with the decision that sent it to them."""

    review_id: int
    action_id: int
    decision_id: int
    """The decision the item was opened for (what sent the action to people)."""
    account_id: str
    action_kind: str
    motion: str
    verdict: str
    """That decision's verdict: ``review`` or ``escalate``."""
    assignee_role: str
    """The rung that answered: ``owner``, ``manager`` or ``revops``."""
    answer: AnswerKind
    note: str | None
    """The reason given with a rejection (or, for an edit the policy then blocked, why)."""
    edits: dict[str, Any] | None
    """The fields the person changed before approving (None: none)."""
    answered_by: str | None
    answered_at: datetime | None
    context: dict[str, Any]
    """The stored decision context, as JSON: replaying it through a pack decides it again."""


_ANSWERED = (ReviewStatus.APPROVED.value, ReviewStatus.REJECTED.value)
_QUERY = (
    sa.select(
        REVIEWS.c.id,
        REVIEWS.c.action_id,
        REVIEWS.c.decision_id,
        REVIEWS.c.account_id,
        REVIEWS.c.verdict,
        REVIEWS.c.assignee_role,
        REVIEWS.c.status,
        REVIEWS.c.note,
        REVIEWS.c.edits,
        REVIEWS.c.answered_by,
        REVIEWS.c.answered_at,
        ACTIONS.c.kind,
        ACTIONS.c.motion,
        DECISIONS.c.context,
    )
    .select_from(
        REVIEWS.join(ACTIONS, ACTIONS.c.id == REVIEWS.c.action_id).join(
            DECISIONS, DECISIONS.c.id == REVIEWS.c.decision_id
        )
    )
    .where(REVIEWS.c.status.in_(_ANSWERED))
    .order_by(REVIEWS.c.answered_at.desc(), REVIEWS.c.id.desc())
)


def answered_items(session: Session, limit: int | None = None) -> list[AnsweredItem]:
    """Every review item a person answered, newest answer first (the newest ``limit``).

    What counts: items ``approved`` — ``approved`` when unchanged, ``edited`` when approved
    with edits — and items ``rejected`` with a reason. An approval whose edit the policy then
    blocked is stored as rejected with its edits: it counts as ``edited`` (the person wanted
    the action changed; the note says the edit was blocked). What does not count: items still
    pending, and items ``superseded`` — moved up the ladder unanswered, re-escalated after an
    edit (the item on the higher rung counts once answered), or closed because what their
    action waited for won't go out. Each item carries the context of the decision that opened
    it (for an item opened after a re-escalation, the edited action's)."""
    rows = session.execute(_QUERY.limit(limit) if limit else _QUERY)
    return [
        AnsweredItem(
            review_id=r.id,
            action_id=r.action_id,
            decision_id=r.decision_id,
            account_id=r.account_id,
            action_kind=r.kind,
            motion=r.motion,
            verdict=r.verdict,
            assignee_role=r.assignee_role,
            answer=_answer(r.status, r.edits),
            note=r.note,
            edits=dict(r.edits) if r.edits else None,
            answered_by=r.answered_by,
            answered_at=r.answered_at,
            context=dict(r.context),
        )
        for r in rows
    ]


def _answer(status: str, edits: dict[str, Any] | None) -> AnswerKind:
    if edits:
        return "edited"
    return "approved" if status == ReviewStatus.APPROVED.value else "rejected"
