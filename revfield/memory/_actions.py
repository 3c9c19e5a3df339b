"""Actions and the decisions on them: recording what an agent proposed, reading it back.

An action is recorded once per (field event, agent, kind, target): recording the same
proposal again (a re-run after a crash) finds the first record. Its status then moves only
through :func:`~revfield.memory._lifecycle.transition`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ActionKind, ActionStatus, ProposedAction, initial
from revfield.memory._risks import link_save_play
from revfield.memory._tables import ACTIONS, DECISIONS
from revfield.memory._together import insert_of, run_together

__all__ = [
    "NewDecision",
    "StoredAction",
    "actions_of_run",
    "edit_action",
    "first_verdict",
    "get_action",
    "record_action",
    "record_decided_action",
    "record_decision",
    "stored_decisions",
]


@dataclass(frozen=True, slots=True)
class StoredAction:
    """An action as the memory holds it."""

    id: int
    account_id: str
    contact_id: int | None
    deal_id: str | None
    field_event_id: int | None
    agent: str
    kind: str
    motion: str
    target: str
    proposal: dict[str, Any]
    """The whole proposed action (with any reviewer's edits applied)."""
    digest: str
    status: ActionStatus
    thread_id: str
    after_action_id: int | None
    """The action of the same run that must be carried out first, if any."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> StoredAction:
        """From an ``actions`` row."""
        return cls(**{**row, "status": ActionStatus(row["status"])})


@dataclass(frozen=True, slots=True)
class NewDecision:
    """A policy decision to store, with the context it was made in (as JSON)."""

    account_id: str | None
    contact_id: int | None
    deal_id: str | None
    action_id: int | None
    action_kind: str
    motion: str
    verdict: str
    matched_rules: list[str]
    guardrails: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    missing_criteria: list[str]
    escalate_to: str | None
    policy_version: str
    explanation: str
    context: dict[str, Any]
    decided_at: datetime


_DECISION_FIELDS = tuple(f.name for f in fields(NewDecision))
_DECIDED_FIELDS = tuple(n for n in _DECISION_FIELDS if n != "action_id")
"""A decision's fields but its action's id (:func:`record_decided_action` takes the new one)."""
_INSERT_DECISION = insert_of(DECISIONS, _DECISION_FIELDS, ("id",))
_INSERT_ACTION = insert_of(
    ACTIONS,
    (
        "account_id",
        "contact_id",
        "deal_id",
        "field_event_id",
        "agent",
        "kind",
        "motion",
        "target",
        "proposal",
        "digest",
        "status",
        "thread_id",
        "after_action_id",
        "created_at",
        "updated_at",
    ),
    ("id",),
)
_GET_ACTION = sa.select(ACTIONS).where(ACTIONS.c.id == sa.bindparam("id"))


def record_action(
    session: Session,
    proposal: ProposedAction,
    *,
    field_event_id: int | None,
    agent: str,
    thread_id: str,
    status: ActionStatus,
    after_action_id: int | None,
    now: datetime,
) -> StoredAction:
    """Store a proposed action in its first status; returns it as stored. A save play starts
    working off the account's open churn risk."""
    row = _action_row(proposal, field_event_id, agent, thread_id, status, after_action_id, now)
    action_id = int(run_together(session, [(_INSERT_ACTION, row)])[0][0]["id"])
    return _recorded(session, proposal, row, action_id, now)


def record_decided_action(
    session: Session,
    proposal: ProposedAction,
    decision: NewDecision,
    *,
    field_event_id: int | None,
    agent: str,
    thread_id: str,
    status: ActionStatus,
    after_action_id: int | None,
    now: datetime,
) -> tuple[StoredAction, int]:
    """Store a proposed action in its first status and the decision on it, together (one
    round trip on PostgreSQL); returns the action as stored and the decision's id. (The
    decision's ``action_id`` is the new action's.)"""
    row = _action_row(proposal, field_event_id, agent, thread_id, status, after_action_id, now)
    decided = {name: getattr(decision, name) for name in _DECIDED_FIELDS}
    statement = _decision_after_action(session.get_bind().dialect.name)
    action, made = run_together(session, [(_INSERT_ACTION, row), (statement, decided)])
    return _recorded(session, proposal, row, int(action[0]["id"]), now), int(made[0]["id"])


def _action_row(
    proposal: ProposedAction,
    field_event_id: int | None,
    agent: str,
    thread_id: str,
    status: ActionStatus,
    after_action_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    if not initial(status):
        raise ValueError(f"an action can't start as {status}")
    return {
        "account_id": proposal.account_id,
        "contact_id": proposal.contact_id,
        "deal_id": proposal.deal_id,
        "field_event_id": field_event_id,
        "agent": agent,
        "kind": proposal.kind,
        "motion": proposal.motion.value,
        "target": proposal.target,
        "proposal": proposal.model_dump(mode="json"),
        "digest": proposal.digest(),
        "status": status.value,
        "thread_id": thread_id,
        "after_action_id": after_action_id,
        "created_at": now,
        "updated_at": now,
    }


def _recorded(
    session: Session, proposal: ProposedAction, row: dict[str, Any], action_id: int, now: datetime
) -> StoredAction:
    if proposal.kind == ActionKind.SAVE_PLAY:
        link_save_play(session, proposal.account_id, action_id, now)
    return StoredAction.of({**row, "id": action_id})


_AFTER_ACTION: dict[str, sa.Insert] = {}


def _decision_after_action(dialect: str) -> sa.Insert:
    """The INSERT of a decision on the action inserted just before it on the connection."""
    if dialect not in _AFTER_ACTION:
        last = (  # the id the statement before took (this connection's, not another's)
            sa.func.currval(sa.func.pg_get_serial_sequence(ACTIONS.name, ACTIONS.c.id.name))
            if dialect == "postgresql"
            else sa.func.last_insert_rowid()
        )
        _AFTER_ACTION[dialect] = (
            sa.insert(DECISIONS)
            .values({**{n: sa.bindparam(n) for n in _DECIDED_FIELDS}, "action_id": last})
            .returning(DECISIONS.c.id)
        )
    return _AFTER_ACTION[dialect]


def get_action(session: Session, action_id: int) -> StoredAction:
    """The action ``action_id`` (``LookupError`` when there is none)."""
    row = session.execute(_GET_ACTION, {"id": action_id}).mappings().first()
    if row is None:
        raise LookupError(f"no action #{action_id}")
    return StoredAction.of(row)


def actions_of_run(session: Session, event_id: int, agent: str) -> list[StoredAction]:
    """The actions an agent run on ``event_id`` recorded so far, oldest first."""
    rows = session.execute(
        sa.select(ACTIONS)
        .where(ACTIONS.c.field_event_id == event_id, ACTIONS.c.agent == agent)
        .order_by(ACTIONS.c.id)
    ).mappings()
    return [StoredAction.of(r) for r in rows]


def edit_action(session: Session, action: ProposedAction, action_id: int, now: datetime) -> None:
    """Replace a stored action's proposal with its edited version (and its digest)."""
    session.execute(
        sa.update(ACTIONS)
        .where(ACTIONS.c.id == action_id)
        .values(proposal=action.model_dump(mode="json"), digest=action.digest(), updated_at=now)
    )


def record_decision(session: Session, decision: NewDecision) -> int:
    """Store a decision; returns its id."""
    row = {name: getattr(decision, name) for name in _DECISION_FIELDS}
    return int(run_together(session, [(_INSERT_DECISION, row)])[0][0]["id"])


def first_verdict(session: Session, action_id: int) -> str | None:
    """The verdict of the first decision on an action (later ones decide its edits)."""
    found = session.execute(
        sa.select(DECISIONS.c.verdict)
        .where(DECISIONS.c.action_id == action_id)
        .order_by(DECISIONS.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def stored_decisions(
    session: Session, limit: int | None = None
) -> Iterator[tuple[int, str | None, dict[str, Any]]]:
    """``(id, account id, context)`` of stored decisions, newest first."""
    query = sa.select(DECISIONS.c.id, DECISIONS.c.account_id, DECISIONS.c.context).order_by(
        DECISIONS.c.id.desc()
    )
    for row in session.execute(query.limit(limit) if limit else query):
        yield row.id, row.account_id, row.context
