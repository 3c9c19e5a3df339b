"""Guardrails: balance across the two motions, checked on every decision after the rules.

Contact fatigue and an account cap (touches in a window, both motions counted), motion budgets
(automated actions per day), counter-metrics (conditions RevOps writes), retention first (no
expansion push while a churn risk is open and unanswered) and exit criteria (an
``advance_stage`` may not skip them). Each can only raise a decision, never lower it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from revfield.domain import Verdict
from revfield.policies._conditions import holds
from revfield.policies._load import CompiledPack

__all__ = ["GuardrailEffect", "guardrail_effects"]

AUTO, ESCALATE, BLOCK = Verdict.AUTO, Verdict.ESCALATE, Verdict.BLOCK


@dataclass(frozen=True, slots=True)
class GuardrailEffect:
    """A guardrail or governance rule that held for this action."""

    id: str
    at_least: Verdict
    reason: str
    tightened: bool = False
    """Whether it raised the decision (it may hold without changing it)."""


def guardrail_effects(
    pack: CompiledPack, env: Mapping[str, Any], base: Verdict
) -> tuple[tuple[GuardrailEffect, ...], tuple[str, ...]]:
    """The guardrails and governance rules that hold for the action in ``env``, each saying
    whether it made the decision stricter than ``base``, and the exit criteria an
    ``advance_stage`` would skip. Guardrails only ever tighten: none can lower ``base``."""
    g = pack.guardrails
    action, counters, contact = env["action"], env["counters"], env["contact"]
    kind = action["kind"]
    raw: list[tuple[str, Verdict, str]] = []
    if g.contact_fatigue and contact["exists"] and kind in g.contact_fatigue.action_kinds:
        cap = g.contact_fatigue
        if counters["contact_touches"] >= cap.max_touches:
            raw.append(
                (
                    "contact-fatigue",
                    Verdict.parse(cap.at_least),
                    f"contact already touched {counters['contact_touches']} times "
                    f"in {cap.window_days} days, "
                    f"both motions (cap {cap.max_touches})",
                )
            )
    if g.account_cap and kind in g.account_cap.action_kinds:
        cap2 = g.account_cap
        if counters["account_touches"] >= cap2.max_touches:
            raw.append(
                (
                    "account-cap",
                    Verdict.parse(cap2.at_least),
                    f"account already touched {counters['account_touches']} times "
                    f"in {cap2.window_days} days "
                    f"(cap {cap2.max_touches})",
                )
            )
    budget = g.motion_budgets.get(action["motion"])
    if (
        budget is not None
        and base == AUTO
        and counters["motion_auto_today"] >= budget.max_auto_per_day
    ):
        raw.append(
            (
                "motion-budget",
                Verdict.parse(budget.at_least),
                f"{action['motion']} budget spent: "
                f"{counters['motion_auto_today']} automated actions today "
                f"(budget {budget.max_auto_per_day})",
            )
        )
    for metric in pack.counter_metrics:
        held = holds(metric.condition, env)
        if held is True:
            raw.append((metric.id, metric.verdict, metric.description))
        elif held is not False:
            raw.append(
                (
                    metric.id,
                    max(metric.verdict, ESCALATE),
                    f"{metric.description} (failed to evaluate: {held})",
                )
            )
    rf = g.retention_first
    if (
        rf
        and kind in rf.expansion_kinds
        and counters["churn_risk"]
        and not counters["save_play_answered"]
    ):
        raw.append(
            (
                "retention-first",
                Verdict.parse(rf.at_least),
                "open churn risk on this account: expansion waits until the save play is answered",
            )
        )
    missing: tuple[str, ...] = ()
    if kind == "advance_stage" and pack.stages:
        missing, note = _missing_exit_criteria(pack, env)
        if note:
            raw.append(("exit-criteria", BLOCK, note))
    effects = []
    level = base
    for gid, at_least, reason in raw:
        effects.append(GuardrailEffect(gid, at_least, reason, tightened=at_least > level))
        level = max(level, at_least)
    return tuple(effects), missing


def _missing_exit_criteria(
    pack: CompiledPack, env: Mapping[str, Any]
) -> tuple[tuple[str, ...], str]:
    """Exit criteria are infrastructure: a deal may not reach a stage without them."""
    target = env["action"]["to_stage"]
    ids = pack.stage_ids()
    if target not in ids:
        return (), f"unknown target stage `{target}`; stages are {', '.join(ids)}"
    current = env["deal"]["stage"]
    start = ids.index(current) if current in ids else 0
    end = ids.index(target)
    if end <= start:
        return (), ""
    missing = []
    for stage_id, criteria in pack.stages[start:end]:
        for criterion in criteria:
            if holds(criterion.condition, env) is not True:
                missing.append(f"{stage_id}.{criterion.id}")
    if not missing:
        return (), ""
    return tuple(missing), f"cannot reach `{target}`: exit criteria not met: {', '.join(missing)}"
