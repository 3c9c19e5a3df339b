"""The deal desk: a pricing objection (acquisition) or a renewal at risk (retention) → a
discount, within the range the pack configures, justified by the facts in memory.

The size of the discount is read from memory, never invented: the range's floor, one step for
each of the account's current objections (two at most) and for a competitor in play, two steps
while a churn risk is open on the account, one more for an enterprise account — each step
citing the fact behind it — clamped to the pack's range::

    agents:
      deal_desk:
        settings: {min_pct: 5, max_pct: 35, step_pct: 5}

The policy decides on the offer like on any other action (the default pack: reviewed up to
15%, the manager's above, blocked above 30% — and a discount to a customer at risk is the
manager's whatever its size). A setting that is missing or not a number takes its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from revfield.agents._common import EventView, Proposal
from revfield.agents._playbook import Playbook
from revfield.agents._spec import AgentSpec
from revfield.domain import (
    ActionKind,
    CustomerState,
    FactType,
    FieldEventKind,
    Motion,
    ProposedAction,
    RiskStatus,
    Segment,
    is_churn_risk,
)
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Handles

__all__ = ["AGENT", "DEFAULTS", "propose"]

NAME = "deal_desk"
DEFAULTS: Mapping[str, float] = {"min_pct": 5.0, "max_pct": 30.0, "step_pct": 5.0}
"""The range when the pack sets none (its settings override each key)."""


def _setting(settings: Mapping[str, Any], key: str) -> float:
    """A percentage the pack sets (0–100), or the default for anything else."""
    value = settings.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
        return float(value)
    return DEFAULTS[key]


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    """One ``offer_discount`` sized by what memory says, citing the facts it rests on."""
    settings = playbook.settings(NAME)
    lo, hi = sorted((_setting(settings, "min_pct"), _setting(settings, "max_pct")))
    step = max(_setting(settings, "step_pct"), 0.5)
    renewal = event.kind in (FieldEventKind.RENEWAL_AT_RISK, FieldEventKind.RENEWAL_DUE)
    facts = memory.facts
    reasons: list[str] = []
    cited: list[int] = []
    pct = lo
    for f in facts.get(FactType.OBJECTION, [])[:2]:
        pct += step
        reasons.append(f"objection: {f.value[:120]}")
        cited.append(f.id)
    for f in facts.get(FactType.COMPETITOR, [])[:1]:
        pct += step
        reasons.append(f"competitor in play: {f.value[:120]}")
        cited.append(f.id)
    risk = memory.churn_risk
    if risk is not None and risk.status is RiskStatus.OPEN:
        churn = [f for f in facts.get(FactType.RISK, []) if is_churn_risk(f.subject)]
        behind = [f for f in churn if f.id in risk.fact_ids] or churn
        pct += 2 * step
        reasons.append(
            f"open churn risk #{risk.id}" + (f": {behind[0].value[:120]}" if behind else "")
        )
        cited.extend(f.id for f in behind[:3])
    if memory.account.segment == Segment.ENTERPRISE:
        pct += step
        reasons.append("enterprise account")
    pct = round(min(max(pct, lo), hi), 1)
    deal = (
        None
        if renewal
        else next(
            (d for d in memory.open_deals if d.id == event.deal_id),
            memory.open_deals[0] if memory.open_deals else None,
        )
    )
    customer = memory.account.customer_state is CustomerState.CUSTOMER
    motion = Motion.RETENTION_EXPANSION if renewal or customer else Motion.ACQUISITION
    end_date = event.data.get("end_date") if renewal else None
    if renewal:
        what = f"renewal (ends {end_date})" if isinstance(end_date, str) else "renewal"
    elif deal is not None:
        what = f"deal {deal.name or deal.id}"
    else:
        what = "subscription" if customer else "offer"
    # what the discount is on: the deal, or a customer's annual contract value
    amount = (
        float(deal.amount or 0.0)
        if deal is not None
        else round((memory.account.mrr or 0.0) * 12, 2)
        if customer
        else 0.0
    )
    why = "; ".join(reasons) or event.detail
    action = ProposedAction(
        kind=ActionKind.OFFER_DISCOUNT,
        motion=motion,
        account_id=memory.account.id,
        deal_id=deal.id if deal is not None else None,
        channel="crm",
        discount_pct=pct,
        amount=amount,
        subject=f"{pct:g}% discount on the {what} for {memory.account.name}",
        body=f"{event.detail}\n\nWhy: {why}.",
        payload={
            "event": event.kind,
            "range_pct": [lo, hi],
            "justification": reasons,
            **({"end_date": end_date} if isinstance(end_date, str) else {}),
        },
        cited_fact_ids=cited,
        cited_signal_ids=list(event.signal_ids),
        confidence=0.8 if cited else 0.6,
        model=model.name,
        field_event_id=event.id,
    )
    return Proposal([action], {"discount_pct": pct, "reasons": len(reasons)})


AGENT = AgentSpec(
    name=NAME,
    propose=propose,
    handles=(
        Handles.of(
            [FieldEventKind.PRICING_OBJECTION], [CustomerState.PROSPECT, CustomerState.CUSTOMER]
        ),
        Handles.of([FieldEventKind.RENEWAL_AT_RISK], [CustomerState.CUSTOMER]),
    ),
    description="Pricing objections and renewals at risk: a discount within the pack's range.",
)
