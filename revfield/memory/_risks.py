"""Churn risks: one open risk per account at a time, and how it is worked off.

A churn-risk fact opens the account's risk, or attaches to the one already open. The first
save play proposed for it becomes its save play (a later one replaces it only once it is gone:
rejected, blocked, cancelled or failed). The risk is addressed when its save play is carried
out, and resolved by a person (with a reason) or by signals the pack counts as recovery. A
churn-risk fact on an account whose risk was addressed or resolved opens a new one: new trouble
calls for a new save play.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ActionStatus, CustomerState, RiskStatus
from revfield.memory._audit import audit_row, write_audit
from revfield.memory._lifecycle import transition
from revfield.memory._tables import ACCOUNTS, ACTIONS, CHURN_RISKS

__all__ = [
    "ChurnRiskView",
    "current_risk",
    "current_risks",
    "get_risk",
    "link_save_play",
    "list_risks",
    "note_churn_facts",
    "resolve_risk",
    "save_play_carried_out",
]

_ACTIVE = (RiskStatus.OPEN.value, RiskStatus.ADDRESSED.value)
_LIVE_PLAY = (
    ActionStatus.PENDING_REVIEW.value,
    ActionStatus.APPROVED.value,
    ActionStatus.QUEUED.value,
    ActionStatus.EXECUTED.value,
)
"""Statuses of a save play that is still working off its risk (or did)."""


@dataclass(frozen=True, slots=True)
class ChurnRiskView:
    """An account's churn risk, as agents, counters and ``revfield risk list`` see it."""

    id: int
    account_id: str
    status: RiskStatus
    fact_ids: tuple[int, ...]
    opened_at: datetime
    save_play_action_id: int | None
    save_play_status: ActionStatus | None
    """Where its save play stands (None: no save play yet)."""
    addressed_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    account_name: str = ""

    @property
    def save_play_live(self) -> bool:
        """Whether a save play is on its way or was carried out (no second one is needed)."""
        return self.save_play_status is not None and self.save_play_status.value in _LIVE_PLAY

    @property
    def save_play_answered(self) -> bool:
        """Whether a person approved its save play, or it went out (retention-first lifts)."""
        return self.save_play_status in (
            ActionStatus.APPROVED,
            ActionStatus.QUEUED,
            ActionStatus.EXECUTED,
        )


def _query() -> Any:
    return sa.select(
        CHURN_RISKS,
        ACTIONS.c.status.label("save_play_status"),
        ACCOUNTS.c.name.label("account_name"),
    ).select_from(
        CHURN_RISKS.outerjoin(ACTIONS, ACTIONS.c.id == CHURN_RISKS.c.save_play_action_id).join(
            ACCOUNTS, ACCOUNTS.c.id == CHURN_RISKS.c.account_id
        )
    )


def risk_view(row: Any) -> ChurnRiskView:
    """A ``churn_risks`` row (with its save play's status and the account's name) as a view."""
    return ChurnRiskView(
        id=row["id"],
        account_id=row["account_id"],
        status=RiskStatus(row["status"]),
        fact_ids=tuple(row["fact_ids"] or ()),
        opened_at=row["opened_at"],
        save_play_action_id=row["save_play_action_id"],
        save_play_status=ActionStatus(row["save_play_status"]) if row["save_play_status"] else None,
        addressed_at=row["addressed_at"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
        account_name=row["account_name"],
    )


CURRENT_RISK = (
    _query()
    .where(
        CHURN_RISKS.c.account_id == sa.bindparam("account_id"),
        CHURN_RISKS.c.status.in_(_ACTIVE),
    )
    .order_by(CHURN_RISKS.c.id.desc())
    .limit(1)
)


def current_risk(session: Session, account_id: str) -> ChurnRiskView | None:
    """The account's newest risk that is not resolved (open or addressed), if any."""
    row = session.execute(CURRENT_RISK, {"account_id": account_id}).mappings().first()
    return None if row is None else risk_view(row)


def current_risks(session: Session, account_ids: Iterable[str]) -> dict[str, ChurnRiskView]:
    """Each account's newest risk that is not resolved (open or addressed), if any."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    query = (
        _query()
        .where(CHURN_RISKS.c.account_id.in_(wanted), CHURN_RISKS.c.status.in_(_ACTIVE))
        .order_by(CHURN_RISKS.c.id)
    )
    return {r["account_id"]: risk_view(r) for r in session.execute(query).mappings()}


def get_risk(session: Session, risk_id: int) -> ChurnRiskView | None:
    """The churn risk ``risk_id``, whatever its state (None when there is none)."""
    row = session.execute(_query().where(CHURN_RISKS.c.id == risk_id)).mappings().first()
    return None if row is None else risk_view(row)


def list_risks(
    session: Session,
    *,
    status: RiskStatus | None = None,
    account_id: str | None = None,
    limit: int | None = None,
) -> list[ChurnRiskView]:
    """Risks, newest first (``status``: only those; ``account_id``: only that account's;
    ``limit``: at most that many)."""
    query = _query().order_by(CHURN_RISKS.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(CHURN_RISKS.c.status == status.value)
    if account_id is not None:
        query = query.where(CHURN_RISKS.c.account_id == account_id)
    return [risk_view(r) for r in session.execute(query).mappings()]


def note_churn_facts(
    session: Session, facts: Sequence[tuple[str, int, datetime]], now: datetime
) -> None:
    """Churn-risk facts ``(account, fact id, observed at)`` just recorded: each opens its
    customer account's risk, or attaches to the risk already open."""
    customers = (
        set(
            session.scalars(
                sa.select(ACCOUNTS.c.id).where(
                    ACCOUNTS.c.id.in_(sorted({a for a, _, _ in facts})),
                    ACCOUNTS.c.customer_state == CustomerState.CUSTOMER.value,
                )
            )
        )
        if facts
        else set()
    )
    facts = [f for f in facts if f[0] in customers]  # a prospect has nothing to churn from
    if not facts:
        return
    opened = {
        r.account_id: (r.id, list(r.fact_ids or []))
        for r in session.execute(
            sa.select(CHURN_RISKS.c.id, CHURN_RISKS.c.account_id, CHURN_RISKS.c.fact_ids).where(
                CHURN_RISKS.c.account_id.in_(sorted({a for a, _, _ in facts})),
                CHURN_RISKS.c.status == RiskStatus.OPEN.value,
            )
        )
    }
    trail = []
    grown: set[int] = set()
    for account_id, fact_id, observed_at in facts:
        if account_id in opened:
            risk_id, fact_ids = opened[account_id]
            fact_ids.append(fact_id)
            grown.add(risk_id)
            continue
        risk_id = int(
            session.execute(
                sa.insert(CHURN_RISKS).returning(CHURN_RISKS.c.id),
                {
                    "account_id": account_id,
                    "status": RiskStatus.OPEN.value,
                    "fact_ids": [fact_id],
                    "opened_at": observed_at,
                    "updated_at": now,
                },
            ).scalar_one()
        )
        opened[account_id] = (risk_id, [fact_id])
        trail.append(
            audit_row(
                actor="detection",
                event="risk_opened",
                at=now,
                account_id=account_id,
                risk_id=risk_id,
                fact_id=fact_id,
            )
        )
    for risk_id, fact_ids in opened.values():
        if risk_id not in grown:
            continue
        session.execute(
            sa.update(CHURN_RISKS)
            .where(CHURN_RISKS.c.id == risk_id)
            .values(fact_ids=fact_ids, updated_at=now)
        )
    write_audit(session, trail)


def link_save_play(session: Session, account_id: str, action_id: int, now: datetime) -> None:
    """A save play was recorded for the account: it works off the open risk, unless that risk
    already has a save play on its way (then the new one works it off only once that is gone)."""
    risk = current_risk(session, account_id)
    if risk is None or risk.status is not RiskStatus.OPEN or risk.save_play_live:
        return
    session.execute(
        sa.update(CHURN_RISKS)
        .where(CHURN_RISKS.c.id == risk.id)
        .values(save_play_action_id=action_id, updated_at=now)
    )


def save_play_carried_out(session: Session, action_id: int, now: datetime) -> None:
    """The save play ``action_id`` went out: its risk, if open, is addressed."""
    for risk_id, account_id in session.execute(
        sa.select(CHURN_RISKS.c.id, CHURN_RISKS.c.account_id).where(
            CHURN_RISKS.c.save_play_action_id == action_id,
            CHURN_RISKS.c.status == RiskStatus.OPEN.value,
        )
    ).all():
        if transition(session, risk_id, RiskStatus.ADDRESSED, addressed_at=now, updated_at=now):
            write_audit(
                session,
                [
                    audit_row(
                        actor="outbox",
                        event="risk_addressed",
                        at=now,
                        account_id=account_id,
                        action_id=action_id,
                        risk_id=risk_id,
                    )
                ],
            )


def resolve_risk(session: Session, risk_id: int, *, by: str, reason: str, now: datetime) -> bool:
    """Resolve a risk (open or addressed) with the reason; False when it was resolved already."""
    row = session.execute(
        sa.select(CHURN_RISKS.c.account_id).where(CHURN_RISKS.c.id == risk_id)
    ).first()
    if row is None:
        raise LookupError(f"no churn risk #{risk_id}")
    moved = transition(
        session,
        risk_id,
        RiskStatus.RESOLVED,
        resolved_at=now,
        resolved_by=by,
        resolution=reason,
        updated_at=now,
    )
    if moved:
        write_audit(
            session,
            [
                audit_row(
                    actor=by,
                    event="risk_resolved",
                    at=now,
                    account_id=row.account_id,
                    risk_id=risk_id,
                    reason=reason,
                )
            ],
        )
    return bool(moved)
