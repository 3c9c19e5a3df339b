"""Review items: opening them on the ladder, listing an inbox, and answering them.

An item binds the exact action it shows (the action's digest). An answer is refused when the
item was already answered, when the action changed since the item was opened, or when the
person may not answer it (sellers answer their own accounts' items, managers their team's,
RevOps all). The status change is one conditional UPDATE, so two answers racing each other
can't both win. An approval with edits is decided by the policy again: if the edited action
needs a higher rung, the item re-escalates instead of being approved; if it is blocked, it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from revfield.domain import ProposedAction, Role, StoredAction, waited_in_vain
from revfield.memory._audit import audit
from revfield.memory.models import Account, ActionRecord, Review, User, table_of
from revfield.policies import Verdict, build_context, decide, record_decision
from revfield.policies._load import CompiledPack

__all__ = [
    "LOCAL_ADMIN",
    "Actor",
    "AnswerResult",
    "InboxItem",
    "ReviewError",
    "answer_review",
    "climb_ladder",
    "inbox",
    "open_review",
    "resolve_actor",
]

A, U, R, ACT = table_of(Account), table_of(User), table_of(Review), table_of(ActionRecord)
_INSERT = sa.insert(R).returning(R.c.id)
RANK = {"seller": 0, "owner": 0, "manager": 1, "revops": 2}
"""How far up the ladder a role or rung reaches."""


class ReviewError(Exception):
    """An answer that can't be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    team_id: str | None = None


LOCAL_ADMIN = Actor("local-admin", Role.REVOPS.value)
"""Who answers from the command line when no ``--as USER`` is given: the operator."""


def resolve_actor(session: Session, user_id: str | None) -> Actor:
    if user_id is None:
        return LOCAL_ADMIN
    row = session.execute(sa.select(U.c.id, U.c.role, U.c.team_id).where(U.c.id == user_id)).first()
    if row is None:
        known = session.execute(sa.select(U.c.id).order_by(U.c.id).limit(8)).scalars().all()
        raise ReviewError(
            f"no user `{user_id}`" + (f"; users include {', '.join(known)}" if known else "")
        )
    return Actor(row.id, str(row.role), row.team_id)


# -- opening ---------------------------------------------------------------------------------


def _rung(pack: CompiledPack, verdict: Verdict, escalate_to: str | None) -> tuple[int, str]:
    ladder = list(pack.review.ladder)
    if verdict is Verdict.ESCALATE:
        role = escalate_to or (ladder[1] if len(ladder) > 1 else ladder[0])
        return (ladder.index(role) if role in ladder else min(1, len(ladder) - 1)), role
    return 0, ladder[0]


def _assignee(session: Session, account_id: str, role: str) -> str | None:
    owner = session.execute(
        sa.select(A.c.owner_id).where(A.c.id == account_id)
    ).scalar_one_or_none()
    if role == "owner":
        return str(owner) if owner else None
    if role == "manager" and owner:
        team = session.execute(sa.select(U.c.team_id).where(U.c.id == owner)).scalar_one_or_none()
        manager = (
            session.execute(
                sa.select(U.c.id)
                .where(U.c.team_id == team, U.c.role == Role.MANAGER.value)
                .order_by(U.c.id)
                .limit(1)
            ).scalar_one_or_none()
            if team
            else None
        )
        return str(manager) if manager else None
    revops = session.execute(
        sa.select(U.c.id).where(U.c.role == Role.REVOPS.value).order_by(U.c.id).limit(1)
    ).scalar_one_or_none()
    return str(revops) if revops else None


def open_review(
    session: Session,
    pack: CompiledPack,
    *,
    action: StoredAction,
    decision_id: int,
    verdict: Verdict,
    escalate_to: str | None,
    reason: str,
    now: datetime,
    level: int | None = None,
) -> int:
    """A review item for ``action`` on the rung the verdict calls for (or ``level``); returns
    its id."""
    ladder = list(pack.review.ladder)
    rung, role = _rung(pack, verdict, escalate_to)
    if level is not None:
        rung, role = level, ladder[level]
    assignee = _assignee(session, action.account_id, role)
    review_id = int(
        session.execute(
            _INSERT,
            dict(
                action_id=action.id,
                decision_id=decision_id,
                account_id=action.account_id,
                verdict=verdict.label,
                assignee_role=role,
                assignee_id=assignee,
                level=rung,
                reason=reason,
                action_digest=action.digest,
                status="pending",
                deadline_at=now + timedelta(hours=pack.review.deadline_hours),
                created_at=now,
            ),
        ).scalar_one()
    )
    audit(
        session,
        actor="policy",
        event="review_opened",
        at=now,
        account_id=action.account_id,
        action_id=action.id,
        review_id=review_id,
        role=role,
        assignee=assignee,
        verdict=verdict.label,
    )
    return review_id


# -- the inbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    review_id: int
    action_id: int
    account_id: str
    account_name: str
    owner_id: str | None
    kind: str
    motion: str
    summary: str
    verdict: str
    assignee_role: str
    assignee_id: str | None
    reason: str
    deadline_at: datetime
    digest: str
    proposal: dict[str, Any]


def _may_answer(actor: Actor, rung: str, owner_id: str | None, owner_team: str | None) -> bool:
    """Sellers answer their own accounts' owner-level items; managers their team's owner- and
    manager-level items; RevOps everything."""
    if actor.role == Role.REVOPS.value:
        return True
    if actor.role == Role.MANAGER.value:
        return (
            rung in ("owner", "manager") and owner_team is not None and owner_team == actor.team_id
        )
    return rung == "owner" and owner_id == actor.id


def inbox(session: Session, actor: Actor | None = None) -> list[InboxItem]:
    """Pending items, oldest deadline first; with an actor, only those they may answer."""
    owner = U.alias("owner")
    rows = session.execute(
        sa.select(
            R,
            A.c.name.label("account_name"),
            A.c.owner_id,
            owner.c.team_id.label("owner_team"),
            ACT.c.kind,
            ACT.c.motion,
            ACT.c.proposal,
        )
        .select_from(
            R.join(ACT, ACT.c.id == R.c.action_id)
            .join(A, A.c.id == R.c.account_id)
            .outerjoin(owner, owner.c.id == A.c.owner_id)
        )
        .where(R.c.status == "pending")
        .order_by(R.c.deadline_at, R.c.id)
    ).mappings()
    items = []
    for r in rows:
        if actor is not None and not _may_answer(
            actor, r["assignee_role"], r["owner_id"], r["owner_team"]
        ):
            continue
        proposal = r["proposal"]
        summary = (
            proposal.get("subject")
            or proposal.get("payload", {}).get("title")
            or r["kind"].replace("_", " ")
        )
        items.append(
            InboxItem(
                r["id"],
                r["action_id"],
                r["account_id"],
                r["account_name"],
                r["owner_id"],
                r["kind"],
                r["motion"],
                str(summary),
                r["verdict"],
                r["assignee_role"],
                r["assignee_id"],
                r["reason"],
                r["deadline_at"],
                r["action_digest"],
                proposal,
            )
        )
    return items


# -- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerResult:
    outcome: Literal["approved", "rejected", "re-escalated", "blocked"]
    review_id: int
    action_id: int
    thread_id: str
    message: str
    """What to tell the person beyond the outcome (the reason, what the edit needs); may be
    empty."""
    new_review_id: int | None = None
    cancelled: tuple[int, ...] = ()
    """Actions of the same run that waited for this one and were waiting for review too: a
    rejected or blocked action takes them with it (their items close, nobody is asked)."""

    @property
    def final(self) -> bool:
        """Whether the waiting agent run can go on (approved, rejected or blocked)."""
        return self.outcome != "re-escalated"


def answer_review(
    session: Session,
    pack: CompiledPack,
    review_id: int,
    *,
    approve: bool,
    actor: Actor,
    now: datetime,
    edits: dict[str, Any] | None = None,
    note: str | None = None,
    expected_digest: str | None = None,
) -> AnswerResult:
    """Answer one review item (in the caller's transaction). Raises :class:`ReviewError`."""
    row = session.execute(sa.select(R).where(R.c.id == review_id)).mappings().first()
    if row is None:
        raise ReviewError(f"no review item #{review_id}; see `revfield inbox`")
    if row["status"] != "pending":
        by = (
            f" by {row['answered_by']} at {row['answered_at']:%Y-%m-%d %H:%M}"
            if row["answered_by"]
            else ""
        )
        raise ReviewError(
            f"review #{review_id} is already {row['status']}{by}; nothing was changed"
        )
    action = session.get(ActionRecord, row["action_id"])
    assert action is not None
    if expected_digest is not None and expected_digest != row["action_digest"]:
        raise ReviewError(
            f"review #{review_id} now shows a different action than the one you saw; "
            "look at it again in the inbox"
        )
    if action.digest != row["action_digest"]:
        raise ReviewError(
            f"the action behind review #{review_id} changed since the item was opened; "
            "answer its newest review item instead"
        )
    owner, owner_team = session.execute(
        sa.select(A.c.owner_id, U.c.team_id)
        .select_from(A.outerjoin(U, U.c.id == A.c.owner_id))
        .where(A.c.id == action.account_id)
    ).one()
    if not _may_answer(actor, row["assignee_role"], owner, owner_team):
        raise ReviewError(
            f"{actor.id} ({actor.role}) may not answer review #{review_id}: it is for the "
            f"{row['assignee_role']} of {action.account_id}"
        )

    if not approve:
        return _close(session, row, action, "rejected", actor, now, note=note or "")
    if not edits:
        return _close(session, row, action, "approved", actor, now)

    proposal = ProposedAction.model_validate(action.proposal)
    try:
        edited = proposal.edited(edits)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ReviewError(f"edit `{'.'.join(map(str, err['loc']))}`: {err['msg']}") from None
    except ValueError as exc:
        raise ReviewError(f"edit: {exc}") from None
    edits = {name: getattr(edited, name) for name in edits}  # as validated: "12" → 12.0
    decision = decide(pack, build_context(session, pack, edited, now))
    decision_id = record_decision(session, decision, decided_at=now, action_id=action.id)
    action.proposal = edited.model_dump(mode="json")
    action.digest = edited.digest()
    action.updated_at = now
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
    )
    if decision.verdict is Verdict.BLOCK:
        return _close(
            session,
            row,
            action,
            "blocked",
            actor,
            now,
            edits=edits,
            note=f"the edited action is blocked: {decision.explanation}",
        )
    rung, role = _rung(pack, decision.verdict, decision.escalate_to)
    if (
        decision.verdict > Verdict.AUTO
        and rung > row["level"]
        and RANK.get(actor.role, 0) < RANK.get(role, 0)
    ):
        _set(
            session,
            row["id"],
            "superseded",
            actor,
            now,
            edits=edits,
            note=f"re-escalated after an edit: {decision.explanation}",
        )
        new_id = open_review(
            session,
            pack,
            action=action,
            decision_id=decision_id,
            verdict=decision.verdict,
            escalate_to=decision.escalate_to,
            reason=decision.explanation,
            now=now,
        )
        action.status = "pending_review"
        return AnswerResult(
            "re-escalated",
            review_id,
            action.id,
            action.thread_id,
            f"the edit needs the {role}: {decision.explanation}; it is now review #{new_id}",
            new_id,
        )
    return _close(session, row, action, "approved", actor, now, edits=edits)


def _set(
    session: Session,
    review_id: int,
    status: str,
    actor: Actor,
    now: datetime,
    *,
    edits: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    done = session.execute(
        sa.update(R)
        .where(R.c.id == review_id, R.c.status == "pending")
        .values(status=status, answered_at=now, answered_by=actor.id, edits=edits, note=note)
    )
    if (
        cast(CursorResult[Any], done).rowcount != 1
    ):  # someone else answered between our read and this write
        raise ReviewError(
            f"review #{review_id} was answered by someone else just now; nothing was changed"
        )


def _close(
    session: Session,
    row: Any,
    action: ActionRecord,
    outcome: Literal["approved", "rejected", "blocked"],
    actor: Actor,
    now: datetime,
    *,
    edits: dict[str, Any] | None = None,
    note: str = "",
) -> AnswerResult:
    status = "approved" if outcome == "approved" else "rejected"
    _set(session, row["id"], status, actor, now, edits=edits, note=note or None)
    action.status = {"approved": "approved", "rejected": "rejected", "blocked": "blocked"}[outcome]
    action.updated_at = now
    audit(
        session,
        actor=actor.id,
        event=f"review_{outcome}",
        at=now,
        account_id=action.account_id,
        action_id=action.id,
        review_id=row["id"],
        note=note,
        edits=edits or {},
    )
    message = {"approved": "", "rejected": f"reason: {note}", "blocked": note}[outcome]
    cancelled = () if outcome == "approved" else _cancel_waiting_on(session, action, outcome, now)
    if cancelled:
        message = "; ".join(
            filter(
                None,
                [
                    message,
                    f"cancelled what waited for it: action #{', #'.join(map(str, cancelled))}",
                ],
            )
        )
    return AnswerResult(
        outcome, row["id"], action.id, action.thread_id, message, cancelled=cancelled
    )


def _cancel_waiting_on(
    session: Session, action: ActionRecord, outcome: str, now: datetime
) -> tuple[int, ...]:
    """Close the pending items of actions in ``action``'s run that wait for it (``after``):
    it will never go out, so neither will they."""
    rows = session.execute(
        sa.select(R.c.id, ACT.c.id.label("action_id"), ACT.c.proposal)
        .join(ACT, ACT.c.id == R.c.action_id)
        .where(
            R.c.status == "pending",
            ACT.c.field_event_id == action.field_event_id,
            ACT.c.agent == action.agent,
            ACT.c.id != action.id,
        )
    ).all()
    reason = waited_in_vain(action.kind, action.id, outcome)
    cancelled = []
    for r in rows:
        if r.proposal.get("after") != action.kind:
            continue
        closed = session.execute(
            sa.update(R)
            .where(R.c.id == r.id, R.c.status == "pending")
            .values(status="superseded", answered_at=now, answered_by="policy", note=reason)
        )
        if cast(CursorResult[Any], closed).rowcount != 1:
            continue  # answered by someone just now: their answer stands
        session.execute(
            sa.update(ACT).where(ACT.c.id == r.action_id).values(status="cancelled", updated_at=now)
        )
        audit(
            session,
            actor="policy",
            event="cancelled",
            at=now,
            account_id=action.account_id,
            action_id=r.action_id,
            review_id=r.id,
            reason=reason,
        )
        cancelled.append(r.action_id)
    return tuple(cancelled)


# -- the ladder ------------------------------------------------------------------------------


def climb_ladder(session: Session, pack: CompiledPack, now: datetime) -> list[tuple[int, int]]:
    """Items past their deadline move one rung up the ladder (owner → manager → revops):
    the old item is superseded and a new one opened for the same action. Returns
    (old, new) review ids. Items already on the top rung stay where they are."""
    ladder = list(pack.review.ladder)
    due = (
        session.execute(
            sa.select(R)
            .where(R.c.status == "pending", R.c.deadline_at < now, R.c.level < len(ladder) - 1)
            .order_by(R.c.id)
        )
        .mappings()
        .all()
    )
    moved = []
    for row in due:
        action = session.get(ActionRecord, row["action_id"])
        assert action is not None
        done = session.execute(
            sa.update(R)
            .where(R.c.id == row["id"], R.c.status == "pending")
            .values(
                status="superseded",
                answered_at=now,
                answered_by="ladder",
                note=(
                    f"no answer by {row['deadline_at']:%Y-%m-%d %H:%M}; "
                    f"moved to {ladder[row['level'] + 1]}"
                ),
            )
        )
        if cast(CursorResult[Any], done).rowcount != 1:
            continue
        new_id = open_review(
            session,
            pack,
            action=action,
            decision_id=row["decision_id"],
            verdict=Verdict.parse(row["verdict"]),
            escalate_to=None,
            reason=row["reason"],
            now=now,
            level=row["level"] + 1,
        )
        moved.append((row["id"], new_id))
    return moved
