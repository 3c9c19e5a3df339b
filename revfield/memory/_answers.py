"""Answers to review items' interrupts, and what an interrupt shows.

An answer that arrives through a LangGraph client (``Command(resume={interrupt_id: …})``) is
taken or refused once, and kept under the interrupt's key (thread, task, position): when the
run replays the interrupt later, it reuses what was decided then instead of deciding again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._reviews import StoredReview
from revfield.memory._tables import DECISIONS, FACTS, INTERRUPT_ANSWERS, REVIEWS

__all__ = [
    "AskedItem",
    "DecisionShown",
    "asked_item",
    "cited_facts",
    "decision_shown",
    "latest_decision",
    "reviews_of",
    "settle_answer",
]


@dataclass(frozen=True)
class AskedItem:
    """Which review item an interrupt asked about, and how its answer was taken."""

    review_id: int
    outcome: str
    """``asked`` (no answer yet), ``taken`` or ``refused``."""
    message: str


def asked_item(session: Session, key: str, review_id: int, now: datetime) -> AskedItem:
    """The item the interrupt ``key`` asks about: the one recorded when it was first asked,
    else ``review_id`` (recorded now, so a later answer is bound to what the person saw)."""
    row = session.execute(
        sa.select(
            INTERRUPT_ANSWERS.c.review_id, INTERRUPT_ANSWERS.c.outcome, INTERRUPT_ANSWERS.c.message
        ).where(INTERRUPT_ANSWERS.c.key == key)
    ).first()
    if row is not None:
        return AskedItem(row.review_id, row.outcome, row.message)
    session.execute(
        sa.insert(INTERRUPT_ANSWERS).values(
            key=key, review_id=review_id, outcome="asked", message="", answered_at=now
        )
    )
    return AskedItem(review_id, "asked", "")


def settle_answer(session: Session, key: str, *, outcome: str, message: str, now: datetime) -> None:
    """Record how the answer to interrupt ``key`` was ``taken`` or why it was ``refused``."""
    session.execute(
        sa.update(INTERRUPT_ANSWERS)
        .where(INTERRUPT_ANSWERS.c.key == key)
        .values(outcome=outcome, message=message, answered_at=now)
    )


@dataclass(frozen=True)
class DecisionShown:
    """What a review item's decision shows a person: the rules, the version, the why."""

    id: int
    verdict: str
    matched_rules: list[str]
    guardrails: list[dict[str, Any]]
    policy_version: str
    explanation: str


def decision_shown(session: Session, decision_id: int) -> DecisionShown:
    """The decision a review item was opened for."""
    row = session.execute(
        sa.select(
            DECISIONS.c.id,
            DECISIONS.c.verdict,
            DECISIONS.c.matched_rules,
            DECISIONS.c.guardrails,
            DECISIONS.c.policy_version,
            DECISIONS.c.explanation,
        ).where(DECISIONS.c.id == decision_id)
    ).one()
    return DecisionShown(
        row.id,
        row.verdict,
        list(row.matched_rules or []),
        list(row.guardrails or []),
        row.policy_version,
        row.explanation,
    )


def cited_facts(
    session: Session, ids: list[int], account_id: str | None = None
) -> list[tuple[int, str, str]]:
    """``(id, type, value)`` of the facts an action cites, in the order given (only the
    account's own with ``account_id``)."""
    if not ids:
        return []
    query = sa.select(FACTS.c.id, FACTS.c.type, FACTS.c.value).where(FACTS.c.id.in_(ids))
    if account_id is not None:
        query = query.where(FACTS.c.account_id == account_id)
    rows = session.execute(query).all()
    found = {r.id: (r.id, str(r.type), r.value) for r in rows}
    return [found[i] for i in ids if i in found]


def latest_decision(session: Session, action_id: int) -> DecisionShown | None:
    """The newest decision on an action (after an edit, the re-decision)."""
    row = session.execute(
        sa.select(DECISIONS.c.id)
        .where(DECISIONS.c.action_id == action_id)
        .order_by(DECISIONS.c.id.desc())
        .limit(1)
    ).first()
    return decision_shown(session, row.id) if row else None


def reviews_of(session: Session, action_id: int) -> list[StoredReview]:
    """Every review item of an action, oldest first (the ladder it climbed, its edits)."""
    rows = session.execute(
        sa.select(REVIEWS).where(REVIEWS.c.action_id == action_id).order_by(REVIEWS.c.id)
    ).mappings()
    return [StoredReview.of(r) for r in rows]
