"""Storing decisions, and the JSON form of a context (so it can be replayed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from revfield._json import json_ready
from revfield.memory import NewDecision, Session
from revfield.memory import record_decision as memory_record_decision
from revfield.policies._context import merge_context
from revfield.policies._evaluate import Decision

__all__ = ["context_from_json", "context_to_json", "record_decision"]


def context_to_json(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return json_ready(ctx)  # type: ignore[no-any-return]


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
    ctx = decision.context
    row = NewDecision(
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
    return memory_record_decision(session, row)
