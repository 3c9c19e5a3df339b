"""Writing facts: typed knowledge about an account, each with its provenance.

Facts are never deleted. A fact with a ``subject`` (``budget``, ``champion``, a competitor's
name) supersedes the current fact of the same account, type and subject; a fact read from an
older signal than the current one arrives already superseded by it, so the memory always shows
the latest knowledge and keeps the history behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import FactType, is_churn_risk
from revfield.memory._risks import note_churn_facts
from revfield.memory._sql import chunks
from revfield.memory._tables import FACTS
from revfield.memory.models import Fact

__all__ = ["NewFact", "add_fact", "add_facts", "fact_history"]


@dataclass(frozen=True, slots=True)
class NewFact:
    """A fact to record about an account, with its provenance: the signal it was read from,
    the quoted span, the confidence and when it was observed."""

    account_id: str
    type: FactType
    value: str
    """The fact in a few words (``forecast misses by 20% each quarter``)."""
    source_signal_id: int
    """The signal it was read from."""
    confidence: float
    """From 0 to 1."""
    observed_at: datetime
    """When it was observed (the source signal's time): a fact observed before the current
    fact on the same subject arrives already superseded."""
    subject: str | None = None
    """What it is about (``budget``, ``champion``…): a new fact supersedes the current fact
    of the same account, type and subject."""
    span: str | None = None
    """The exact words of the text it comes from."""
    contact_id: int | None = None


def add_facts(session: Session, facts: Sequence[NewFact], *, now: datetime) -> list[int]:
    """Record facts in bulk and settle which fact on each subject is current; a churn-risk
    fact opens its account's churn risk or attaches to the open one. Returns the ids, in
    order."""
    for f in facts:
        if not 0.0 <= f.confidence <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {f.confidence}")
    if not facts:
        return []
    rows = [
        {
            "account_id": f.account_id,
            "contact_id": f.contact_id,
            "type": FactType(f.type).value,
            "subject": f.subject.strip().lower() if f.subject else None,
            "value": f.value,
            "span": f.span,
            "confidence": f.confidence,
            "source_signal_id": f.source_signal_id,
            "observed_at": f.observed_at,
            "created_at": now,
            "superseded_by": None,
        }
        for f in facts
    ]
    ids: list[int] = []
    for part in chunks(rows, 500):
        stmt = sa.insert(FACTS).returning(FACTS.c.id, sort_by_parameter_order=True)
        ids.extend(session.execute(stmt, list(part)).scalars())
    keys = {
        (f.account_id, FactType(f.type).value, f.subject.strip().lower())
        for f in facts
        if f.subject
    }
    if keys:
        _settle(session, keys)
    churn = [
        (f.account_id, fact_id, f.observed_at)
        for f, fact_id in zip(facts, ids, strict=True)
        if FactType(f.type) is FactType.RISK and is_churn_risk(f.subject)
    ]
    note_churn_facts(session, sorted(churn, key=lambda c: (c[2], c[1])), now)
    return ids


def _settle(session: Session, keys: set[tuple[str, str, str]]) -> None:
    """For each (account, type, subject): the newest fact stays current, all others point to it."""
    current: dict[tuple[str, str, str], list[tuple[datetime, int]]] = {}
    accounts = sorted({k[0] for k in keys})
    for part in chunks(accounts, 500):
        q = sa.select(
            FACTS.c.account_id, FACTS.c.type, FACTS.c.subject, FACTS.c.observed_at, FACTS.c.id
        ).where(
            FACTS.c.account_id.in_(part),
            FACTS.c.subject.is_not(None),
            FACTS.c.superseded_by.is_(None),
        )
        for account_id, type_, subject, observed, fact_id in session.execute(q):
            key = (account_id, str(type_), subject)
            if key in keys:
                current.setdefault(key, []).append((observed, fact_id))
    updates = []
    for items in current.values():
        if len(items) < 2:
            continue
        newest = max(items)[1]  # latest observation wins; ties go to the later fact
        updates += [{"fid": fid, "by": newest} for _, fid in items if fid != newest]
    if updates:
        session.execute(
            sa.update(FACTS)
            .where(FACTS.c.id == sa.bindparam("fid"))
            .values(superseded_by=sa.bindparam("by")),
            updates,
        )


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
    """Record one fact (see :func:`add_facts`); returns it as stored."""
    (fact_id,) = add_facts(
        session,
        [
            NewFact(
                account_id,
                type,
                value,
                source_signal_id,
                confidence,
                observed_at,
                subject,
                span,
                contact_id,
            )
        ],
        now=now,
    )
    # facts of this session that the new one may have superseded: reload them in place
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Fact) and obj.account_id == account_id and obj.type == type:
            session.refresh(obj)
    return session.get_one(Fact, fact_id)


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
