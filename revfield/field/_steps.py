"""The database side of an agent run: recording proposals with their decisions, and
finishing a run once every waiting action is answered.

Both are idempotent, because LangGraph may run a node again (after a crash, or on resume):
an action is identified by (field event, agent, kind, target), so recording the same
proposal twice finds the first record instead of deciding, queuing or opening a review again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.agents._common import EventView
from revfield.domain import ProposedAction
from revfield.memory._audit import audit_row, write_audit
from revfield.memory.models import ActionRecord, DecisionRecord, FieldEvent, Review, table_of
from revfield.outbox import enqueue, queue_entry, write_queue
from revfield.policies import Verdict, build_context, decide, record_decision
from revfield.policies._load import CompiledPack
from revfield.review._service import open_review

__all__ = ["finish_run", "load_event", "record_proposals", "trace_of"]

ACT, E, DEC, R = (
    table_of(ActionRecord),
    table_of(FieldEvent),
    table_of(DecisionRecord),
    table_of(Review),
)


def load_event(session: Session, event_id: int) -> EventView:
    row = session.execute(sa.select(E).where(E.c.id == event_id)).mappings().one()
    return EventView(
        id=row["id"],
        kind=row["kind"],
        account_id=row["account_id"],
        signal_ids=tuple(row["signal_ids"] or ()),
        detail=row["detail"],
        occurred_at=row["occurred_at"],
        contact_id=row["contact_id"],
        deal_id=row["deal_id"],
        data=dict(row["data"] or {}),
    )


def _trace(
    action: Any,
    event: Any,
    decision: Any,
    review: Any = None,
) -> dict[str, Any]:
    """Why an action happens: signal → facts → field event → decision → review. ``action``
    has ``field_event_id`` and ``proposal``; ``event``, ``decision`` and ``review`` are rows
    (or None) with the columns :func:`trace_of` reads."""
    p = action.proposal
    return {
        "field_event_id": action.field_event_id,
        "event_kind": event.kind if event else None,
        "signal_ids": sorted(
            {*(event.signal_ids or [] if event else []), *p.get("cited_signal_ids", [])}
        ),
        "fact_ids": p.get("cited_fact_ids", []),
        "decision_id": decision.id if decision else None,
        "verdict": decision.verdict if decision else None,
        "rules": list(decision.matched_rules) if decision else [],
        "policy_version": decision.policy_version if decision else None,
        "review_id": review.id if review else None,
        "approved_by": review.answered_by if review else None,
        "edits": review.edits if review else None,
    }


def trace_of(session: Session, action: ActionRecord) -> dict[str, Any]:
    """The trace of a stored action, read from memory (its newest decision, its approval)."""
    event = session.execute(
        sa.select(E.c.kind, E.c.signal_ids).where(E.c.id == action.field_event_id)
    ).first()
    decision = session.execute(
        sa.select(DEC.c.id, DEC.c.verdict, DEC.c.matched_rules, DEC.c.policy_version)
        .where(DEC.c.action_id == action.id)
        .order_by(DEC.c.id.desc())
        .limit(1)
    ).first()
    review = session.execute(
        sa.select(R.c.id, R.c.answered_by, R.c.edits)
        .where(R.c.action_id == action.id, R.c.status == "approved")
        .order_by(R.c.id.desc())
        .limit(1)
    ).first()
    return _trace(action, event, decision, review)


class _Stored(NamedTuple):
    """An action as this run inserted it (what the trace, the outbox and reviews read)."""

    id: int
    account_id: str
    field_event_id: int
    digest: str
    proposal: dict[str, Any]


class _Decided(NamedTuple):
    """A decision as this run stored it (the columns :func:`_trace` reads)."""

    id: int
    verdict: str
    matched_rules: tuple[str, ...]
    policy_version: str


_INSERT_ACTION = sa.insert(ACT).returning(ACT.c.id)


def _earlier(session: Session, found: ActionRecord) -> dict[str, Any]:
    """An action recorded by an earlier run of this step, as the step reports it."""
    first = session.execute(
        sa.select(DEC.c.verdict).where(DEC.c.action_id == found.id).order_by(DEC.c.id).limit(1)
    ).scalar_one_or_none()
    review = session.execute(
        sa.select(R.c.id)
        .where(R.c.action_id == found.id, R.c.status == "pending")
        .order_by(R.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return {
        "id": found.id,
        "kind": found.kind,
        "status": found.status,
        "verdict": first or "",
        "review_id": review,
    }


def record_proposals(
    session: Session,
    pack: CompiledPack,
    *,
    event_id: int,
    agent: str,
    thread_id: str,
    proposals: list[ProposedAction],
    executor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Store each proposal, decide on it, and act on the verdict: ``auto`` → outbox,
    ``review``/``escalate`` → a review item, ``block`` → recorded only. Leaves the event
    ``done`` when nothing waits for a person, else ``running`` (until the run pauses).

    Each action and its decision are written before the next proposal is decided (its
    counters see them); the outbox rows and audit entries are written once, at the end."""
    event = session.execute(
        sa.select(E.c.kind, E.c.signal_ids, E.c.status).where(E.c.id == event_id).with_for_update()
    ).one()
    existing = (
        {}
        if event.status == "pending"
        else {
            (r.kind, r.target): r
            for r in session.execute(
                sa.select(ActionRecord).where(
                    ACT.c.field_event_id == event_id, ACT.c.agent == agent
                )
            ).scalars()
        }
    )
    cache: dict[Any, Any] = {}
    out: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    trail: list[dict[str, Any]] = []
    ids: dict[str, int] = {}  # kind → this run's action, for proposals that wait for another
    for p in sorted(proposals, key=lambda p: p.after is not None):  # what others wait for first
        found = existing.get((p.kind.value, p.target))
        if found is not None:  # decided before this node ran again: take what was done
            out.append(_earlier(session, found))
            ids[found.kind] = found.id
            continue
        decision = decide(pack, build_context(session, pack, p, now, cache))
        status = {Verdict.AUTO: "queued", Verdict.BLOCK: "blocked"}.get(
            decision.verdict, "pending_review"
        )
        proposal = p.model_dump(mode="json")
        digest = p.digest()
        action_id = int(
            session.execute(
                _INSERT_ACTION,
                dict(
                    account_id=p.account_id,
                    contact_id=p.contact_id,
                    deal_id=p.deal_id,
                    field_event_id=event_id,
                    agent=agent,
                    kind=p.kind.value,
                    motion=p.motion.value,
                    target=p.target,
                    proposal=proposal,
                    digest=digest,
                    status=status,
                    thread_id=thread_id,
                    created_at=now,
                    updated_at=now,
                ),
            ).scalar_one()
        )
        ids[p.kind.value] = action_id
        action = _Stored(action_id, p.account_id, event_id, digest, proposal)
        decision_id = record_decision(session, decision, decided_at=now, action_id=action_id)
        trail.append(
            audit_row(
                actor=f"agent:{agent}",
                event="proposed",
                at=now,
                account_id=p.account_id,
                action_id=action_id,
                kind=p.kind.value,
                field_event_id=event_id,
                verdict=decision.verdict.label,
                rules=list(decision.matched),
                policy_version=decision.policy_version,
            )
        )
        review_id = None
        if decision.verdict is Verdict.AUTO:
            decided = _Decided(
                decision_id, decision.verdict.label, decision.matched, decision.policy_version
            )
            item, entry = queue_entry(
                action,
                executor=executor,
                trace=_trace(action, event, decided),
                now=now,
                after=ids.get(p.after.value) if p.after else None,
            )
            queued.append(item)
            trail.append(entry)
        elif decision.verdict is Verdict.BLOCK:
            trail.append(
                audit_row(
                    actor="policy",
                    event="blocked",
                    at=now,
                    account_id=p.account_id,
                    action_id=action_id,
                    reason=decision.explanation,
                )
            )
        else:
            write_audit(session, trail)  # "proposed" before "review_opened" in the trail
            trail.clear()
            review_id = open_review(
                session,
                pack,
                action=action,
                decision_id=decision_id,
                verdict=decision.verdict,
                escalate_to=decision.escalate_to,
                reason=decision.explanation,
                now=now,
            )
        out.append(
            {
                "id": action_id,
                "kind": p.kind.value,
                "status": status,
                "verdict": decision.verdict.label,
                "review_id": review_id,
            }
        )
    write_queue(session, queued)
    write_audit(session, trail)
    waits = any(a["status"] == "pending_review" for a in out)
    session.execute(
        sa.update(E).where(E.c.id == event_id).values(status="running" if waits else "done")
    )
    return out


def finish_run(
    session: Session, *, event_id: int, answers: dict[str, str], executor: str, now: datetime
) -> dict[str, int]:
    """Queue every approved action of the run and close its field event (idempotent)."""
    counts = {"queued": 0, "rejected": 0}
    for action_id, outcome in answers.items():
        action = session.get(ActionRecord, int(action_id))
        if action is None:
            continue
        if outcome == "approved" and action.status == "approved":
            counts["queued"] += enqueue(
                session, action, executor=executor, trace=trace_of(session, action), now=now
            )
        elif outcome != "approved":
            counts["rejected"] += 1
    session.execute(sa.update(E).where(E.c.id == event_id).values(status="done"))
    return counts
