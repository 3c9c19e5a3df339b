"""The audit trail: append-only rows for every decision, review and execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.memory.models import AuditEntry

__all__ = ["audit"]


def audit(
    session: Session,
    *,
    actor: str,
    event: str,
    at: datetime,
    account_id: str | None = None,
    action_id: int | None = None,
    review_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(AuditEntry(at=at, actor=actor, event=event, account_id=account_id, action_id=action_id,
                           review_id=review_id, detail=json_ready(detail)))  # fmt: skip
