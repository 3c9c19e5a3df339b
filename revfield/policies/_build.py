"""Assembling a decision context from the account memory (the only I/O of the policy layer).

Counters are computed with the pack's own windows, so a decision stored with its context can
be replayed later through another pack without touching the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.agents.actions import ProposedAction
from revfield.memory.models import Account, Contact, Deal, DecisionRecord, Fact, Signal, table_of
from revfield.memory.types import FactType, as_utc
from revfield.policies._evaluate import icp_fit
from revfield.policies._load import CompiledPack
from revfield.policies.context import default_context

__all__ = ["account_values", "build_context", "deal_values", "fill_account"]

A, C, D, F, S, R = (table_of(m) for m in (Account, Contact, Deal, Fact, Signal, DecisionRecord))
TOUCHED = ("auto", "approved")
"""Decision verdicts that count as a touch made (``approved`` once reviews exist)."""


def build_context(
    session: Session, pack: CompiledPack, action: ProposedAction, now: datetime
) -> dict[str, Any]:
    ctx = default_context()
    ctx["now"] = now
    ctx["action"].update(
        kind=action.kind.value, motion=action.motion.value, channel=action.channel,
        discount_pct=float(action.discount_pct), amount=float(action.amount), to_stage=action.to_stage,
        subject=action.subject, cited=len(action.cited_fact_ids) + len(action.cited_signal_ids),
        uncited_claims=action.uncited_claims, unsupported_promises=action.unsupported_promises,
        tags=list(action.tags), payload=dict(action.payload),
    )  # fmt: skip
    ctx["model"].update(
        confidence=float(action.confidence), name=action.model,
        fault=bool(action.model_fault), fault_reason=action.model_fault,
    )  # fmt: skip
    facts = fill_account(session, pack, ctx, action.account_id, now)
    if action.contact_id is not None:
        row = session.execute(sa.select(C).where(C.c.id == action.contact_id)).mappings().first()
        if row is not None:
            ctx["contact"].update(exists=True, id=row["id"], email=row["email"] or "", name=row["name"] or "",
                                  role=row["role"] or "", do_not_contact=bool(row["do_not_contact"]))  # fmt: skip
    if action.deal_id is not None:
        row = session.execute(sa.select(D).where(D.c.id == action.deal_id)).mappings().first()
        if row is not None:
            ctx["deal"].update(deal_values(row, facts, now))
    ctx["counters"].update(_counters(session, pack, action, ctx, now))
    return ctx


def fill_account(
    session: Session, pack: CompiledPack, ctx: dict[str, Any], account_id: str, now: datetime
) -> dict[str, int]:
    """Fill ``ctx["account"]`` (with ICP fit) from memory; returns current fact counts by type."""
    row = session.execute(sa.select(A).where(A.c.id == account_id)).mappings().first()
    facts: dict[str, int] = {}
    if row is None:
        return facts
    facts = {
        str(t): n
        for t, n in session.execute(
            sa.select(F.c.type, sa.func.count())
            .where(F.c.account_id == account_id, F.c.superseded_by.is_(None))
            .group_by(F.c.type)
        )
    }
    ctx["account"].update(account_values(row, facts, now))
    ctx["account"]["icp_fit"] = icp_fit(pack.icp, ctx)[0] if pack.icp else True
    return facts


def account_values(
    row: Mapping[Any, Any], facts: Mapping[str, int], now: datetime
) -> dict[str, Any]:
    """The ``account`` part of a context from an ``accounts`` row and its fact counts."""
    known = {t.value for t in FactType}
    return dict(
        exists=True, id=row["id"], name=row["name"], segment=str(row["segment"] or ""),
        industry=row["industry"] or "", region=row["region"] or "", employees=row["employees"] or 0,
        customer_state=str(row["customer_state"]), owner_id=row["owner_id"] or "", plan=row["plan"] or "",
        seats=row["seats"] or 0, mrr=float(row["mrr"] or 0.0), age_days=(now - row["created_at"]).days,
        facts={t: facts.get(t, 0) for t in sorted(known)},
    )  # fmt: skip


def deal_values(row: Mapping[Any, Any], facts: Mapping[str, int], now: datetime) -> dict[str, Any]:
    """The ``deal`` part of a context from a ``deals`` row and the account's fact counts."""
    entered = row["stage_entered_at"] or row["created_at"]
    return dict(
        exists=True, id=row["id"], stage=row["stage"], amount=float(row["amount"] or 0.0),
        product=row["product"] or "", age_days=(now - row["created_at"]).days,
        days_in_stage=(now - entered).days,
        stakeholders=facts.get(FactType.STAKEHOLDER.value, 0) + facts.get(FactType.CHAMPION.value, 0),
    )  # fmt: skip


def _count(session: Session, query: Any) -> int:
    return int(session.execute(query).scalar_one())


def _touches(
    session: Session, kinds: Iterable[str], signal_kinds: Iterable[str], since: datetime, **who: Any
) -> int:
    column = "contact_id" if "contact_id" in who else "account_id"
    value = who[column]
    decided = _count(session, sa.select(sa.func.count()).select_from(R).where(
        R.c[column] == value, R.c.action_kind.in_(list(kinds)), R.c.verdict.in_(TOUCHED), R.c.decided_at >= since))  # fmt: skip
    observed = _count(session, sa.select(sa.func.count()).select_from(S).where(
        S.c[column] == value, S.c.kind.in_(list(signal_kinds)), S.c.occurred_at >= since))  # fmt: skip
    return decided + observed


def _counters(
    session: Session, pack: CompiledPack, action: ProposedAction, ctx: dict[str, Any], now: datetime
) -> dict[str, Any]:
    g = pack.guardrails
    out: dict[str, Any] = {}
    if g.contact_fatigue and action.contact_id is not None:
        cf = g.contact_fatigue
        out["contact_touches"] = _touches(session, cf.action_kinds, cf.signal_kinds,
                                          now - timedelta(days=cf.window_days), contact_id=action.contact_id)  # fmt: skip
    if g.account_cap:
        ac = g.account_cap
        out["account_touches"] = _touches(session, ac.action_kinds, ac.signal_kinds,
                                          now - timedelta(days=ac.window_days), account_id=action.account_id)  # fmt: skip
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out["motion_auto_today"] = _count(session, sa.select(sa.func.count()).select_from(R).where(
        R.c.motion == action.motion.value, R.c.verdict == "auto", R.c.decided_at >= start_of_day))  # fmt: skip
    risks = session.execute(
        sa.select(F.c.subject, F.c.observed_at).where(
            F.c.account_id == action.account_id, F.c.type == FactType.RISK.value, F.c.superseded_by.is_(None))
    ).all()  # fmt: skip
    out["open_risks"] = len(risks)
    churn = [when for subject, when in risks if subject and "churn" in subject]
    out["churn_risk"] = bool(churn)
    if churn:
        out["save_play_answered"] = _count(session, sa.select(sa.func.count()).select_from(R).where(
            R.c.account_id == action.account_id, R.c.action_kind == "save_play",
            R.c.verdict.in_(TOUCHED), R.c.decided_at >= max(churn))) > 0  # fmt: skip
    kinds = pack.governance.contact_signal_kinds
    last = session.execute(sa.select(sa.func.max(S.c.occurred_at)).where(
        S.c.account_id == action.account_id, S.c.kind.in_(kinds))).scalar_one()  # fmt: skip
    out["days_since_contact"] = (now - as_utc(last)).days if last is not None else -1
    return out
