"""The audit trail: append-only rows for every decision, review and execution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.memory._tables import AUDIT

__all__ = ["audit", "audit_row", "write_audit"]

_INSERT = sa.insert(AUDIT)


def audit_row(
    *,
    actor: str,
    event: str,
    at: datetime,
    account_id: str | None = None,
    action_id: int | None = None,
    review_id: int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """One audit entry as a row, for :func:`write_audit` to append with others."""
    return {
        "at": at,
        "actor": actor,
        "event": event,
        "account_id": account_id,
        "action_id": action_id,
        "review_id": review_id,
        "detail": json_ready(detail),
    }


def write_audit(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append ``rows`` (from :func:`audit_row`) in one statement."""
    if rows:
        session.execute(_INSERT, list(rows))


def audit(session: Session, **entry: Any) -> None:
    """Append one entry now (the keywords of :func:`audit_row`)."""
    write_audit(session, [audit_row(**entry)])
