"""The memory side of an agent run: recording proposals with their decisions, and finishing a
run once every waiting action is answered.

Both are idempotent, because LangGraph may run a node again (after a crash, or on resume):
an action is identified by (field event, agent, kind, target), so recording the same proposal
twice finds the first record instead of deciding, queuing or opening a review again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from revfield.domain import ActionStatus, EventStatus, ProposedAction, Verdict
from revfield.llm import RecordedCall
from revfield.memory import (
    DecisionRef,
    Session,
    StoredAction,
    actions_of_run,
    audit_row,
    cancel_dependants,
    close_decisions,
    first_verdict,
    lock_event,
    pending_review_id,
    provenance,
    queue_approved,
    queue_entry,
    record_decided_action,
)
from revfield.policies import CompiledPack, RunSlots, decide_within_budget, decision_row
from revfield.review import open_review_item

__all__ = ["enqueue", "finish_run", "record_proposals"]

_STATUS = {Verdict.AUTO: ActionStatus.QUEUED, Verdict.BLOCK: ActionStatus.BLOCKED}


def _recorded(action: StoredAction, verdict: str, review_id: int | None) -> dict[str, Any]:
    """A proposal as the run's state keeps it."""
    return {
        "id": action.id,
        "kind": action.kind,
        "status": action.status.value,
        "verdict": verdict,
        "review_id": review_id,
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
    calls: Sequence[RecordedCall] = (),
) -> list[dict[str, Any]]:
    """Store each proposal, decide on it, and act on the verdict: ``auto`` → outbox,
    ``review``/``escalate`` → a review item, ``block`` → recorded only (and what waits for a
    blocked action is cancelled). Leaves the event ``done`` when nothing waits for a person,
    else ``running`` (until the run pauses).

    Each action and its decision are written together before the next proposal is decided
    (its counters see them); the outbox rows, audit entries and the run's model ``calls``
    are written together, once, at the end."""
    # deciding for the account is serial: counters, caps and budgets read below see what
    # every earlier decision for it wrote (other accounts decide in parallel); lock_event
    # holds the account too
    # (a motion's daily budget spans accounts: an automated decision takes its slot in a
    # counter of its own, without waiting for other accounts' decisions)
    event, status = lock_event(session, event_id)
    existing = (
        {}
        if status is EventStatus.PENDING
        else {(a.kind, a.target): a for a in actions_of_run(session, event_id, agent)}
    )
    cache: dict[Any, Any] = {}
    out: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    trail: list[dict[str, Any]] = []
    blocked: list[int] = []
    ids: dict[str, int] = {}  # kind → this run's action, for proposals that wait for another
    created: set[int] = set()  # recorded by this transaction
    behind_new: set[int] = set()  # actions waiting for one recorded by this transaction
    # the budget slots this run's automated decisions may need, taken at the first of them
    slots = RunSlots.for_proposals([p for p in proposals if (p.kind, p.target) not in existing])
    for p in sorted(proposals, key=lambda p: p.after is not None):  # what others wait for first
        found = existing.get((p.kind, p.target))
        if found is not None:  # decided before this node ran again: take what was done
            verdict = first_verdict(session, found.id) or ""
            out.append(_recorded(found, verdict, pending_review_id(session, found.id)))
            ids[found.kind] = found.id
            continue
        decision = decide_within_budget(session, pack, p, now, cache, slots)
        action, decision_id = record_decided_action(
            session,
            p,
            decision_row(decision, now),
            field_event_id=event_id,
            agent=agent,
            thread_id=thread_id,
            status=_STATUS.get(decision.verdict, ActionStatus.PENDING_REVIEW),
            after_action_id=ids.get(p.after) if p.after else None,
            now=now,
        )
        ids[p.kind] = action.id
        created.add(action.id)
        if action.after_action_id in created:
            behind_new.add(action.id)
        trail.append(
            audit_row(
                actor=f"agent:{agent}",
                event="proposed",
                at=now,
                account_id=p.account_id,
                action_id=action.id,
                kind=p.kind,
                field_event_id=event_id,
                verdict=decision.verdict.label,
                rules=list(decision.matched),
                policy_version=decision.policy_version,
            )
        )
        review_id = None
        if decision.verdict is Verdict.AUTO:
            trace = provenance(
                field_event_id=event_id,
                proposal=action.proposal,
                event_kind=event.kind,
                event_signal_ids=event.signal_ids,
                decision=DecisionRef(
                    decision_id, decision.label, decision.matched, decision.policy_version
                ),
            )
            item, entry = queue_entry(action, executor=executor, trace=trace, now=now)
            queued.append(item)
            trail.append(entry)
        elif decision.verdict is Verdict.BLOCK:
            trail.append(
                audit_row(
                    actor="policy",
                    event="blocked",
                    at=now,
                    account_id=p.account_id,
                    action_id=action.id,
                    reason=decision.explanation,
                )
            )
            blocked.append(action.id)
        else:  # "review_opened" follows "proposed" in the trail, written with the rest
            review_id = open_review_item(
                session,
                pack,
                action.id,
                action.account_id,
                action.digest,
                decision_id,
                decision,
                now,
                concerns=p.concerns,
                trail=trail,
            )
        out.append(_recorded(action, decision.label, review_id))
    slots.release(session, now)  # those taken ahead that no decision used
    if blocked:  # what waits for a blocked action is cancelled once the run's writes are in
        close_decisions(
            session, now=now, queued=queued, still_waiting=behind_new, trail=trail, calls=calls
        )
        queued, trail, calls = [], [], ()
        cancelled = {
            i for a in blocked for i in cancel_dependants(session, a, actor="policy", now=now)
        }
        for entry in out:
            if entry["id"] in cancelled:
                entry["status"] = ActionStatus.CANCELLED.value
    waits = any(a["status"] == ActionStatus.PENDING_REVIEW for a in out)
    to = EventStatus.RUNNING if waits else EventStatus.DONE  # running until the run pauses
    # the run's writes and its event's move: together, one round trip on PostgreSQL
    close_decisions(
        session,
        now=now,
        queued=queued,
        still_waiting=behind_new,
        trail=trail,
        calls=calls,
        event_id=event_id,
        to=None if to is status else to,
    )
    return out


def enqueue(session: Session, action: StoredAction, *, executor: str, now: datetime) -> bool:
    """Queue an approved action for delivery (in the caller's transaction), with its trace.
    Queuing an action twice queues it once; returns whether this call queued it."""
    return bool(queue_approved(session, [action.id], executor=executor, now=now))


def finish_run(
    session: Session, *, event_id: int, answers: dict[str, str], executor: str, now: datetime
) -> dict[str, int]:
    """Queue every approved action of the run and close its field event (idempotent)."""
    approved = [int(a) for a, outcome in answers.items() if outcome == "approved"]
    rejected = sum(1 for outcome in answers.values() if outcome != "approved")
    queued = queue_approved(session, approved, executor=executor, now=now, close_event=event_id)
    return {"queued": queued, "rejected": rejected}
