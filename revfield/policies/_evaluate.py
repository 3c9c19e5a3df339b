"""Deciding on one proposed action: pure, no clock, database or network.

Semantics: every matching rule counts and the most restrictive decision wins
(``block > escalate > review > auto``); the pack's ``default`` applies only when no rule
matches; guardrails and governance can only tighten the result. A rule whose condition fails
to evaluate counts as matched with its decision raised to at least ``escalate``, and the
failure is recorded: the engine fails toward a person, never open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from revfield.domain import Verdict
from revfield.policies._conditions import FAILURES, failure_message, holds
from revfield.policies._guardrails import GuardrailEffect, guardrail_effects
from revfield.policies._load import CompiledCriterion, CompiledPack, CompiledRule

__all__ = [
    "Decision",
    "GuardrailEffect",
    "RuleError",
    "RuleOutcome",
    "decide",
    "explain",
    "icp_fit",
]

AUTO, REVIEW, ESCALATE, BLOCK = Verdict.AUTO, Verdict.REVIEW, Verdict.ESCALATE, Verdict.BLOCK


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule whose condition failed to evaluate (a missing payload key, a division by zero).
    The rule counted as matched with its decision raised to at least ``escalate``: the engine
    fails toward a person. Recorded on the :class:`Decision`; not an exception."""

    rule_id: str
    """The rule that failed (``guardrails`` when a guardrail did)."""
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy layer's verdict on one proposed action: ``auto`` (the outbox carries it
    out), ``review`` or ``escalate`` (it waits for a person), ``block`` (never executed), with
    the rules, guardrails and policy version behind it and a one-line explanation."""

    verdict: Verdict
    """The most restrictive of the matched rules, tightened by guardrails and governance."""
    matched: tuple[str, ...]
    """Ids of the rules that matched (including rules that failed to evaluate)."""
    guardrails: tuple[GuardrailEffect, ...]
    """The guardrails and governance rules that held for the action."""
    errors: tuple[RuleError, ...]
    """Conditions that failed to evaluate (they failed closed)."""
    policy_version: str
    """The version of the pack that decided (``sha256:`` + 16 hex digits)."""
    explanation: str
    """One line for a person: the decision and why."""
    escalate_to: str | None = None
    """For ``escalate``: the rung of the review ladder that answers (the rule's
    ``escalate_to``, else ``manager``)."""
    default_applied: bool = False
    """No rule matched: the pack's ``default`` decided."""
    missing_criteria: tuple[str, ...] = ()
    """For a stage advance: the exit criteria the deal lacks (``engaging.champion_identified``)."""
    context: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The context it was decided on, stored so ``revfield policy diff`` can replay it."""

    @property
    def label(self) -> str:
        """The verdict as written in a pack: ``auto``, ``review``, ``escalate`` or ``block``."""
        return self.verdict.label


def _environment(
    pack: CompiledPack, ctx: Mapping[str, Any]
) -> tuple[Mapping[str, Any], dict[str, str]]:
    """The context plus the value of every definition; definitions that fail are returned
    with their error (rules using them fail closed)."""
    if not pack.definitions:
        return ctx, {}
    env = dict(ctx)
    failed: dict[str, str] = {}
    for name, cond in pack.definitions:
        result = holds(cond, env)
        if isinstance(result, str):
            failed[name] = f"definition `{name}`: {result}"
            env[name] = False
        else:
            env[name] = result
    return env, failed


def decide(pack: CompiledPack, ctx: Mapping[str, Any]) -> Decision:
    """The decision on the action described by ``ctx`` (see :mod:`revfield.policies._context`)."""
    env, failed_defs = _environment(pack, ctx)
    matched, errors, verdict, reason_rule, escalate_to = _rules(pack, env, failed_defs)
    default_applied = verdict < 0
    base = pack.default if default_applied else Verdict(verdict)

    try:
        effects, missing = guardrail_effects(pack, env, base)
    except FAILURES as exc:  # guardrails fail closed like rules
        effects = (
            GuardrailEffect(
                "guardrails",
                ESCALATE,
                f"guardrails could not be evaluated: {failure_message(exc)}",
                tightened=base < ESCALATE,
            ),
        )
        missing = ()
        errors.append(RuleError("guardrails", failure_message(exc)))
    final = base
    for effect in effects:
        final = max(final, effect.at_least)
    if final != base and final == ESCALATE and escalate_to is None:
        escalate_to = "manager"
    return Decision(
        verdict=final,
        matched=tuple(matched),
        guardrails=effects,
        errors=tuple(errors),
        policy_version=pack.version,
        explanation=_explain(final, base, reason_rule, default_applied, effects, errors),
        escalate_to=escalate_to if final == ESCALATE else None,
        default_applied=default_applied,
        missing_criteria=missing,
        context=ctx,
    )


def _explain(
    final: Verdict,
    base: Verdict,
    rule: Any,
    default_applied: bool,
    effects: tuple[GuardrailEffect, ...],
    errors: list[RuleError],
) -> str:
    """One line for a person, leading with what decided: the rule (or the pack's default), or
    — when a guardrail made the decision stricter — that guardrail, then what it overrode."""
    if default_applied:
        why = f"no rule matched, pack default `{base.label}`"
    else:
        why = f"rule `{rule.id}`: {rule.reason}"
    raised = [e for e in effects if e.tightened]
    if final > base and raised:
        deciding = next((e for e in raised if e.at_least == final), raised[-1])
        parts = [f"{final.label}: {deciding.id}: {deciding.reason}"]
        parts += [f"{e.id}: {e.reason}" for e in raised if e is not deciding]
        parts.append(f"over {why} ({base.label})")
    else:
        parts = [f"{final.label}: {why}"]
    if errors:
        parts.append(f"{len(errors)} rule(s) failed to evaluate and count as escalate")
    return "; ".join(parts)


class RuleOutcome(NamedTuple):
    """How one rule came out on a context."""

    rule_id: str
    outcome: bool | str
    """True (matched), False, or why the condition failed to evaluate (it counts as matched,
    at least ``escalate``)."""
    verdict: Verdict
    """The rule's own decision."""


def explain(pack: CompiledPack, ctx: Mapping[str, Any]) -> list[RuleOutcome]:
    """Every rule of the pack with its outcome on ``ctx``, in pack order (``policy explain``)."""
    env, failed = _environment(pack, ctx)
    matched, errors, *_ = _rules(pack, env, failed)
    held: dict[str, bool | str] = dict.fromkeys(matched, True)
    held.update((e.rule_id, e.message) for e in errors)
    return [RuleOutcome(rule.id, held.get(rule.id, False), rule.verdict) for rule in pack.rules]


def _rules(
    pack: CompiledPack, env: Mapping[str, Any], failed: dict[str, str]
) -> tuple[list[str], list[RuleError], int, CompiledRule | None, str | None]:
    """The one evaluation loop, for :func:`decide` and :func:`explain` alike. Returns the ids
    of the rules that matched (a rule that failed to evaluate counts, at least ``escalate``),
    the failures, the most restrictive verdict among them (-1: none matched), the rule that
    set it, and whom it escalates to."""
    matched: list[str] = []
    errors: list[RuleError] = []
    verdict = -1
    escalate_to: str | None = None
    reason_rule = None
    for rule in pack.rules:
        result: bool | str
        if failed and rule.definitions & failed.keys():
            result = "; ".join(failed[d] for d in sorted(rule.definitions & failed.keys()))
        else:
            try:
                value = rule.condition.evaluate(env)
                result = (
                    value
                    if (value is True or value is False)
                    else f"condition gave {value!r}, not true or false"
                )
            except FAILURES as exc:
                result = failure_message(exc)
        if result is False:
            continue
        rule_verdict = rule.verdict
        if result is not True:
            errors.append(RuleError(rule.id, str(result)))
            rule_verdict = max(rule_verdict, ESCALATE)
        matched.append(rule.id)
        if rule_verdict > verdict:
            verdict = rule_verdict
            reason_rule = rule
            escalate_to = rule.escalate_to if rule_verdict == ESCALATE else None
    return matched, errors, verdict, reason_rule, escalate_to


def icp_fit(
    criteria: tuple[CompiledCriterion, ...], env: Mapping[str, Any]
) -> tuple[bool, list[str]]:
    """Whether an account meets every ICP criterion, and the ids of those it misses."""
    misses = [c.id for c in criteria if holds(c.condition, env) is not True]
    return not misses, misses
