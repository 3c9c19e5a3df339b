"""The inbox: review items waiting for a person, with what each one would do and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from revfield.memory import PendingReview, Session, pending_reviews, pending_reviews_for
from revfield.review._access import Actor, may_answer

__all__ = ["InboxItem", "InboxPage", "inbox", "inbox_page"]


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


@dataclass(frozen=True)
class InboxPage:
    """One page of someone's inbox, and how many items wait for them on every page."""

    items: list[InboxItem]
    total: int
    """Items waiting: exact up to :data:`~revfield.memory.COUNT_CAP` (1,000) and on the last
    page; past the cap, at least this many."""
    capped: bool = False
    """At least ``total`` wait: the count stopped at the cap."""
    more: bool = False
    """Another page follows this one."""

    @property
    def waiting(self) -> str:
        """How many wait, for a person: ``42``, ``1,000+``."""
        return f"{self.total:,}" + ("+" if self.capped else "")


def _item(p: PendingReview) -> InboxItem:
    r = p.review
    summary = (
        p.proposal.get("subject")
        or p.proposal.get("payload", {}).get("title")
        or p.kind.replace("_", " ")
    )
    return InboxItem(
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


def inbox(session: Session, actor: Actor | None = None) -> list[InboxItem]:
    """Pending items, oldest deadline first; with an actor, only those they may answer."""
    if actor is None:
        return [_item(p) for p in pending_reviews(session)]
    return inbox_page(session, actor).items


def inbox_page(
    session: Session, actor: Actor, *, limit: int | None = None, offset: int = 0
) -> InboxPage:
    """The items ``actor`` may answer (:func:`~revfield.review.may_answer`), oldest deadline
    first: ``limit`` of them from ``offset`` (all of them without a limit), and the total
    (counted up to :data:`~revfield.memory.COUNT_CAP`; ``capped`` past it). The database
    applies the scope and the page, so a page costs the same however many items wait."""
    found = pending_reviews_for(
        session,
        role=actor.role,
        user_id=actor.id,
        team_id=actor.team_id,
        limit=limit,
        offset=offset,
    )
    items = []
    for p in found.items:  # may_answer stays the rule: the query only narrows what is read
        if may_answer(actor, p.review.assignee_role, p.owner_id, p.owner_team):
            items.append(_item(p))
    return InboxPage(items, found.total, found.capped, found.more)
