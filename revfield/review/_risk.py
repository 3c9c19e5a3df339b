"""A person resolving a churn risk: the account's owner, their manager or RevOps, with a
reason (kept in the risk and the audit trail)."""

from __future__ import annotations

from datetime import datetime

from revfield.domain import RiskStatus
from revfield.memory import ChurnRiskView, Session, account_owner, get_risk, resolve_risk
from revfield.review._access import Actor, ReviewError, may_answer

__all__ = ["resolve_churn_risk"]


def resolve_churn_risk(
    session: Session, risk_id: int, *, actor: Actor, reason: str, now: datetime
) -> ChurnRiskView:
    """Resolve the churn risk ``risk_id`` (open or addressed) as ``actor``; returns it as it
    is now. Refused, with a :class:`ReviewError` saying why, when the reason is empty, the risk
    is unknown or resolved already, or the person doesn't answer for the account."""
    if not reason.strip():
        raise ReviewError("a churn risk is resolved with a reason; say what changed")
    risk = get_risk(session, risk_id)
    if risk is None:
        raise ReviewError(f"no churn risk #{risk_id}; see `revfield risk list`")
    if risk.status is RiskStatus.RESOLVED:
        raise ReviewError(
            f"churn risk #{risk_id} is already resolved by {risk.resolved_by}: {risk.resolution}"
        )
    owner, team = account_owner(session, risk.account_id)
    if not may_answer(actor, "owner", owner, team):
        raise ReviewError(
            f"{actor.id} ({actor.role}) may not resolve churn risk #{risk_id}: it is for the "
            f"owner of {risk.account_id}, their manager or RevOps"
        )
    if not resolve_risk(session, risk_id, by=actor.id, reason=reason.strip(), now=now):
        raise ReviewError(f"churn risk #{risk_id} was resolved by someone else just now")
    resolved = get_risk(session, risk_id)
    assert resolved is not None  # it was there a moment ago, in this transaction
    return resolved
