"""What the renewal sweep reads: each customer account's current subscription (its newest
``subscription_change`` signal, whose payload may carry an ``end_date``) and whether a churn
risk is open on the account. Detection reads the payload; nothing here interprets it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import CustomerState, RiskStatus
from revfield.memory._tables import ACCOUNTS, CHURN_RISKS, SIGNALS
from revfield.memory._types import as_utc

__all__ = ["SubscriptionSnap", "current_subscriptions"]

SUBSCRIPTION_KIND = "subscription_change"


@dataclass(frozen=True, slots=True)
class SubscriptionSnap:
    """A customer account's current subscription, as the renewal rule reads it."""

    account_id: str
    signal_id: int
    """The newest ``subscription_change`` signal of the account (the event's provenance)."""
    occurred_at: datetime
    payload: Mapping[str, Any]
    """The signal's payload as ingested (``end_date``, ``subscription_id``… if present)."""
    risk_id: int | None = None
    """The account's open churn risk, if one is open (not addressed by a save play, not
    resolved: what the pack's ``counters.churn_risk`` means too)."""


def _payload(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def current_subscriptions(session: Session, as_of: datetime) -> list[SubscriptionSnap]:
    """Each customer account's newest ``subscription_change`` signal up to ``as_of`` (one per
    account, by occurrence then id), with the account's open churn risk; by account id.
    Prospects and churned accounts have none."""
    newest = sa.func.row_number().over(
        partition_by=SIGNALS.c.account_id,
        order_by=(SIGNALS.c.occurred_at.desc(), SIGNALS.c.id.desc()),
    )
    ranked = (
        sa.select(
            SIGNALS.c.id,
            SIGNALS.c.account_id,
            SIGNALS.c.occurred_at,
            SIGNALS.c.payload,
            newest.label("rank"),
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == SIGNALS.c.account_id)
        .where(
            SIGNALS.c.kind == SUBSCRIPTION_KIND,
            SIGNALS.c.occurred_at <= as_of,
            ACCOUNTS.c.customer_state == CustomerState.CUSTOMER.value,
        )
        .subquery()
    )
    risk = (
        sa.select(sa.func.max(CHURN_RISKS.c.id))
        .where(
            CHURN_RISKS.c.account_id == ranked.c.account_id,
            CHURN_RISKS.c.status == RiskStatus.OPEN.value,
        )
        .scalar_subquery()
    )
    query = (
        sa.select(
            ranked.c.id,
            ranked.c.account_id,
            ranked.c.occurred_at,
            ranked.c.payload,
            risk.label("risk_id"),
        )
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.account_id)
    )
    return [
        SubscriptionSnap(
            r.account_id,
            r.id,
            as_utc(r.occurred_at),
            _payload(r.payload),
            None if r.risk_id is None else int(r.risk_id),
        )
        for r in session.execute(query)
    ]
