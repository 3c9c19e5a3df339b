"""Governance: the deal states that violate the pack's structural rules, computed from memory.

A defined process that is not verified is an assumption. These are the checks nobody runs by
hand: deals past their segment's cycle corridor, open deals nobody contacted in N days,
stages reached without their exit criteria, deals outside the ICP — each with its owner, team
and age, plus ICP adherence (the share of open deals meeting every ICP criterion).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import DealOutcome
from revfield.memory._types import as_utc
from revfield.memory.models import Account, Deal, Fact, Signal, User, table_of
from revfield.policies._build import account_values, deal_values
from revfield.policies._context import default_context
from revfield.policies._evaluate import _holds, icp_fit
from revfield.policies._load import CompiledPack

__all__ = ["Deviation", "GovernanceReport", "deviations", "governance_report"]

A, D, F, S, U = (table_of(m) for m in (Account, Deal, Fact, Signal, User))

CYCLE = "cycle-corridor"
NO_CONTACT = "no-contact"
EXIT_CRITERIA = "exit-criteria"
OUTSIDE_ICP = "outside-icp"


@dataclass(frozen=True)
class Deviation:
    rule: str
    """``cycle-corridor``, ``no-contact``, ``exit-criteria`` or ``outside-icp``."""
    deal_id: str
    account_id: str
    owner_id: str | None
    team_id: str | None
    age_days: int
    """How old the deviation's subject is: deal age, days without contact."""
    detail: str


@dataclass
class GovernanceReport:
    as_of: datetime
    open_deals: int
    icp_fit_deals: int
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def icp_adherence(self) -> float:
        return self.icp_fit_deals / self.open_deals if self.open_deals else 1.0

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for d in self.deviations:
            counts[d.rule] += 1
        return dict(counts)


def deviations(session: Session, pack: CompiledPack, as_of: datetime) -> list[Deviation]:
    """Every governance deviation among the deals open at ``as_of``."""
    return governance_report(session, pack, as_of).deviations


def governance_report(session: Session, pack: CompiledPack, as_of: datetime) -> GovernanceReport:
    g = pack.governance
    deals = (
        session.execute(
            sa.select(
                D.c.id,
                D.c.account_id,
                D.c.owner_id,
                D.c.stage,
                D.c.amount,
                D.c.product,
                D.c.created_at,
                D.c.stage_entered_at,
                U.c.team_id,
            )
            .select_from(D.outerjoin(U, D.c.owner_id == U.c.id))
            .where(D.c.outcome == DealOutcome.OPEN.value, D.c.created_at <= as_of)
            .order_by(D.c.id)
        )
        .mappings()
        .all()
    )
    account_ids = sorted({d["account_id"] for d in deals})
    accounts = _accounts(session, account_ids)
    facts = _fact_counts(session, account_ids)
    last_contact = (
        _last_contact(session, account_ids, g.contact_signal_kinds, as_of)
        if g.no_contact_days
        else {}
    )
    stage_ids = pack.stage_ids()

    report = GovernanceReport(as_of=as_of, open_deals=len(deals), icp_fit_deals=0)
    for deal in deals:
        ctx = _deal_context(
            accounts.get(deal["account_id"], {}), facts.get(deal["account_id"], {}), deal, as_of
        )
        age = (as_of - deal["created_at"]).days
        base = dict(
            deal_id=deal["id"],
            account_id=deal["account_id"],
            owner_id=deal["owner_id"],
            team_id=deal["team_id"],
        )
        segment = ctx["account"]["segment"] or "default"
        corridor = g.cycle_corridor_days.get(segment, g.cycle_corridor_days.get("default"))
        if corridor is not None and age > corridor:
            report.deviations.append(
                Deviation(
                    CYCLE,
                    age_days=age,
                    **base,
                    detail=(f"open {age} days; the corridor for {segment} is {corridor} days"),
                )
            )
        if g.no_contact_days:
            last = last_contact.get(deal["account_id"])
            silent = (as_of - last).days if last else age
            if silent > g.no_contact_days:
                when = (
                    f"last contact {silent} days ago"
                    if last
                    else f"no contact recorded in {age} days"
                )
                report.deviations.append(
                    Deviation(
                        NO_CONTACT,
                        age_days=silent,
                        **base,
                        detail=(f"{when} (limit {g.no_contact_days})"),
                    )
                )
        if deal["stage"] in stage_ids:
            missing = [
                f"{stage}.{c.id}"
                for stage, criteria in pack.stages[: stage_ids.index(deal["stage"])]
                for c in criteria
                if _holds(c.condition, ctx) is not True
            ]
            if missing:
                in_stage = (as_of - (deal["stage_entered_at"] or deal["created_at"])).days
                report.deviations.append(
                    Deviation(
                        EXIT_CRITERIA,
                        age_days=in_stage,
                        **base,
                        detail=(f"in `{deal['stage']}` without {', '.join(missing)}"),
                    )
                )
        if pack.icp:
            fits, misses = icp_fit(pack.icp, ctx)
            if fits:
                report.icp_fit_deals += 1
            else:
                report.deviations.append(
                    Deviation(
                        OUTSIDE_ICP,
                        age_days=age,
                        **base,
                        detail=(f"account misses ICP criteria: {', '.join(misses)}"),
                    )
                )
        else:
            report.icp_fit_deals += 1
    return report


def _accounts(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for part in _chunks(ids):
        for row in session.execute(sa.select(A).where(A.c.id.in_(part))).mappings():
            out[row["id"]] = dict(row)
    return out


def _fact_counts(session: Session, ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for part in _chunks(ids):
        q = (
            sa.select(F.c.account_id, F.c.type, sa.func.count())
            .where(F.c.account_id.in_(part), F.c.superseded_by.is_(None))
            .group_by(F.c.account_id, F.c.type)
        )
        for account_id, type_, n in session.execute(q):
            out[account_id][str(type_)] = n
    return out


def _last_contact(
    session: Session, ids: list[str], kinds: list[str], as_of: datetime
) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for part in _chunks(ids):
        q = (
            sa.select(S.c.account_id, sa.func.max(S.c.occurred_at))
            .where(S.c.account_id.in_(part), S.c.kind.in_(kinds), S.c.occurred_at <= as_of)
            .group_by(S.c.account_id)
        )
        for account_id, last in session.execute(q):
            if last is not None:
                out[account_id] = as_utc(last)
    return out


def _deal_context(
    account: dict[str, Any], facts: dict[str, int], deal: Any, as_of: datetime
) -> dict[str, Any]:
    ctx = default_context()
    ctx["now"] = as_of
    if account:
        ctx["account"].update(account_values(account, facts, as_of))
    ctx["deal"].update(deal_values(deal, facts, as_of))
    return ctx


def _chunks(ids: list[str], size: int = 2000) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
