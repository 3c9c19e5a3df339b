"""The audit trail: append-only rows for every decision, review and execution.

The database refuses to change or delete them (triggers on ``audit_log``, migration 0009):
entries are written here and read by :func:`audit_trail`, never updated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.memory._tables import AUDIT
from revfield.memory._together import insert_rows

__all__ = ["AuditView", "audit", "audit_row", "audit_trail", "write_audit"]


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
    insert_rows(session, AUDIT, rows)


def audit(session: Session, **entry: Any) -> None:
    """Append one entry now (the keywords of :func:`audit_row`)."""
    write_audit(session, [audit_row(**entry)])


@dataclass(frozen=True, slots=True)
class AuditView:
    """One entry of the audit trail, as ``revfield audit`` shows it."""

    id: int
    at: datetime
    actor: str
    """A user id, ``local-admin``, ``agent:<name>``, ``policy``, ``outbox`` or ``anonymous``."""
    event: str
    account_id: str | None
    action_id: int | None
    review_id: int | None
    detail: dict[str, Any]
    """What else was recorded; ``operator`` names who gave an answer on the actor's behalf
    (the command line's ``--as``)."""


def audit_trail(
    session: Session,
    *,
    account_id: str | None = None,
    action_id: int | None = None,
    review_id: int | None = None,
    actor: str | None = None,
    event: str | None = None,
    limit: int = 50,
) -> list[AuditView]:
    """The newest ``limit`` entries, newest first (in the order they were appended), of one
    account, action, review item, actor or event when given."""
    query = sa.select(AUDIT)
    for column, wanted in (
        (AUDIT.c.account_id, account_id),
        (AUDIT.c.action_id, action_id),
        (AUDIT.c.review_id, review_id),
        (AUDIT.c.actor, actor),
        (AUDIT.c.event, event),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    rows = session.execute(query.order_by(AUDIT.c.id.desc()).limit(limit)).mappings()
    return [AuditView(**r) for r in rows]
