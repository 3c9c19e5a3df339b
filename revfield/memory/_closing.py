"""The writes that close an agent run's decisions, sent together: its outbox items, its audit
trail, the model calls it made and its field event's new status — one round trip on
PostgreSQL instead of one per table, in the run's transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from revfield.domain import EventStatus
from revfield.memory._lifecycle import transition_run
from revfield.memory._model_calls import call_rows
from revfield.memory._outbox import queue_rows
from revfield.memory._tables import AUDIT, MODEL_CALLS, OUTBOX
from revfield.memory._together import Run, insert_runs, run_together

if TYPE_CHECKING:  # the model layer is not needed to store what it did
    from revfield.llm import RecordedCall

__all__ = ["close_decisions"]


def close_decisions(
    session: Session,
    *,
    now: datetime,
    queued: Sequence[dict[str, Any]] = (),
    still_waiting: Collection[int] = (),
    trail: Sequence[dict[str, Any]] = (),
    calls: Sequence[RecordedCall] = (),
    event_id: int | None = None,
    to: EventStatus | None = None,
) -> int:
    """Write, together: the outbox items ``queued`` (from
    :func:`~revfield.memory.queue_entry`, as :func:`~revfield.memory.write_queue` writes
    them), the audit entries ``trail``, the model calls ``calls``, and the move of the field
    event ``event_id`` to ``to`` (none when ``to`` is None). Returns how many events moved
    (0 or 1: none when it was there already or went elsewhere meanwhile)."""
    runs: list[Run] = []
    if queued:
        runs += insert_runs(
            session, OUTBOX, queue_rows(session, queued, still_waiting=still_waiting)
        )
    runs += insert_runs(session, AUDIT, trail)
    runs += insert_runs(session, MODEL_CALLS, call_rows(calls, now))
    move = transition_run(event_id, to) if to is not None and event_id is not None else None
    if move is not None:
        runs.append(move)
    if not runs:
        return 0
    results = run_together(session, runs)
    return results[-1].rowcount if move is not None else 0
