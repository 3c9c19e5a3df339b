"""Answers to review items' interrupts, and what an interrupt shows.

An answer that arrives through a LangGraph client (``Command(resume={interrupt_id: …})``) is
taken or refused once, and kept under the interrupt's key (thread, task, position): when the
run replays the interrupt later, it reuses what was decided then instead of deciding again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ReviewStatus
from revfield.memory._actions import _GET_ACTION, StoredAction
from revfield.memory._reviews import StoredReview, get_review
from revfield.memory._store import Store
from revfield.memory._tables import DECISIONS, FACTS, INTERRUPT_ANSWERS, REVIEWS
from revfield.memory._together import Run, insert_of, run_together

__all__ = [
    "AskedItem",
    "Asking",
    "DecisionShown",
    "asking",
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
    row = session.execute(sa.select(*_SHOWN).where(DECISIONS.c.id == decision_id)).one()
    return _decision(dict(row._mapping))


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


@dataclass(frozen=True)
class Asking:
    """What an interrupt about an action asks, read together (:func:`asking`): the action and,
    while an item of it waits, the item the interrupt asks about, how its answer was taken,
    the item's decision and the facts the action cites."""

    action: StoredAction
    review: StoredReview | None = None
    """None: nothing of the action waits for a person (it is settled)."""
    asked: AskedItem | None = None
    decision: DecisionShown | None = None
    facts: list[tuple[int, str, str]] = field(default_factory=list)


_B = sa.bindparam
_PENDING = (REVIEWS.c.action_id == _B("a_id"), REVIEWS.c.status == ReviewStatus.PENDING.value)
_SHOWN = (
    DECISIONS.c.id,
    DECISIONS.c.verdict,
    DECISIONS.c.matched_rules,
    DECISIONS.c.guardrails,
    DECISIONS.c.policy_version,
    DECISIONS.c.explanation,
)
_PENDING_ITEM = sa.select(REVIEWS).where(*_PENDING).order_by(REVIEWS.c.id.desc()).limit(1)
_PENDING_DECISION = sa.select(*_SHOWN).where(
    DECISIONS.c.id
    == sa.select(REVIEWS.c.decision_id)
    .where(*_PENDING)
    .order_by(REVIEWS.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_ASKED = sa.select(
    INTERRUPT_ANSWERS.c.review_id, INTERRUPT_ANSWERS.c.outcome, INTERRUPT_ANSWERS.c.message
).where(INTERRUPT_ANSWERS.c.key == _B("key"))
_ASK = insert_of(INTERRUPT_ANSWERS, ("key", "review_id", "outcome", "message", "answered_at"))
_CITED = sa.select(FACTS.c.id, FACTS.c.type, FACTS.c.value).where(
    FACTS.c.id.in_(_B("ids", expanding=True))
)


def asking(store: Store, action_id: int, key: str, now: datetime) -> Asking:
    """What the interrupt ``key`` about ``action_id`` asks: the item recorded when it was first
    asked, else the action's newest pending item (recorded now, so a later answer is bound to
    what the person saw), with what shows it.

    The reads go together, outside a write transaction; then, only while an item waits, the
    record goes with the cited facts in a transaction of its own. On PostgreSQL: one round
    trip for a run resumed after its answer (the action is settled: nothing to record), two
    for one that pauses, where a transaction reading them one by one took nine."""
    with store.read() as session:
        item, asked, action, decision = run_together(
            session,
            [
                (_PENDING_ITEM, {"a_id": action_id}),
                (_ASKED, {"key": key}),
                (_GET_ACTION, {"id": action_id}),
                (_PENDING_DECISION, {"a_id": action_id}),
            ],
        )
    if not action:
        raise LookupError(f"no action #{action_id}")
    stored = StoredAction.of(action[0])
    if not item:
        return Asking(stored)
    review = StoredReview.of(item[0])
    shown = _decision(decision[0]) if decision else None
    cited = [int(i) for i in stored.proposal.get("cited_fact_ids") or ()]
    reads: list[Run] = [(_CITED, {"ids": cited})] if cited else []
    if asked:
        row = asked[0]
        taken = AskedItem(row["review_id"], row["outcome"], row["message"])
        with store.read() as session:
            facts = run_together(session, reads)[0] if cited else []
            if taken.review_id != review.id:  # asked first about an item replaced since
                earlier = get_review(session, taken.review_id)
                if earlier is not None:
                    review, shown = earlier, decision_shown(session, earlier.decision_id)
            if shown is None:
                shown = decision_shown(session, review.decision_id)
    else:  # (the run holds its thread: nobody else records this interrupt meanwhile)
        taken = AskedItem(review.id, "asked", "")
        record = {
            "key": key,
            "review_id": review.id,
            "outcome": "asked",
            "message": "",
            "answered_at": now,
        }
        results = store.run_alone([(_ASK, record), *reads])
        facts = results[-1] if cited else []
        if shown is None:
            with store.read() as session:
                shown = decision_shown(session, review.decision_id)
    found = {r["id"]: (r["id"], str(r["type"]), r["value"]) for r in facts}
    return Asking(stored, review, taken, shown, [found[i] for i in cited if i in found])


def _decision(row: dict[str, Any]) -> DecisionShown:
    return DecisionShown(
        row["id"],
        row["verdict"],
        list(row["matched_rules"] or []),
        list(row["guardrails"] or []),
        row["policy_version"],
        row["explanation"],
    )


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
