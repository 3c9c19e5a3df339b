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

from revfield.domain import FactType, ProposedAction, is_churn_risk
from revfield.memory._types import as_utc
from revfield.memory.models import Account, Contact, Deal, DecisionRecord, Fact, Signal, table_of
from revfield.policies._context import default_context
from revfield.policies._evaluate import icp_fit
from revfield.policies._load import CompiledPack

__all__ = ["account_values", "build_context", "deal_values", "fill_account"]

A, C, D, F, S, R = (table_of(m) for m in (Account, Contact, Deal, Fact, Signal, DecisionRecord))
TOUCHED = ("auto", "approved")
"""Decision verdicts that count as a touch made (``approved`` once reviews exist)."""


def build_context(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The decision context of ``action``. ``cache`` (one dict per agent run) keeps what
    can't change between the run's proposals — the account, its facts, contacts, deals, open
    risks, last contact — while every counter that a proposal may move is read afresh."""
    cache = {} if cache is None else cache
    ctx = default_context()
    ctx["now"] = now
    ctx["action"].update(
        kind=action.kind.value,
        motion=action.motion.value,
        channel=action.channel,
        discount_pct=float(action.discount_pct),
        amount=float(action.amount),
        to_stage=action.to_stage,
        subject=action.subject,
        cited=len(action.cited_fact_ids) + len(action.cited_signal_ids),
        uncited_claims=action.uncited_claims,
        unsupported_promises=action.unsupported_promises,
        tags=list(action.tags),
        payload=dict(action.payload),
    )
    ctx["model"].update(
        confidence=float(action.confidence),
        name=action.model,
        fault=bool(action.model_fault),
        fault_reason=action.model_fault,
    )
    key = ("account", action.account_id)
    if key not in cache:
        filled = default_context()
        filled["now"] = now
        cache[key] = (
            fill_account(session, pack, filled, action.account_id, now),
            filled["account"],
        )
    facts, account = cache[key]
    ctx["account"] = dict(account)
    if action.contact_id is not None:
        ckey = ("contact", action.contact_id)
        if ckey not in cache:
            cache[ckey] = (
                session.execute(sa.select(C).where(C.c.id == action.contact_id)).mappings().first()
            )
        row = cache[ckey]
        if row is not None:
            ctx["contact"].update(
                exists=True,
                id=row["id"],
                email=row["email"] or "",
                name=row["name"] or "",
                role=row["role"] or "",
                do_not_contact=bool(row["do_not_contact"]),
            )
    if action.deal_id is not None:
        key = ("deal", action.deal_id)
        if key not in cache:
            cache[key] = (
                session.execute(sa.select(D).where(D.c.id == action.deal_id)).mappings().first()
            )
        if (row := cache[key]) is not None:
            ctx["deal"].update(deal_values(row, facts, now))
    ctx["counters"].update(_counters(session, pack, action, ctx, now, cache))
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
        exists=True,
        id=row["id"],
        name=row["name"],
        segment=str(row["segment"] or ""),
        industry=row["industry"] or "",
        region=row["region"] or "",
        employees=row["employees"] or 0,
        customer_state=str(row["customer_state"]),
        owner_id=row["owner_id"] or "",
        plan=row["plan"] or "",
        seats=row["seats"] or 0,
        mrr=float(row["mrr"] or 0.0),
        age_days=(now - row["created_at"]).days,
        facts={t: facts.get(t, 0) for t in sorted(known)},
    )


def deal_values(row: Mapping[Any, Any], facts: Mapping[str, int], now: datetime) -> dict[str, Any]:
    """The ``deal`` part of a context from a ``deals`` row and the account's fact counts."""
    entered = row["stage_entered_at"] or row["created_at"]
    return dict(
        exists=True,
        id=row["id"],
        stage=row["stage"],
        amount=float(row["amount"] or 0.0),
        product=row["product"] or "",
        age_days=(now - row["created_at"]).days,
        days_in_stage=(now - entered).days,
        stakeholders=facts.get(FactType.STAKEHOLDER.value, 0)
        + facts.get(FactType.CHAMPION.value, 0),
    )


def _count(session: Session, query: Any, **params: Any) -> int:
    return int(session.execute(query, params).scalar_one())


# Built once: constructing select() objects cost more than running them (one decision runs
# up to seven of these).
_B = sa.bindparam
_DECIDED = {
    column: sa.select(sa.func.count())
    .select_from(R)
    .where(
        R.c[column] == _B("who"),
        R.c.action_kind.in_(_B("kinds", expanding=True)),
        R.c.verdict.in_(_B("verdicts", expanding=True)),
        R.c.decided_at >= _B("since"),
    )
    for column in ("contact_id", "account_id")
}
_OBSERVED = {
    column: sa.select(sa.func.count())
    .select_from(S)
    .where(
        S.c[column] == _B("who"),
        S.c.kind.in_(_B("kinds", expanding=True)),
        S.c.occurred_at >= _B("since"),
    )
    for column in ("contact_id", "account_id")
}
_DECIDED_BOTH = sa.select(
    sa.func.sum(sa.case((R.c.contact_id == _B("contact"), 1), else_=0)), sa.func.count()
).where(
    R.c.account_id == _B("account"),
    R.c.action_kind.in_(_B("kinds", expanding=True)),
    R.c.verdict.in_(_B("verdicts", expanding=True)),
    R.c.decided_at >= _B("since"),
)
_OBSERVED_BOTH = sa.select(
    sa.func.sum(sa.case((S.c.contact_id == _B("contact"), 1), else_=0)), sa.func.count()
).where(
    S.c.account_id == _B("account"),
    S.c.kind.in_(_B("kinds", expanding=True)),
    S.c.occurred_at >= _B("since"),
)
_AUTO_TODAY = (
    sa.select(sa.func.count())
    .select_from(R)
    .where(R.c.motion == _B("motion"), R.c.verdict == "auto", R.c.decided_at >= _B("since"))
)
_RISKS = sa.select(F.c.subject, F.c.observed_at).where(
    F.c.account_id == _B("account_id"), F.c.type == FactType.RISK.value, F.c.superseded_by.is_(None)
)
_SAVE_PLAYS = (
    sa.select(sa.func.count())
    .select_from(R)
    .where(
        R.c.account_id == _B("account_id"),
        R.c.action_kind == "save_play",
        R.c.verdict.in_(_B("verdicts", expanding=True)),
        R.c.decided_at >= _B("since"),
    )
)
_LAST_CONTACT = sa.select(sa.func.max(S.c.occurred_at)).where(
    S.c.account_id == _B("account_id"), S.c.kind.in_(_B("kinds", expanding=True))
)


def _touches(
    session: Session, kinds: Iterable[str], signal_kinds: Iterable[str], since: datetime, **who: Any
) -> int:
    column = "contact_id" if "contact_id" in who else "account_id"
    value = who[column]
    decided = _count(
        session, _DECIDED[column], who=value, kinds=list(kinds), verdicts=list(TOUCHED), since=since
    )
    observed = _count(session, _OBSERVED[column], who=value, kinds=list(signal_kinds), since=since)
    return decided + observed


def _counters(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    ctx: dict[str, Any],
    now: datetime,
    cache: dict[Any, Any],
) -> dict[str, Any]:
    g = pack.guardrails
    out: dict[str, Any] = {}
    read = pack.referenced
    kind = action.kind.value
    cf, ac = g.contact_fatigue, g.account_cap
    want_contact = (
        cf is not None
        and action.contact_id is not None
        and (kind in cf.action_kinds or "counters.contact_touches" in read)
    )
    want_account = ac is not None and (
        kind in ac.action_kinds or "counters.account_touches" in read
    )
    if (
        want_contact
        and want_account
        and cf is not None
        and ac is not None
        and (cf.action_kinds, cf.signal_kinds, cf.window_days)
        == (ac.action_kinds, ac.signal_kinds, ac.window_days)
    ):
        since = now - timedelta(
            days=cf.window_days
        )  # the same window: count both in one pass per table
        params = {"account": action.account_id, "contact": action.contact_id, "since": since}
        d = session.execute(
            _DECIDED_BOTH, {**params, "kinds": list(cf.action_kinds), "verdicts": list(TOUCHED)}
        ).one()
        o = session.execute(_OBSERVED_BOTH, {**params, "kinds": list(cf.signal_kinds)}).one()
        out["contact_touches"], out["account_touches"] = (
            int(d[0] or 0) + int(o[0] or 0),
            int(d[1]) + int(o[1]),
        )
    else:
        if want_contact and cf is not None:
            out["contact_touches"] = _touches(
                session,
                cf.action_kinds,
                cf.signal_kinds,
                now - timedelta(days=cf.window_days),
                contact_id=action.contact_id,
            )
        if want_account and ac is not None:
            out["account_touches"] = _touches(
                session,
                ac.action_kinds,
                ac.signal_kinds,
                now - timedelta(days=ac.window_days),
                account_id=action.account_id,
            )
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out["motion_auto_today"] = _count(
        session, _AUTO_TODAY, motion=action.motion.value, since=start_of_day
    )
    key = ("risks", action.account_id)
    if key not in cache:
        cache[key] = session.execute(_RISKS, {"account_id": action.account_id}).all()
    risks = cache[key]
    out["open_risks"] = len(risks)
    churn = [when for subject, when in risks if is_churn_risk(subject)]
    out["churn_risk"] = bool(churn)
    if churn:
        out["save_play_answered"] = (
            _count(
                session,
                _SAVE_PLAYS,
                account_id=action.account_id,
                verdicts=list(TOUCHED),
                since=max(churn),
            )
            > 0
        )
    kinds = pack.governance.contact_signal_kinds
    key = ("last_contact", action.account_id)
    if key not in cache:
        cache[key] = session.execute(
            _LAST_CONTACT, {"account_id": action.account_id, "kinds": list(kinds)}
        ).scalar_one()
    last = cache[key]
    out["days_since_contact"] = (now - as_utc(last)).days if last is not None else -1
    return out
