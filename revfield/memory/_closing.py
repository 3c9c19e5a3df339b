"""The writes that close an agent run's decisions, sent together: its outbox items, its audit
trail, the model calls it made and its field event's new status — one round trip on
PostgreSQL instead of one per table, in the run's transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from revfield.domain import ActionStatus, EventStatus
from revfield.memory._lifecycle import transition_run
from revfield.memory._model_calls import call_rows
from revfield.memory._outbox import queue_entry, queue_rows
from revfield.memory._tables import AUDIT, MODEL_CALLS, OUTBOX
from revfield.memory._together import Run, insert_runs, run_together
from revfield.memory._trace import to_queue

if TYPE_CHECKING:  # the model layer is not needed to store what it did
    from revfield.llm import RecordedCall

__all__ = ["close_decisions", "queue_approved"]


def close_decisions(
    session: Session,
    *,
    now: datetime,
    queued: Sequence[dict[str, Any]] = (),
    still_waiting: Collection[int] = (),
    trail: Sequence[dict[str, Any]] = (),
    calls: Sequence[RecordedCall] = (),
    moves: Sequence[Run] = (),
    event_id: int | None = None,
    to: EventStatus | None = None,
) -> int:
    """Write, together: the outbox items ``queued`` (from
    :func:`~revfield.memory.queue_entry`, as :func:`~revfield.memory.write_queue` writes
    them), the audit entries ``trail``, the model calls ``calls``, the status ``moves``
    (:func:`~revfield.memory.transition_run`'s) and the move of the field event ``event_id``
    to ``to`` (none when ``to`` is None). Returns how many events moved (0 or 1: none when it
    was there already or went elsewhere meanwhile)."""
    runs: list[Run] = []
    if queued:
        runs += insert_runs(
            session, OUTBOX, queue_rows(session, queued, still_waiting=still_waiting)
        )
    runs += insert_runs(session, AUDIT, trail)
    runs += insert_runs(session, MODEL_CALLS, call_rows(calls, now))
    runs += moves
    move = transition_run(event_id, to) if to is not None and event_id is not None else None
    if move is not None:
        runs.append(move)
    if not runs:
        return 0
    results = run_together(session, runs)
    return results[-1].rowcount if move is not None else 0


def queue_approved(
    session: Session,
    action_ids: Sequence[int],
    *,
    executor: str,
    now: datetime,
    close_event: int | None = None,
) -> int:
    """Queue for delivery those of ``action_ids`` that are approved and not queued yet, each
    with its trace, and move the field event ``close_event`` (when given) to ``done``: what
    that needs read together, then written together (:func:`close_decisions`), two round trips
    on PostgreSQL in all. Returns how many were queued; queuing an action twice queues it
    once."""
    queued: list[dict[str, Any]] = []
    trail: list[dict[str, Any]] = []
    moves: list[Run] = []
    for found in to_queue(session, action_ids):
        if found.queued or found.action.status is not ActionStatus.APPROVED:
            continue
        item, entry = queue_entry(found.action, executor=executor, trace=found.trace, now=now)
        queued.append(item)
        trail.append(entry)
        moves.append(
            transition_run(found.action.id, ActionStatus.QUEUED, frm=ActionStatus.APPROVED)
        )
    close_decisions(
        session,
        now=now,
        queued=queued,
        trail=trail,
        moves=moves,
        event_id=close_event,
        to=EventStatus.DONE if close_event is not None else None,
    )
    return len(queued)
