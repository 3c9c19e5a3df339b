"""Deciding on a proposal in the field: the decision, and the motion budget slot an automated
one takes.

A decision to automate a motion with a daily budget takes one of the day's slots before it
stands (:func:`~revfield.memory.reserve_budget`). The counter it read may be behind by then
(other accounts decide in parallel), so it is decided again, without touching the database,
with the count the slot was taken at — or, when no slot was left, with the budget spent, which
sends it to a person as the pack's guardrail says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from revfield.domain import ProposedAction, Verdict
from revfield.memory import Session, reserve_budget
from revfield.policies._build import build_context
from revfield.policies._evaluate import Decision, decide
from revfield.policies._load import CompiledPack

__all__ = ["decide_within_budget"]


def decide_within_budget(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any] | None = None,
) -> Decision:
    """Decide on ``action`` from the memory (:func:`build_context`); when the verdict is to
    automate a motion the pack budgets, take the day's slot for it first, and decide again if
    the count it was taken at differs from the one read."""
    ctx = build_context(session, pack, action, now, cache)
    decision = decide(pack, ctx)
    motion = action.motion.value
    budget = pack.guardrails.motion_budgets.get(motion)  # type: ignore[call-overload]
    if decision.verdict is not Verdict.AUTO or budget is None:
        return decision
    counters = ctx["counters"]
    before = reserve_budget(session, motion, now, budget.max_auto_per_day)
    if before is None:  # spent: what the guardrail says then
        counters["motion_auto_today"] = max(counters["motion_auto_today"], budget.max_auto_per_day)
        decision = decide(pack, ctx)
        if decision.verdict is Verdict.AUTO:  # a budget that only counts (at least: auto)
            reserve_budget(session, motion, now, None)
        return decision
    if before != counters["motion_auto_today"]:
        counters["motion_auto_today"] = before
        decision = decide(pack, ctx)
    return decision
