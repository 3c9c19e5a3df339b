"""Every status change in the memory: one function, one conditional UPDATE per change.

:func:`transition` moves rows only along the domain's transition table
(:mod:`revfield.domain._status`): ``UPDATE … SET status = :to WHERE id IN (…) AND status IN
(:from…)``. A row in any other status is left alone and not counted, so when two writers race
for the same row exactly one wins, and the loser learns it from the count.

:func:`cancel_dependants` is the one place where an action that will never go out takes what
waits for it (``after_action_id``) along: their review items close, their outbox items are
cancelled, and so on down the chain.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from revfield.domain import (
    ActionStatus,
    EventStatus,
    OutboxStatus,
    ReviewStatus,
    RiskStatus,
    Status,
    allowed_from,
    waited_in_vain,
)
from revfield.memory._audit import audit_row, write_audit
from revfield.memory._store import Store, StoreError
from revfield.memory._tables import ACTIONS, CHURN_RISKS, EVENTS, OUTBOX, REVIEWS
from revfield.memory._together import run_together

__all__ = [
    "TransitionError",
    "cancel_dependants",
    "transition",
    "transition_alone",
    "transition_run",
]

_TABLES: dict[type[StrEnum], sa.Table] = {
    ActionStatus: ACTIONS,
    ReviewStatus: REVIEWS,
    OutboxStatus: OUTBOX,
    EventStatus: EVENTS,
    RiskStatus: CHURN_RISKS,
}


class TransitionError(StoreError):
    """A status change the transition table never allows (a bug in the caller, not a race)."""


def transition(
    session: Session,
    ids: int | Iterable[int],
    to: Status,
    *,
    frm: Status | Collection[Status] | None = None,
    **values: Any,
) -> int:
    """Move the rows ``ids`` to status ``to`` from any status the table allows (or only from
    ``frm``), setting ``values`` on them too. Returns how many rows moved: those in another
    status (answered, claimed or finished by someone else meanwhile) stay as they are."""
    targets = _targets(ids, to, frm)
    if not targets:
        return 0
    plain = {k: v for k, v in values.items() if not isinstance(v, sa.ClauseElement)}
    if len(plain) < len(values):  # SQL expressions (``attempts + 1``) are part of the statement
        stmt, params = transition_run(targets, to, frm=frm, **plain)
        stmt = stmt.values(**{k: v for k, v in values.items() if k not in plain})
        return cast(CursorResult[Any], session.execute(stmt, params)).rowcount
    return run_together(session, [transition_run(targets, to, frm=frm, **plain)])[0].rowcount


def transition_alone(
    store: Store,
    ids: int | Iterable[int],
    to: Status,
    *,
    frm: Status | Collection[Status] | None = None,
    **values: Any,
) -> int:
    """:func:`transition` (with plain ``values``) in a transaction of its own: one round trip
    on PostgreSQL (:meth:`Store.run_alone`). Returns how many rows moved."""
    targets = _targets(ids, to, frm)
    if not targets:
        return 0
    return store.run_alone([transition_run(targets, to, frm=frm, **values)])[0].rowcount


def transition_run(
    ids: int | list[int],
    to: Status,
    *,
    frm: Status | Collection[Status] | None = None,
    **values: Any,
) -> tuple[sa.Update, dict[str, Any]]:
    """The statement of a :func:`transition` (of at least one row, with plain ``values``) and
    its parameters, to run with others (:func:`~revfield.memory._together.run_together`)."""
    sources = _sources(to, frm)
    one = isinstance(ids, int) or len(ids) == 1
    stmt = _update(type(to), sources, to, tuple(sorted(values)), one)
    params: dict[str, Any] = {f"v_{k}": v for k, v in values.items()}
    params["t_ids"] = (ids if isinstance(ids, int) else ids[0]) if one else ids
    return stmt, params


def _targets(
    ids: int | Iterable[int], to: Status, frm: Status | Collection[Status] | None
) -> list[int]:
    """The rows of a move, in order; with none, the move is still checked (a move the table
    never allows is refused all the same)."""
    targets = [ids] if isinstance(ids, int) else sorted(set(ids))
    if not targets:
        _sources(to, frm)
    return targets


def _sources(to: Status, frm: Status | Collection[Status] | None) -> frozenset[Status]:
    """The statuses a row may move to ``to`` from (:class:`TransitionError` for a move the
    table never allows)."""
    sources = allowed_from(to)
    if frm is None:
        return frozenset(sources)
    wanted = {frm} if isinstance(frm, StrEnum) else set(frm)
    refused = wanted - sources
    if refused:
        names = ", ".join(sorted(str(s) for s in refused))
        raise TransitionError(f"{type(to).__name__}: no move from {names} to {to}")
    return frozenset(wanted)


_UPDATES: dict[tuple[Any, ...], sa.Update] = {}


def _update(
    kind: type[StrEnum], sources: frozenset[Status], to: Status, names: tuple[str, ...], one: bool
) -> sa.Update:
    """The UPDATE of one status change, built once (building and cache-keying a statement
    costs more than running it): ids and values are bound parameters."""
    key = (kind, sources, to, names, one)
    if key not in _UPDATES:
        table = _TABLES[kind]
        ids: sa.BindParameter[Any] = sa.bindparam("t_ids", expanding=not one)
        where = table.c.id == ids if one else table.c.id.in_(ids)
        status = table.c.status
        ordered = sorted(s.value for s in sources)
        _UPDATES[key] = (
            sa.update(table)
            .where(where, status == ordered[0] if len(ordered) == 1 else status.in_(ordered))
            .values(status=to.value, **{k: sa.bindparam(f"v_{k}") for k in names})
        )
    return _UPDATES[key]


def cancel_dependants(session: Session, action_id: int, *, actor: str, now: datetime) -> list[int]:
    """Cancel every action that waits, directly or down a chain, for ``action_id`` (which was
    rejected, blocked, cancelled or failed): each one's pending review item is superseded and
    its waiting (or pending) outbox item cancelled, with the reason, and the action moves to
    ``cancelled``. Returns the ids of the actions cancelled, nearest first."""
    cancelled: list[int] = []
    frontier = [action_id]
    pre = ACTIONS.alias("pre")
    # items no one claimed: ``waiting`` as a rule (pending once their prerequisite executed)
    unclaimed = (OutboxStatus.WAITING, OutboxStatus.PENDING)
    while frontier:
        rows = session.execute(
            sa.select(
                ACTIONS.c.id,
                ACTIONS.c.account_id,
                pre.c.id.label("pre_id"),
                pre.c.kind.label("pre_kind"),
                pre.c.status.label("pre_status"),
            )
            .join(pre, pre.c.id == ACTIONS.c.after_action_id)
            .where(
                ACTIONS.c.after_action_id.in_(frontier),
                ACTIONS.c.status.in_(allowed_from(ActionStatus.CANCELLED)),
            )
            .order_by(ACTIONS.c.id)
        ).all()
        trail = []
        frontier = []
        for r in rows:
            reason = waited_in_vain(r.pre_kind, r.pre_id, r.pre_status)
            if not transition(session, r.id, ActionStatus.CANCELLED, updated_at=now):
                continue  # answered or carried out by someone just now: that stands
            reviews = (
                session.execute(
                    sa.select(REVIEWS.c.id).where(
                        REVIEWS.c.action_id == r.id, REVIEWS.c.status == ReviewStatus.PENDING
                    )
                )
                .scalars()
                .all()
            )
            closed = [
                i
                for i in reviews
                if transition(
                    session,
                    i,
                    ReviewStatus.SUPERSEDED,
                    answered_at=now,
                    answered_by=actor,
                    note=reason,
                )
            ]
            items = (
                session.execute(
                    sa.select(OUTBOX.c.id).where(
                        OUTBOX.c.action_id == r.id, OUTBOX.c.status.in_(unclaimed)
                    )
                )
                .scalars()
                .all()
            )
            transition(session, items, OutboxStatus.CANCELLED, frm=unclaimed, last_error=reason)
            trail.append(
                audit_row(
                    actor=actor,
                    event="cancelled",
                    at=now,
                    account_id=r.account_id,
                    action_id=r.id,
                    review_id=closed[0] if closed else None,
                    reason=reason,
                )
            )
            cancelled.append(r.id)
            frontier.append(r.id)
        write_audit(session, trail)
    return cancelled
