"""The inbox: review items waiting for a person, with what each one would do and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from revfield.memory import Session, pending_reviews
from revfield.review._access import Actor, may_answer

__all__ = ["InboxItem", "inbox"]


@dataclass(frozen=True)
class InboxItem:
    """One item in someone's inbox."""

    review_id: int
    action_id: int
    account_id: str
    account_name: str
    owner_id: str | None
    kind: str
    motion: str
    summary: str
    """The action in a few words (its subject or title)."""
    verdict: str
    """``review`` or ``escalate``."""
    assignee_role: str
    assignee_id: str | None
    reason: str
    """Why it waits: the decision's explanation."""
    deadline_at: datetime
    digest: str
    """The exact action shown: an answer given for another digest is refused."""
    proposal: dict[str, Any]


def inbox(session: Session, actor: Actor | None = None) -> list[InboxItem]:
    """Pending items, oldest deadline first; with an actor, only those they may answer."""
    items = []
    for p in pending_reviews(session):
        r = p.review
        if actor is not None and not may_answer(actor, r.assignee_role, p.owner_id, p.owner_team):
            continue
        summary = (
            p.proposal.get("subject")
            or p.proposal.get("payload", {}).get("title")
            or p.kind.replace("_", " ")
        )
        items.append(
            InboxItem(
                r.id,
                r.action_id,
                r.account_id,
                p.account_name,
                p.owner_id,
                p.kind,
                p.motion,
                str(summary),
                r.verdict,
                r.assignee_role,
                r.assignee_id,
                r.reason,
                r.deadline_at,
                r.action_digest,
                p.proposal,
            )
        )
    return items
