"""What would change: replay stored decision contexts through two packs and compare."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory.models import DecisionRecord, table_of
from revfield.policies._evaluate import decide
from revfield.policies._load import CompiledPack
from revfield.policies._record import context_from_json

__all__ = ["Change", "DiffReport", "diff_packs"]

R = table_of(DecisionRecord)


@dataclass(frozen=True)
class Change:
    decision_id: int
    account_id: str | None
    action_kind: str
    motion: str
    old: str
    new: str
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]
    new_explanation: str


@dataclass
class DiffReport:
    replayed: int
    changes: list[Change]

    def transitions(self) -> Counter[tuple[str, str]]:
        return Counter((c.old, c.new) for c in self.changes)


def _stored(session: Session, limit: int | None) -> Iterator[tuple[int, str | None, dict]]:  # type: ignore[type-arg]
    query = sa.select(R.c.id, R.c.account_id, R.c.context).order_by(R.c.id.desc())
    if limit:
        query = query.limit(limit)
    for row in session.execute(query):
        yield row.id, row.account_id, row.context


def diff_packs(
    session: Session, old: CompiledPack, new: CompiledPack, *, limit: int | None = None
) -> DiffReport:
    """Every stored decision whose outcome differs between ``old`` and ``new`` (verdict or
    matched rules). Both packs see exactly the stored context, counters included."""
    changes: list[Change] = []
    replayed = 0
    for decision_id, account_id, stored in _stored(session, limit):
        ctx = context_from_json(stored)
        a, b = decide(old, ctx), decide(new, ctx)
        replayed += 1
        if a.verdict != b.verdict or a.matched != b.matched:
            changes.append(
                Change(
                    decision_id,
                    account_id,
                    ctx["action"]["kind"],
                    ctx["action"]["motion"],
                    a.verdict.label,
                    b.verdict.label,
                    a.matched,
                    b.matched,
                    b.explanation,
                )
            )
    return DiffReport(replayed, changes)
