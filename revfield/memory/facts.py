"""Writing facts: typed knowledge about an account, each with its provenance.

Facts are never deleted. A fact with a ``subject`` (``budget``, ``champion``, a competitor's
name) supersedes the current fact of the same account, type and subject; a fact read from an
older signal than the current one arrives already superseded by it, so the memory always shows
the latest knowledge and keeps the history behind it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory.models import Fact
from revfield.memory.types import FactType

__all__ = ["add_fact", "fact_history"]


def add_fact(
    session: Session,
    *,
    account_id: str,
    type: FactType,
    value: str,
    source_signal_id: int,
    confidence: float,
    observed_at: datetime,
    now: datetime,
    subject: str | None = None,
    span: str | None = None,
    contact_id: int | None = None,
) -> Fact:
    """Record a fact and settle which fact on the same subject is current."""
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    fact = Fact(
        account_id=account_id,
        contact_id=contact_id,
        type=type,
        subject=subject.strip().lower() if subject else None,
        value=value,
        span=span,
        confidence=confidence,
        source_signal_id=source_signal_id,
        observed_at=observed_at,
        created_at=now,
    )
    session.add(fact)
    session.flush()
    if fact.subject is None:
        return fact
    current = session.scalars(
        sa.select(Fact).where(
            Fact.account_id == account_id,
            Fact.type == type,
            Fact.subject == fact.subject,
            Fact.superseded_by.is_(None),
            Fact.id != fact.id,
        )
    ).all()
    for other in current:
        if other.observed_at <= observed_at:
            other.superseded_by = fact.id
        elif fact.superseded_by is None or other.observed_at > _observed(
            session, fact.superseded_by
        ):
            fact.superseded_by = other.id
    session.flush()
    return fact


def _observed(session: Session, fact_id: int) -> datetime:
    return session.get_one(Fact, fact_id).observed_at


def fact_history(session: Session, account_id: str, type: FactType, subject: str) -> list[Fact]:
    """Every fact ever recorded on one subject, oldest first (current one last)."""
    return list(
        session.scalars(
            sa.select(Fact)
            .where(
                Fact.account_id == account_id, Fact.type == type, Fact.subject == subject.lower()
            )
            .order_by(Fact.observed_at, Fact.id)
        )
    )
