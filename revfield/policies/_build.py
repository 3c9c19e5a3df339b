"""Assembling a decision context from the account memory: the policy layer's only reads, all
through the memory's functions.

Counters are computed with the pack's own windows, so a decision stored with its context can
be replayed later through another pack without touching the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from revfield.domain import FactType, ProposedAction, RiskStatus
from revfield.memory import (
    Counts,
    Session,
    TouchWindow,
    contact_row,
    current_risk,
    deal_row,
    decision_counts,
    decision_reads,
    open_risks,
)
from revfield.policies._context import default_context
from revfield.policies._evaluate import icp_fit
from revfield.policies._load import CompiledPack
from revfield.policies._schema import AccountCap, ContactFatigue

__all__ = ["account_context", "account_values", "build_context", "deal_values"]


def build_context(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any] | None = None,
    *,
    budget_spent: int | None = None,
) -> dict[str, Any]:
    """The decision context of ``action``. ``cache`` (one dict per agent run) keeps what
    can't change between the run's proposals — the account, its facts, contacts, deals, open
    risks, last contact — while every counter that a proposal may move is read afresh.
    ``budget_spent``: the motion's slots taken today when the caller knows them already (a
    run holding the next slot), instead of reading them."""
    cache = {} if cache is None else cache
    ctx = default_context()
    ctx["now"] = now
    ctx["action"].update(
        kind=action.kind,
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
    windows = _windows(pack, action, now)
    counted: Counts | None = None  # this decision's counts, when read with the rest below
    if key not in cache:
        counted = _read_once(session, pack, action, now, cache, budget_spent, windows)
    facts, account = cache[key]
    ctx["account"] = dict(account)
    if action.contact_id is not None:
        ckey = ("contact", action.contact_id)
        if ckey not in cache:
            cache[ckey] = contact_row(session, action.contact_id)
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
            cache[key] = deal_row(session, action.deal_id)
        if (row := cache[key]) is not None:
            ctx["deal"].update(deal_values(row, facts, now))
    ctx["counters"].update(
        _counters(session, pack, action, now, cache, budget_spent, windows, counted)
    )
    return ctx


def _read_once(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any],
    spent: int | None,
    windows: list[TouchWindow],
) -> Counts:
    """A run's first decision on an account: everything it reads, read together (one round
    trip on PostgreSQL), kept in ``cache``; returns this decision's counts."""
    got = decision_reads(
        session,
        account_id=action.account_id,
        contact_id=action.contact_id,
        deal_id=action.deal_id,
        touches=windows[0] if windows else None,
        motion=action.motion.value if spent is None else None,
        now=now,
        contact_kinds=pack.governance.contact_signal_kinds,
    )
    filled = default_context()
    filled["now"] = now
    if got.account is not None:
        account_context(pack, filled, got.account, got.facts, now)
    cache[("account", action.account_id)] = (got.facts if got.account else {}, filled["account"])
    if action.contact_id is not None:
        cache[("contact", action.contact_id)] = got.contact
    if action.deal_id is not None:
        cache[("deal", action.deal_id)] = got.deal
    cache[("last_contact", action.account_id)] = got.counts.last_contact
    cache[("risks", action.account_id)] = (got.risk_facts, got.risk)
    return got.counts


def account_context(
    pack: CompiledPack,
    ctx: dict[str, Any],
    row: Mapping[Any, Any],
    facts: Mapping[str, int],
    now: datetime,
) -> None:
    """Fill ``ctx["account"]`` (with ICP fit) from an ``accounts`` row and its fact counts."""
    ctx["account"].update(account_values(row, facts, now))
    ctx["account"]["icp_fit"] = icp_fit(pack.icp, ctx)[0] if pack.icp else True


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


def _windows(pack: CompiledPack, action: ProposedAction, now: datetime) -> list[TouchWindow]:
    """The touch windows a decision on ``action`` counts (one when the pack's contact fatigue
    and account cap count alike)."""
    g = pack.guardrails
    read = pack.referenced
    kind = action.kind
    cf, ac = g.contact_fatigue, g.account_cap
    want_contact = (
        cf is not None
        and action.contact_id is not None
        and (kind in cf.action_kinds or "counters.contact_touches" in read)
    )
    want_account = ac is not None and (
        kind in ac.action_kinds or "counters.account_touches" in read
    )

    def window(cap: ContactFatigue | AccountCap | None, of: str) -> TouchWindow:
        assert cap is not None  # wanted only when the pack has the guardrail
        since = now - timedelta(days=cap.window_days)
        return TouchWindow(cap.action_kinds, cap.signal_kinds, since, of)

    same_window = (
        cf is not None
        and ac is not None
        and (cf.action_kinds, cf.signal_kinds, cf.window_days)
        == (ac.action_kinds, ac.signal_kinds, ac.window_days)
    )
    windows: list[TouchWindow] = []
    if want_contact and want_account and same_window:  # count both in one pass per table
        windows.append(window(cf, "both"))
    else:
        if want_contact:
            windows.append(window(cf, "contact"))
        if want_account:
            windows.append(window(ac, "account"))
    return windows


def _counters(
    session: Session,
    pack: CompiledPack,
    action: ProposedAction,
    now: datetime,
    cache: dict[Any, Any],
    spent: int | None,
    windows: list[TouchWindow],
    counted: Counts | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    last_key = ("last_contact", action.account_id)
    # one statement (or none, when read with the account): the first window's touches, the
    # budget's slots (unless the run holds the next one already) and, once per run, the last
    # contact
    counts = counted or decision_counts(
        session,
        account_id=action.account_id,
        contact_id=action.contact_id,
        touches=windows[0] if windows else None,
        motion=action.motion.value if spent is None else None,
        now=now,
        contact_kinds=pack.governance.contact_signal_kinds if last_key not in cache else None,
    )
    touched = [counts.touches] if counts.touches is not None else []
    for more in windows[1:]:  # windows that differ: one more statement
        found = decision_counts(
            session, account_id=action.account_id, contact_id=action.contact_id, touches=more
        ).touches
        assert found is not None
        touched.append(found)
    for w, (of_contact, of_account) in zip(windows, touched, strict=True):
        if w.of in ("contact", "both"):
            out["contact_touches"] = of_contact
        if w.of in ("account", "both"):
            out["account_touches"] = of_account
    out["motion_auto_today"] = spent if spent is not None else counts.budget_spent
    if last_key not in cache:
        cache[last_key] = counts.last_contact
    key = ("risks", action.account_id)
    if key not in cache:
        cache[key] = (
            open_risks(session, action.account_id),
            current_risk(session, action.account_id),
        )
    risk_facts, risk = cache[key]
    out["open_risks"] = len(risk_facts)
    # a churn risk holds until it is worked off: addressed (its save play went out) or resolved
    out["churn_risk"] = risk is not None and risk.status is RiskStatus.OPEN
    out["save_play_answered"] = risk is not None and risk.save_play_answered
    last = cache[last_key]
    out["days_since_contact"] = (now - last).days if last is not None else -1
    return out
