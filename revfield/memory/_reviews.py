"""Review items and the people who answer them: opening an item, the inbox's rows, who owns
an account, who sits on each rung of the ladder. Answers move an item's status through
:func:`~revfield.memory._lifecycle.transition`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from revfield.domain import ReviewStatus, Role
from revfield.memory._audit import audit_row, write_audit
from revfield.memory._tables import ACCOUNTS, ACTIONS, REVIEWS, USERS

__all__ = [
    "COUNT_CAP",
    "PendingReview",
    "ReviewPage",
    "StoredReview",
    "UserRow",
    "account_owner",
    "find_user",
    "get_review",
    "open_review",
    "pending_review_id",
    "pending_reviews",
    "pending_reviews_for",
    "rung_holder",
    "user_ids",
]


@dataclass(frozen=True, slots=True)
class StoredReview:
    """A review item as the memory holds it."""

    id: int
    action_id: int
    decision_id: int
    account_id: str
    verdict: str
    assignee_role: str
    assignee_id: str | None
    level: int
    reason: str
    action_digest: str
    status: ReviewStatus
    deadline_at: datetime
    created_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    edits: dict[str, Any] | None
    note: str | None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> StoredReview:
        """From a ``reviews`` row."""
        return cls(**{**row, "status": ReviewStatus(row["status"])})


@dataclass(frozen=True, slots=True)
class PendingReview:
    """A pending item with what an inbox shows of it."""

    review: StoredReview
    account_name: str
    owner_id: str | None
    owner_team: str | None
    kind: str
    motion: str
    proposal: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserRow:
    """A person who answers reviews."""

    id: str
    role: Role
    team_id: str | None


_INSERT = sa.insert(REVIEWS).returning(REVIEWS.c.id)
_OWNER = USERS.alias("owner")


def open_review(
    session: Session,
    *,
    action_id: int,
    account_id: str,
    digest: str,
    decision_id: int,
    verdict: str,
    rung: str,
    level: int,
    assignee_id: str | None,
    reason: str,
    deadline_at: datetime,
    now: datetime,
    trail: list[dict[str, Any]] | None = None,
) -> int:
    """Open a pending item for an action on one rung of the ladder, and audit it; returns
    the item's id. ``trail``: the audit entry is appended there, for the caller to write
    with the rest of its entries, in order (one statement fewer on its path)."""
    review_id = int(
        session.execute(
            _INSERT,
            {
                "action_id": action_id,
                "decision_id": decision_id,
                "account_id": account_id,
                "verdict": verdict,
                "assignee_role": rung,
                "assignee_id": assignee_id,
                "level": level,
                "reason": reason,
                "action_digest": digest,
                "status": ReviewStatus.PENDING.value,
                "deadline_at": deadline_at,
                "created_at": now,
            },
        ).scalar_one()
    )
    entry = audit_row(
        actor="policy",
        event="review_opened",
        at=now,
        account_id=account_id,
        action_id=action_id,
        review_id=review_id,
        role=rung,
        assignee=assignee_id,
        verdict=verdict,
    )
    if trail is None:
        write_audit(session, [entry])
    else:
        trail.append(entry)
    return review_id


def get_review(session: Session, review_id: int) -> StoredReview | None:
    """The item ``review_id``, or None."""
    row = session.execute(sa.select(REVIEWS).where(REVIEWS.c.id == review_id)).mappings().first()
    return None if row is None else StoredReview.of(row)


def pending_review_id(session: Session, action_id: int) -> int | None:
    """The newest pending item of an action, if one waits."""
    found = session.execute(
        sa.select(REVIEWS.c.id)
        .where(REVIEWS.c.action_id == action_id, REVIEWS.c.status == ReviewStatus.PENDING)
        .order_by(REVIEWS.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else int(found)


_JOINED = (
    REVIEWS.join(ACTIONS, ACTIONS.c.id == REVIEWS.c.action_id)
    .join(ACCOUNTS, ACCOUNTS.c.id == REVIEWS.c.account_id)
    .outerjoin(_OWNER, _OWNER.c.id == ACCOUNTS.c.owner_id)
)
"""An item with its action, its account and the account owner's record."""
_SHOWN = (
    REVIEWS,
    ACCOUNTS.c.name.label("account_name"),
    ACCOUNTS.c.owner_id.label("owner_id"),
    _OWNER.c.team_id.label("owner_team"),
    ACTIONS.c.kind.label("kind"),
    ACTIONS.c.motion.label("motion"),
    ACTIONS.c.proposal.label("proposal"),
)
"""What an inbox shows of an item (:func:`_pending` reads these)."""


def _pending_query() -> sa.Select[Any]:
    """Pending items with what an inbox shows of them (their action, account, owner's team)."""
    return sa.select(*_SHOWN).select_from(_JOINED).where(REVIEWS.c.status == ReviewStatus.PENDING)


def _pending(rows: Any) -> list[PendingReview]:
    out = []
    for r in rows:
        review = StoredReview.of({c.name: r[c.name] for c in REVIEWS.columns})
        out.append(
            PendingReview(
                review,
                r["account_name"],
                r["owner_id"],
                r["owner_team"],
                r["kind"],
                r["motion"],
                r["proposal"],
            )
        )
    return out


def pending_reviews(
    session: Session,
    *,
    created_before: datetime | None = None,
    due_before: datetime | None = None,
    below_level: int | None = None,
) -> list[PendingReview]:
    """Pending items, oldest deadline first (``due_before``: past their deadline then, and
    ``below_level``: not yet on that rung; ``created_before``: opened before then)."""
    query = _pending_query()
    if created_before is not None:
        query = query.where(REVIEWS.c.created_at < created_before)
    if due_before is not None:
        query = query.where(REVIEWS.c.deadline_at < due_before)
    if below_level is not None:
        query = query.where(REVIEWS.c.level < below_level)
    order = (
        (REVIEWS.c.id,) if due_before or created_before else (REVIEWS.c.deadline_at, REVIEWS.c.id)
    )
    return _pending(session.execute(query.order_by(*order)).mappings())


class _Unindexed(sa.sql.expression.ColumnElement[Any]):
    """A column SQLite must not look up by index (written ``+column``, SQLite's documented
    way to take a term out of index selection); the plain column elsewhere."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _plain(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_Unindexed, "sqlite")
def _plus(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


def _scope(kind: str) -> sa.ColumnElement[bool]:
    """Which pending items a person may answer, in SQL: the rules of
    :func:`revfield.review.may_answer` (RevOps every item; a manager their team's owner- and
    manager-rung items; anyone else their own accounts' owner-rung items). ``kind`` is
    :func:`_scope_kind`'s; the person is the bound parameters ``p_user`` and ``p_team``.

    A seller's or a manager's items are found from their accounts (the owner's index, the
    actions' account index, the reviews' action index: the action and its item name the
    same account), not by walking every pending item: SQLite, which keeps no statistics,
    would otherwise pick the (status, rung) index and read the whole field's pending items
    for one person's page."""
    if kind == "revops":
        return REVIEWS.c.status == ReviewStatus.PENDING
    if kind == "nobody":
        return sa.false()
    pending = _Unindexed(REVIEWS.c.status) == ReviewStatus.PENDING.value
    via_actions = ACTIONS.c.account_id == ACCOUNTS.c.id
    rung = _Unindexed(REVIEWS.c.assignee_role)
    if kind == "manager":
        return sa.and_(
            pending,
            via_actions,
            rung.in_(("owner", "manager")),
            _OWNER.c.team_id == sa.bindparam("p_team", type_=sa.String()),
        )
    return sa.and_(
        pending,
        via_actions,
        rung == "owner",
        ACCOUNTS.c.owner_id == sa.bindparam("p_user", type_=sa.String()),
    )


def _scope_kind(role: str, team_id: str | None) -> str:
    """Which shape of :func:`_scope` a person's items take."""
    if role == Role.REVOPS.value:
        return "revops"
    if role == Role.MANAGER.value:
        return "manager" if team_id is not None else "nobody"
    return "owner"


COUNT_CAP = 1000
"""Counts of pending items stop here: past it an inbox says "1,000+" rather than reading every
pending item for every page, so a page costs the same at 40 or 40,000 waiting."""


class ReviewPage(NamedTuple):
    """One page of someone's pending items, and how many wait on every page."""

    items: list[PendingReview]
    total: int
    """Items waiting: exact up to :data:`COUNT_CAP`, and whenever the page reaches the last
    item; past the cap, at least this many (the cap, or what the page shows there is)."""
    capped: bool
    """``total`` is a lower bound: counting stopped at :data:`COUNT_CAP`."""
    more: bool
    """Another page follows this one."""


def pending_reviews_for(
    session: Session,
    *,
    role: str,
    user_id: str,
    team_id: str | None,
    limit: int | None = None,
    offset: int = 0,
) -> ReviewPage:
    """One page of the pending items a person (``role``, ``user_id``, ``team_id``) may
    answer, oldest deadline first, and how many there are on every page (up to
    :data:`COUNT_CAP`): the scope is :func:`revfield.review.may_answer`'s, applied by the
    database, so a page reads only the person's own items. The page and its total are one
    statement (the count is a subquery the database runs once), so they agree, and a full
    page costs one round trip, not two. One row past the page is read to tell whether
    another page follows, whatever the count."""
    kind = _scope_kind(role, team_id)
    params: dict[str, Any] = {"p_user": user_id, "p_team": team_id, "p_cap": COUNT_CAP + 1}
    if limit is not None:
        params["p_limit"] = limit + 1
    if offset:
        params["p_offset"] = offset
    rows = session.execute(_page(kind, limit is not None, bool(offset)), params).mappings().all()
    more = limit is not None and len(rows) > limit
    if more:
        rows = rows[:limit]
    if rows and not more:  # every item from the offset on was read: counted exactly
        return ReviewPage(_pending(rows), offset + len(rows), False, False)
    if rows:
        counted = int(rows[0]["total_pending"])
    elif offset == 0:
        counted = 0
    else:  # a page past the last one: count on its own
        counted = int(session.execute(_counted(kind), params).scalar_one())
    if counted <= COUNT_CAP:
        return ReviewPage(_pending(rows), counted, False, more)
    # at least the cap, and at least what this page shows there is (one more row was read)
    at_least = max(COUNT_CAP, offset + len(rows) + more)
    return ReviewPage(_pending(rows), at_least, True, more)


def _counted(kind: str) -> sa.Select[Any]:
    """How many pending items a person of ``kind`` may answer, up to ``p_cap`` (bound):
    counting stops there. RevOps' scope is the reviews' own status: counted there (the joins
    are required keys)."""
    found: sa.Select[Any] = sa.select(sa.literal_column("1")).where(_scope(kind))
    found = found.select_from(REVIEWS if kind == "revops" else _JOINED)
    capped = found.limit(sa.bindparam("p_cap", type_=sa.Integer())).subquery("counted")
    return sa.select(sa.func.count()).select_from(capped)


@functools.cache
def _page(kind: str, limited: bool, offset: bool) -> sa.Select[Any]:
    """The inbox page's statement for a person of ``kind``, built once (building and cache-
    keying it cost more than running it): the person, the limit, the offset and the count's
    cap are bound."""
    total = _counted(kind).correlate(None).scalar_subquery().label("total_pending")
    query = (
        sa.select(*_SHOWN, total)
        .select_from(_JOINED)
        .where(_scope(kind))
        .order_by(REVIEWS.c.deadline_at, REVIEWS.c.id)
    )
    if limited:
        query = query.limit(sa.bindparam("p_limit", type_=sa.Integer()))
    if offset:
        query = query.offset(sa.bindparam("p_offset", type_=sa.Integer()))
    return query


def account_owner(session: Session, account_id: str) -> tuple[str | None, str | None]:
    """The account's owner and the owner's team."""
    row = session.execute(
        sa.select(ACCOUNTS.c.owner_id, USERS.c.team_id)
        .select_from(ACCOUNTS.outerjoin(USERS, USERS.c.id == ACCOUNTS.c.owner_id))
        .where(ACCOUNTS.c.id == account_id)
    ).first()
    return (None, None) if row is None else (row.owner_id, row.team_id)


def rung_holder(session: Session, account_id: str, rung: str) -> str | None:
    """Who answers for an account on a rung: its owner, the owner's team manager, or RevOps
    (also for the manager rung of an account nobody owns)."""
    owner, team = account_owner(session, account_id)
    if rung == "owner":
        return owner
    if rung == "manager" and owner:
        if not team:
            return None
        return session.execute(
            sa.select(USERS.c.id)
            .where(USERS.c.team_id == team, USERS.c.role == Role.MANAGER.value)
            .order_by(USERS.c.id)
            .limit(1)
        ).scalar_one_or_none()
    return session.execute(
        sa.select(USERS.c.id).where(USERS.c.role == Role.REVOPS.value).order_by(USERS.c.id).limit(1)
    ).scalar_one_or_none()


def find_user(session: Session, user_id: str) -> UserRow | None:
    """The user ``user_id``, or None."""
    row = session.execute(
        sa.select(USERS.c.id, USERS.c.role, USERS.c.team_id).where(USERS.c.id == user_id)
    ).first()
    return None if row is None else UserRow(row.id, Role(row.role), row.team_id)


def user_ids(session: Session, limit: int = 8) -> list[str]:
    """Some user ids, alphabetically (for an error message that names who exists)."""
    return list(session.execute(sa.select(USERS.c.id).order_by(USERS.c.id).limit(limit)).scalars())
