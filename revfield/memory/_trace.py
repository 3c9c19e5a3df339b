"""The trace of each action an account received: signal → facts → field event → action →
decision (rules, policy version) → review answers → outbox result. Read-only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield._json import json_ready
from revfield.memory.models import (
    ActionRecord,
    DecisionRecord,
    Fact,
    FieldEvent,
    OutboxItem,
    Review,
    table_of,
)

__all__ = ["action_chain"]

ACT, DEC, E, F, R, OB = (
    table_of(m) for m in (ActionRecord, DecisionRecord, FieldEvent, Fact, Review, OutboxItem)
)


def action_chain(session: Session, account_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` newest actions of the account, each with everything that led to it."""
    actions = (
        session.execute(
            sa.select(ACT)
            .where(ACT.c.account_id == account_id)
            .order_by(ACT.c.created_at.desc(), ACT.c.id.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    if not actions:
        return []
    ids = [a["id"] for a in actions]
    events = {
        r["id"]: r
        for r in session.execute(
            sa.select(E.c.id, E.c.kind, E.c.detail, E.c.signal_ids).where(
                E.c.id.in_({a["field_event_id"] for a in actions if a["field_event_id"]})
            )
        ).mappings()
    }
    fact_ids = {i for a in actions for i in a["proposal"].get("cited_fact_ids", [])}
    facts = (
        {
            r["id"]: r
            for r in session.execute(
                sa.select(F.c.id, F.c.type, F.c.value, F.c.source_signal_id).where(
                    F.c.id.in_(fact_ids)
                )
            ).mappings()
        }
        if fact_ids
        else {}
    )
    decisions: dict[int, Any] = {}
    for r in session.execute(
        sa.select(
            DEC.c.id,
            DEC.c.action_id,
            DEC.c.verdict,
            DEC.c.matched_rules,
            DEC.c.guardrails,
            DEC.c.policy_version,
            DEC.c.explanation,
        )
        .where(DEC.c.action_id.in_(ids))
        .order_by(DEC.c.id)
    ).mappings():
        decisions.setdefault(r["action_id"], []).append(r)
    reviews: dict[int, list[Any]] = {}
    for r in session.execute(
        sa.select(R).where(R.c.action_id.in_(ids)).order_by(R.c.id)
    ).mappings():
        reviews.setdefault(r["action_id"], []).append(r)
    outbox = {
        r["action_id"]: r
        for r in session.execute(sa.select(OB).where(OB.c.action_id.in_(ids))).mappings()
    }
    out = []
    for a in actions:
        p = a["proposal"]
        ev = events.get(a["field_event_id"])
        out.append(
            {
                "id": a["id"],
                "agent": a["agent"],
                "kind": a["kind"],
                "motion": a["motion"],
                "target": a["target"],
                "status": a["status"],
                "subject": p.get("subject", ""),
                "created_at": json_ready(a["created_at"]),
                "signal_ids": sorted(
                    {*(ev["signal_ids"] if ev else []), *p.get("cited_signal_ids", [])}
                ),
                "facts": [
                    {
                        "id": i,
                        "type": facts[i]["type"],
                        "value": facts[i]["value"],
                        "source_signal_id": facts[i]["source_signal_id"],
                    }
                    for i in p.get("cited_fact_ids", [])
                    if i in facts
                ],
                "event": {"id": ev["id"], "kind": ev["kind"], "detail": ev["detail"]}
                if ev
                else None,
                "decisions": [
                    {
                        "id": d["id"],
                        "verdict": d["verdict"],
                        "rules": list(d["matched_rules"]),
                        "guardrails": [g["id"] for g in d["guardrails"]],
                        "policy_version": d["policy_version"],
                        "explanation": d["explanation"],
                    }
                    for d in decisions.get(a["id"], [])
                ],
                "reviews": [
                    {
                        "id": r["id"],
                        "status": r["status"],
                        "role": r["assignee_role"],
                        "by": r["answered_by"],
                        "at": json_ready(r["answered_at"]),
                        "note": r["note"],
                        "edits": r["edits"],
                    }
                    for r in reviews.get(a["id"], [])
                ],
                "outbox": (
                    {
                        "key": o["idempotency_key"],
                        "status": o["status"],
                        "attempts": o["attempts"],
                        "executor": o["executor"],
                        "executed_at": json_ready(o["executed_at"]),
                        "result": o["result"],
                        "after": o["after_action_id"],
                        "error": o["last_error"],
                    }
                    if (o := outbox.get(a["id"]))
                    else None
                ),
            }
        )
    return out
