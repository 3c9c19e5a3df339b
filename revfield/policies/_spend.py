"""Deciding on a proposal in the field: the decision, and the motion budget slot an automated
one takes.

A decision to automate a motion with a daily budget takes one of the day's slots before it
stands (:func:`~revfield.memory.reserve_budget`). The counter it read may be behind by then
(other accounts decide in parallel), so it is decided again, without touching the database,
with the count the slot was taken at — or, when no slot was left, with the budget spent, which
sends it to a person as the pack's guardrail says.

An agent run that proposes several actions of one motion takes the slots they may need at its
first automated decision, in one transaction (:class:`RunSlots`), and hands back at its end
those its later decisions did not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from revfield.domain import ProposedAction, Verdict
from revfield.memory import Session, release_budget, reserve_budget
from revfield.policies._build import build_context
from revfield.policies._evaluate import Decision, decide
from revfield.policies._load import CompiledPack

__all__ = ["RunSlots", "decide_within_budget"]


@dataclass
class RunSlots:
    """The budget slots one agent run took ahead of its decisions: per motion, the counts
    before each slot not used yet, and how many more decisions of the motion may come."""

    free: dict[str, list[int]] = field(default_factory=dict)
    coming: dict[str, int] = field(default_factory=dict)
    """Per motion, the run's proposals not decided yet (what a first taking asks for)."""

    @classmethod
    def for_proposals(cls, proposals: list[ProposedAction]) -> RunSlots:
        """The slots of a run about to decide ``proposals``."""
        coming: dict[str, int] = {}
        for p in proposals:
            coming[p.motion.value] = coming.get(p.motion.value, 0) + 1
        return cls(coming=coming)

    def release(self, session: Session, now: datetime) -> None:
        """Hand back the slots the run took and did not use."""
        for motion, free in self.free.items():
            release_budget(session, motion, now, len(free))
            free.clear()


def decide_within_budget(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any] | None = None,
    slots: RunSlots | None = None,
) -> Decision:
    """Decide on ``action`` from the memory (:func:`build_context`); when the verdict is to
    automate a motion the pack budgets, take the day's slot for it first (one the run took
    ahead, in ``slots``, or else as many as the run may need), and decide again if the count
    it was taken at differs from the one read."""
    motion = action.motion.value
    held = slots.free.get(motion) if slots is not None else None
    # a run holding the motion's next slot knows the count it was taken at: no need to read it
    ctx = build_context(session, pack, action, now, cache, budget_spent=held[0] if held else None)
    decision = decide(pack, ctx)
    want = 1
    if slots is not None:
        want = max(slots.coming.get(motion, 1), 1)
        slots.coming[motion] = want - 1
    budget = pack.guardrails.motion_budgets.get(motion)  # type: ignore[call-overload]
    if decision.verdict is not Verdict.AUTO or budget is None:
        return decision
    counters = ctx["counters"]
    free = slots.free.setdefault(motion, []) if slots is not None else []
    if free:
        before = free.pop(0)
    else:
        before, taken = reserve_budget(session, motion, now, budget.max_auto_per_day, want)
        if not taken:  # spent: what the guardrail says then
            counters["motion_auto_today"] = max(
                counters["motion_auto_today"], budget.max_auto_per_day
            )
            decision = decide(pack, ctx)
            if decision.verdict is Verdict.AUTO:  # a budget that only counts (at least: auto)
                reserve_budget(session, motion, now, None)
            return decision
        free.extend(range(before + 1, before + taken))
    if before != counters["motion_auto_today"]:
        counters["motion_auto_today"] = before
        decision = decide(pack, ctx)
        if decision.verdict is not Verdict.AUTO:  # (a rule on the count): the slot is unused
            if slots is not None:
                free.insert(0, before)
            else:
                release_budget(session, motion, now, 1)
    return decision
