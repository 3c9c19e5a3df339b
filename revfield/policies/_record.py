"""Storing decisions, and the JSON form of a context (so it can be replayed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from revfield.memory import NewDecision, Session
from revfield.memory import record_decision as memory_record_decision
from revfield.policies._context import merge_context
from revfield.policies._evaluate import Decision

__all__ = ["context_from_json", "context_to_json", "decision_row", "record_decision"]


def context_to_json(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``ctx`` as it is stored: timestamps as ISO 8601 text, tuples as lists, mappings as
    objects (one pass in C: a context has hundreds of fields and each decision stores one)."""
    return json.loads(json.dumps(ctx, default=_plain))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a decision context can't hold {type(value).__name__} ({value!r})")


def context_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored context, checked against today's schema (fields added since get defaults)."""
    return merge_context(dict(data))


def record_decision(
    session: Session,
    decision: Decision,
    *,
    decided_at: datetime,
    action_id: int | None = None,
) -> int:
    """Store ``decision`` with its context; returns the decision's id."""
    return memory_record_decision(session, decision_row(decision, decided_at, action_id))


def decision_row(
    decision: Decision, decided_at: datetime, action_id: int | None = None
) -> NewDecision:
    """``decision`` as the memory stores it, with its context."""
    ctx = decision.context
    return NewDecision(
        account_id=ctx["account"]["id"] or None,
        contact_id=ctx["contact"]["id"] if ctx["contact"]["exists"] else None,
        deal_id=ctx["deal"]["id"] if ctx["deal"]["exists"] else None,
        action_id=action_id,
        action_kind=ctx["action"]["kind"],
        motion=ctx["action"]["motion"],
        verdict=decision.verdict.label,
        matched_rules=list(decision.matched),
        guardrails=[
            {"id": g.id, "at_least": g.at_least.label, "reason": g.reason, "tightened": g.tightened}
            for g in decision.guardrails
        ],
        errors=[{"rule": e.rule_id, "message": e.message} for e in decision.errors],
        missing_criteria=list(decision.missing_criteria),
        escalate_to=decision.escalate_to,
        policy_version=decision.policy_version,
        explanation=decision.explanation,
        context=context_to_json(ctx),
        decided_at=decided_at,
    )
