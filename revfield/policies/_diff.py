"""What would change: replay stored decision contexts through two packs and compare."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from revfield.memory import Session, stored_decisions
from revfield.policies._evaluate import decide
from revfield.policies._load import CompiledPack
from revfield.policies._record import context_from_json

__all__ = ["Change", "DiffReport", "diff_packs"]


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
    """What would change if a new pack replaced the old one: stored decisions replayed through
    both, and those whose verdict or matched rules differ (``revfield policy diff``)."""

    replayed: int
    """Stored decisions replayed."""
    changes: list[Change]

    def transitions(self) -> Counter[tuple[str, str]]:
        """How many changes go from each old verdict to each new one (``review → auto``)."""
        return Counter((c.old, c.new) for c in self.changes)


def diff_packs(
    session: Session, old: CompiledPack, new: CompiledPack, *, limit: int | None = None
) -> DiffReport:
    """Every stored decision whose outcome differs between ``old`` and ``new`` (verdict or
    matched rules). Both packs see exactly the stored context, counters included."""
    changes: list[Change] = []
    replayed = 0
    for decision_id, account_id, stored in stored_decisions(session, limit):
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
