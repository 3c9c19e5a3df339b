"""Why an action happens, read from memory: its trace (signal → facts → field event →
decision: rules and policy version → review → outbox result).

:func:`provenance` is the one shape of a trace, carried by every outbox delivery;
:func:`trace_of` reads it for a stored action, and :func:`action_chain` gives
``revfield account show`` the whole chain of an account's newest actions. Read-only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.domain import ReviewStatus
from revfield.memory._actions import _GET_ACTION, StoredAction
from revfield.memory._tables import ACTIONS, DECISIONS, EVENTS, FACTS, OUTBOX, REVIEWS
from revfield.memory._together import Rows, Run, run_together

__all__ = ["DecisionRef", "ToQueue", "action_chain", "provenance", "to_queue", "trace_of"]


class DecisionRef(NamedTuple):
    """What a trace names of the decision that let an action go out."""

    id: int
    verdict: str
    matched_rules: Sequence[str]
    policy_version: str


def provenance(
    *,
    field_event_id: int | None,
    proposal: Mapping[str, Any],
    event_kind: str | None,
    event_signal_ids: Sequence[int],
    decision: DecisionRef | None,
    review: tuple[int, str | None, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The trace of an action: field event, signals (the event's and those the action
    cites), cited facts, the decision (rules, policy version) and, when a person approved
    it, who and with which edits (``review`` is ``(id, answered by, edits)``)."""
    return {
        "field_event_id": field_event_id,
        "event_kind": event_kind,
        "signal_ids": sorted({*event_signal_ids, *proposal.get("cited_signal_ids", [])}),
        "fact_ids": proposal.get("cited_fact_ids", []),
        "decision_id": decision.id if decision else None,
        "verdict": decision.verdict if decision else None,
        "rules": list(decision.matched_rules) if decision else [],
        "policy_version": decision.policy_version if decision else None,
        "review_id": review[0] if review else None,
        "approved_by": review[1] if review else None,
        "edits": review[2] if review else None,
    }


def trace_of(
    session: Session, action_id: int, field_event_id: int | None, proposal: Mapping[str, Any]
) -> dict[str, Any]:
    """The trace of a stored action, read from memory (its newest decision, its approval):
    one round trip on PostgreSQL."""
    event, decision, review = run_together(
        session,
        [
            (_EVENT, {"e_id": field_event_id}),
            (_NEWEST_DECISION, {"a_id": action_id}),
            (_APPROVAL, {"a_id": action_id}),
        ],
    )
    return _trace(field_event_id, proposal, event, decision, review)


def _trace(
    field_event_id: int | None,
    proposal: Mapping[str, Any],
    event: Rows,
    decision: Rows,
    review: Rows,
) -> dict[str, Any]:
    """:func:`provenance` from the rows of the action's event, newest decision and approval."""
    return provenance(
        field_event_id=field_event_id,
        proposal=proposal,
        event_kind=event[0]["kind"] if event else None,
        event_signal_ids=(event[0]["signal_ids"] or []) if event else [],
        decision=DecisionRef(*decision[0].values()) if decision else None,
        review=tuple(review[0].values()) if review else None,
    )


class ToQueue(NamedTuple):
    """An action to queue, as read for it (:func:`to_queue`)."""

    action: StoredAction
    queued: bool
    """Whether it has an outbox item already."""
    trace: dict[str, Any]
    """Its trace (:func:`trace_of`)."""


_A: sa.BindParameter[int] = sa.bindparam("a_id")
_EVENT = sa.select(EVENTS.c.kind, EVENTS.c.signal_ids).where(EVENTS.c.id == sa.bindparam("e_id"))
_EVENT_OF = sa.select(EVENTS.c.kind, EVENTS.c.signal_ids).where(
    EVENTS.c.id == sa.select(ACTIONS.c.field_event_id).where(ACTIONS.c.id == _A).scalar_subquery()
)
_NEWEST_DECISION = (
    sa.select(
        DECISIONS.c.id, DECISIONS.c.verdict, DECISIONS.c.matched_rules, DECISIONS.c.policy_version
    )
    .where(DECISIONS.c.action_id == _A)
    .order_by(DECISIONS.c.id.desc())
    .limit(1)
)
_APPROVAL = (
    sa.select(REVIEWS.c.id, REVIEWS.c.answered_by, REVIEWS.c.edits)
    .where(REVIEWS.c.action_id == _A, REVIEWS.c.status == ReviewStatus.APPROVED.value)
    .order_by(REVIEWS.c.id.desc())
    .limit(1)
)
_IN_OUTBOX = sa.select(OUTBOX.c.id).where(OUTBOX.c.action_id == _A).limit(1)


def to_queue(session: Session, action_ids: Sequence[int]) -> list[ToQueue]:
    """The actions ``action_ids`` (those that exist, in the order given), each with whether it
    is queued already and its trace: everything queuing them needs, read together (one round
    trip on PostgreSQL, where reading them one by one took five for each)."""
    runs: list[Run] = []
    for action_id in action_ids:
        params = {"a_id": action_id}
        runs += [
            (_GET_ACTION, {"id": action_id}),
            (_IN_OUTBOX, params),
            (_EVENT_OF, params),
            (_NEWEST_DECISION, params),
            (_APPROVAL, params),
        ]
    rows = run_together(session, runs) if runs else []
    found = []
    for i in range(0, len(rows), 5):
        action, queued, event, decision, review = rows[i : i + 5]
        if not action:
            continue
        stored = StoredAction.of(action[0])
        trace = _trace(stored.field_event_id, stored.proposal, event, decision, review)
        found.append(ToQueue(stored, bool(queued), trace))
    return found


def action_chain(session: Session, account_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` newest actions of the account, each with everything that led to it."""
    actions = (
        session.execute(
            sa.select(ACTIONS)
            .where(ACTIONS.c.account_id == account_id)
            .order_by(ACTIONS.c.created_at.desc(), ACTIONS.c.id.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    if not actions:
        return []
    ids = [a["id"] for a in actions]
    events = {
        r["id"]: r
        for r in session.execute(
            sa.select(EVENTS.c.id, EVENTS.c.kind, EVENTS.c.detail, EVENTS.c.signal_ids).where(
                EVENTS.c.id.in_({a["field_event_id"] for a in actions if a["field_event_id"]})
            )
        ).mappings()
    }
    fact_ids = {i for a in actions for i in a["proposal"].get("cited_fact_ids", [])}
    facts = (
        {
            r["id"]: r
            for r in session.execute(
                sa.select(FACTS.c.id, FACTS.c.type, FACTS.c.value, FACTS.c.source_signal_id).where(
                    FACTS.c.id.in_(fact_ids)
                )
            ).mappings()
        }
        if fact_ids
        else {}
    )
    decisions: dict[int, Any] = {}
    for r in session.execute(
        sa.select(
            DECISIONS.c.id,
            DECISIONS.c.action_id,
            DECISIONS.c.verdict,
            DECISIONS.c.matched_rules,
            DECISIONS.c.guardrails,
            DECISIONS.c.policy_version,
            DECISIONS.c.explanation,
        )
        .where(DECISIONS.c.action_id.in_(ids))
        .order_by(DECISIONS.c.id)
    ).mappings():
        decisions.setdefault(r["action_id"], []).append(r)
    reviews: dict[int, list[Any]] = {}
    for r in session.execute(
        sa.select(REVIEWS).where(REVIEWS.c.action_id.in_(ids)).order_by(REVIEWS.c.id)
    ).mappings():
        reviews.setdefault(r["action_id"], []).append(r)
    outbox = {
        r["action_id"]: r
        for r in session.execute(sa.select(OUTBOX).where(OUTBOX.c.action_id.in_(ids))).mappings()
    }
    out = []
    for a in actions:
        p = a["proposal"]
        ev = events.get(a["field_event_id"])
        out.append(
            {
                "id": a["id"],
                "agent": a["agent"],
                "kind": a["kind"],
                "motion": a["motion"],
                "target": a["target"],
                "status": a["status"],
                "subject": p.get("subject", ""),
                "concerns": p.get("concerns", []),
                "created_at": json_ready(a["created_at"]),
                "signal_ids": sorted(
                    {*(ev["signal_ids"] if ev else []), *p.get("cited_signal_ids", [])}
                ),
                "facts": [
                    {
                        "id": i,
                        "type": facts[i]["type"],
                        "value": facts[i]["value"],
                        "source_signal_id": facts[i]["source_signal_id"],
                    }
                    for i in p.get("cited_fact_ids", [])
                    if i in facts
                ],
                "event": {"id": ev["id"], "kind": ev["kind"], "detail": ev["detail"]}
                if ev
                else None,
                "decisions": [
                    {
                        "id": d["id"],
                        "verdict": d["verdict"],
                        "rules": list(d["matched_rules"]),
                        "guardrails": [g["id"] for g in d["guardrails"]],
                        "policy_version": d["policy_version"],
                        "explanation": d["explanation"],
                    }
                    for d in decisions.get(a["id"], [])
                ],
                "reviews": [
                    {
                        "id": r["id"],
                        "status": r["status"],
                        "role": r["assignee_role"],
                        "by": r["answered_by"],
                        "at": json_ready(r["answered_at"]),
                        "note": r["note"],
                        "edits": r["edits"],
                    }
                    for r in reviews.get(a["id"], [])
                ],
                "outbox": (
                    {
                        "key": o["idempotency_key"],
                        "status": o["status"],
                        "attempts": o["attempts"],
                        "executor": o["executor"],
                        "executed_at": json_ready(o["executed_at"]),
                        "result": o["result"],
                        "after": a["after_action_id"],
                        "error": o["last_error"],
                    }
                    if (o := outbox.get(a["id"]))
                    else None
                ),
            }
        )
    return out
