"""The model-call log: one row per call, for cost, latency and the eval report."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from revfield.memory._tables import MODEL_CALLS
from revfield.memory._together import insert_rows

if typing.TYPE_CHECKING:  # the model layer is not needed to store what it did
    from revfield.llm import RecordedCall

__all__ = ["call_rows", "record_model_calls"]


def record_model_calls(session: Session, calls: Sequence[RecordedCall], now: datetime) -> None:
    """Store the calls a run made, each with the signal and account it was about."""
    insert_rows(session, MODEL_CALLS, call_rows(calls, now))


def call_rows(calls: Sequence[RecordedCall], now: datetime) -> list[dict[str, Any]]:
    """The ``model_calls`` rows of ``calls``."""
    return [
        {
            "operation": c.record.operation,
            "backend": c.record.backend,
            "model": c.record.model,
            "ok": c.record.ok,
            "latency_ms": c.record.latency_ms,
            "prompt_tokens": c.record.prompt_tokens,
            "completion_tokens": c.record.completion_tokens,
            "error": c.record.error or None,
            "signal_id": c.signal_id,
            "account_id": c.account_id,
            "called_at": now,
        }
        for c in calls
    ]
