"""Answering a review item: approve (maybe with edits), or reject with a reason.

An item binds the exact action it shows (the action's digest). An answer is refused when the
item was already answered, when the action changed since the item was opened, or when the
person may not answer it. The status change is one conditional UPDATE, so two answers racing
each other can't both win. An approval with edits is decided by the policy again: if the
edited action needs a higher rung, the item re-escalates instead of being approved; if it is
blocked, it is. A rejected or blocked action takes what waits for it along (cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from revfield.domain import EDITABLE, ActionStatus, ProposedAction, ReviewStatus, Verdict
from revfield.memory import (
    Session,
    StoredAction,
    StoredReview,
    account_owner,
    audit,
    cancel_dependants,
    edit_action,
    get_action,
    get_review,
    lock_account,
    pending_review_id,
    transition,
)
from revfield.review._access import RANK, Actor, ReviewError, may_answer
from revfield.review._ladder import open_review_item, rung_for

if TYPE_CHECKING:
    from revfield.policies import CompiledPack

__all__ = ["AnswerResult", "answer_review"]

Outcome = Literal["approved", "rejected", "re-escalated", "blocked"]


@dataclass(frozen=True)
class AnswerResult:
    """What an answer did."""

    outcome: Outcome
    review_id: int
    action_id: int
    thread_id: str
    message: str
    """What to tell the person beyond the outcome (the reason, what the edit needs); may be
    empty."""
    new_review_id: int | None = None
    cancelled: tuple[int, ...] = ()
    """Actions that waited for this one and were cancelled with it (a rejected or blocked
    action takes them along: their items close, nothing of them goes out)."""

    @property
    def final(self) -> bool:
        """Whether the waiting agent run can go on (approved, rejected or blocked)."""
        return self.outcome != "re-escalated"


def answer_review(
    session: Session,
    pack: CompiledPack | None,
    review_id: int,
    *,
    approve: bool,
    actor: Actor,
    now: datetime,
    edits: dict[str, Any] | None = None,
    note: str | None = None,
    expected_digest: str | None = None,
) -> AnswerResult:
    """Answer one review item (in the caller's transaction). Raises :class:`ReviewError`.

    ``pack`` decides an edited action again; a plain approval or rejection does not need it
    (so an answer can be taken before the pack's compiler is loaded)."""
    review = get_review(session, review_id)
    if review is None:
        raise ReviewError(f"no review item #{review_id}; see `revfield inbox`")
    if review.status is not ReviewStatus.PENDING:
        if review.answered_by == actor.id and (review.note or "").startswith("re-escalated"):
            raise ReviewError(_your_edit(session, review))
        by = (
            f" by {review.answered_by} at {review.answered_at:%Y-%m-%d %H:%M}"
            if review.answered_by and review.answered_at
            else ""
        )
        raise ReviewError(
            f"review #{review_id} is already {review.status}{by}; nothing was changed"
        )
    action = get_action(session, review.action_id)
    if expected_digest is not None and expected_digest != review.action_digest:
        raise ReviewError(
            f"review #{review_id} now shows a different action than the one you saw; "
            "look at it again in the inbox"
        )
    if action.digest != review.action_digest:
        raise ReviewError(
            f"the action behind review #{review_id} changed since the item was opened; "
            "answer its newest review item instead"
        )
    owner, owner_team = account_owner(session, action.account_id)
    if not may_answer(actor, review.assignee_role, owner, owner_team):
        raise ReviewError(
            f"{actor.id} ({actor.role}) may not answer review #{review_id}: it is for the "
            f"{review.assignee_role} of {action.account_id}"
        )

    if not approve:
        return _close(session, review, action, "rejected", actor, now, note=note or "")
    if not edits:
        return _close(session, review, action, "approved", actor, now)

    if pack is None:
        raise ValueError("an edited action is decided again: answer_review needs the pack")
    try:
        edited = pack.catalog.edit(ProposedAction.model_validate(action.proposal), edits)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ReviewError(f"edit `{'.'.join(map(str, err['loc']))}`: {err['msg']}") from None
    except ValueError as exc:
        raise ReviewError(f"edit: {exc}") from None
    edits = {  # as validated: "12" → 12.0
        name: edited.payload[name] if name not in EDITABLE else getattr(edited, name)
        for name in edits
    }
    # imported here: listing the inbox (which imports this package) needs no pack compiler
    from revfield.policies import decide_within_budget, record_decision

    lock_account(session, action.account_id)  # decided again: serially, like any decision
    decision = decide_within_budget(session, pack, edited, now)
    decision_id = record_decision(session, decision, decided_at=now, action_id=action.id)
    edit_action(session, edited, action.id, now)
    audit(
        session,
        actor=actor.id,
        event="action_edited",
        at=now,
        account_id=action.account_id,
        action_id=action.id,
        review_id=review_id,
        edits=edits,
        verdict=decision.verdict.label,
        rules=list(decision.matched),
        **_operator(actor),
    )
    if decision.verdict is Verdict.BLOCK:
        return _close(
            session,
            review,
            action,
            "blocked",
            actor,
            now,
            edits=edits,
            note=f"the edited action is blocked: {decision.explanation}",
        )
    level, rung = rung_for(pack, decision.verdict, decision.escalate_to)
    if (
        decision.verdict > Verdict.AUTO
        and level > review.level
        and RANK.get(actor.role, 0) < RANK.get(rung, 0)
    ):
        _answer(
            session,
            review,
            ReviewStatus.SUPERSEDED,
            actor,
            now,
            edits=edits,
            note=f"re-escalated after an edit: {decision.explanation}",
        )
        new_id = open_review_item(
            session,
            pack,
            action.id,
            action.account_id,
            edited.digest(),
            decision_id,
            decision,
            now,
            concerns=edited.concerns,
        )
        return AnswerResult(
            "re-escalated",
            review_id,
            action.id,
            action.thread_id,
            f"your edit ({_shown(edits)}) needs the {rung}: {decision.explanation}; "
            f"it is now review #{new_id}",
            new_id,
        )
    return _close(session, review, action, "approved", actor, now, edits=edits)


def _operator(actor: Actor) -> dict[str, str]:
    """The audit detail naming who answered on the actor's behalf (``--as``), if anyone."""
    return {} if actor.operator is None else {"operator": actor.operator}


def _shown(edits: dict[str, Any] | None) -> str:
    """Edits as a person typed them: ``discount_pct 30, subject …``."""
    return ", ".join(f"{k} {v}" for k, v in (edits or {}).items()) or "no change"


def _your_edit(session: Session, review: StoredReview) -> str:
    """Why someone's answer to an item their own edit moved up the ladder is refused."""
    newer_id = pending_review_id(session, review.action_id)
    newer = get_review(session, newer_id) if newer_id else None
    who = newer.assignee_role if newer else "a higher rung"
    why = (review.note or "").removeprefix("re-escalated after an edit: ")
    where = f"it is now review #{newer_id}, waiting for the {who}" if newer else "answered since"
    return (
        f"your edit to review #{review.id} ({_shown(review.edits)}) needs the {who}: {why}; "
        f"{where}; nothing was changed"
    )


def _answer(
    session: Session,
    review: StoredReview,
    status: ReviewStatus,
    actor: Actor,
    now: datetime,
    *,
    edits: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    moved = transition(
        session,
        review.id,
        status,
        frm=ReviewStatus.PENDING,
        answered_at=now,
        answered_by=actor.id,
        edits=edits,
        note=note,
    )
    if moved != 1:  # someone else answered between our read and this write
        raise ReviewError(
            f"review #{review.id} was answered by someone else just now; nothing was changed"
        )


def _close(
    session: Session,
    review: StoredReview,
    action: StoredAction,
    outcome: Literal["approved", "rejected", "blocked"],
    actor: Actor,
    now: datetime,
    *,
    edits: dict[str, Any] | None = None,
    note: str = "",
) -> AnswerResult:
    status = ReviewStatus.APPROVED if outcome == "approved" else ReviewStatus.REJECTED
    _answer(session, review, status, actor, now, edits=edits, note=note or None)
    transition(session, action.id, ActionStatus(outcome), updated_at=now)
    audit(
        session,
        actor=actor.id,
        event=f"review_{outcome}",
        at=now,
        account_id=action.account_id,
        action_id=action.id,
        review_id=review.id,
        note=note,
        edits=edits or {},
        **_operator(actor),
    )
    message = {"approved": "", "rejected": f"reason: {note}", "blocked": note}[outcome]
    cancelled: tuple[int, ...] = ()
    if outcome != "approved":
        cancelled = tuple(cancel_dependants(session, action.id, actor="policy", now=now))
    if cancelled:
        what = f"cancelled what waited for it: action #{', #'.join(map(str, cancelled))}"
        message = f"{message}; {what}" if message else what
    return AnswerResult(
        outcome, review.id, action.id, action.thread_id, message, cancelled=cancelled
    )
