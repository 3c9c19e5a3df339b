"""Governance: the deal states that violate the pack's structural rules, computed from memory.

A defined process that is not verified is an assumption. These are the checks nobody runs by
hand: deals past their segment's cycle corridor, open deals nobody contacted in N days,
stages reached without their exit criteria, deals outside the ICP — each with its owner, team
and age, plus ICP adherence (the share of open deals meeting every ICP criterion).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from revfield.domain import Detected, FieldEventKind
from revfield.memory import Session, account_rows, fact_counts, last_contact, open_deals
from revfield.policies._build import account_values, deal_values
from revfield.policies._conditions import holds
from revfield.policies._context import default_context
from revfield.policies._evaluate import icp_fit
from revfield.policies._load import CompiledPack

__all__ = ["Deviation", "GovernanceReport", "deviations", "governance_report"]

CYCLE = "cycle-corridor"
NO_CONTACT = "no-contact"
EXIT_CRITERIA = "exit-criteria"
OUTSIDE_ICP = "outside-icp"


@dataclass(frozen=True)
class Deviation:
    """An open deal that breaks a governance rule of the pack: past its segment's cycle
    corridor, not contacted for ``no_contact_days``, in a stage reached without its exit
    criteria, or outside the ICP; with the owner and team who should act."""

    rule: str
    """``cycle-corridor``, ``no-contact``, ``exit-criteria`` or ``outside-icp``."""
    deal_id: str
    account_id: str
    owner_id: str | None
    team_id: str | None
    age_days: int
    """How old the deviation's subject is: deal age, days without contact."""
    detail: str
    """What is wrong, in words (the corridor exceeded, the missing criteria…)."""


@dataclass
class GovernanceReport:
    """Every governance deviation among the open deals at one moment, and ICP adherence: what
    ``revfield governance`` prints and what detection raises as field events."""

    as_of: datetime
    open_deals: int
    icp_fit_deals: int
    """Open deals whose account meets every ICP criterion."""
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def icp_adherence(self) -> float:
        """The share of open deals meeting every ICP criterion (1.0 with no open deal)."""
        return self.icp_fit_deals / self.open_deals if self.open_deals else 1.0

    def field_events(self) -> list[Detected]:
        """Each deviation as a ``governance_deviation`` field event, for detection to raise."""
        return [
            Detected(
                FieldEventKind.GOVERNANCE_DEVIATION,
                d.account_id,
                f"{d.rule}:{d.deal_id}",
                (),
                self.as_of,
                f"{d.rule}: {d.detail}",
                deal_id=d.deal_id,
                data={
                    "rule": d.rule,
                    "age_days": d.age_days,
                    "owner_id": d.owner_id,
                    "team_id": d.team_id,
                },
            )
            for d in self.deviations
        ]

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for d in self.deviations:
            counts[d.rule] += 1
        return dict(counts)


def deviations(session: Session, pack: CompiledPack, as_of: datetime) -> list[Deviation]:
    """Every governance deviation among the deals open at ``as_of``."""
    return governance_report(session, pack, as_of).deviations


def governance_report(session: Session, pack: CompiledPack, as_of: datetime) -> GovernanceReport:
    """Check every deal open at ``as_of`` against the pack's governance rules (cycle corridor,
    no contact, exit criteria, ICP), from memory, as ``revfield governance`` does."""
    g = pack.governance
    deals = open_deals(session, as_of)
    account_ids = sorted({d["account_id"] for d in deals})
    accounts = account_rows(session, account_ids)
    facts = fact_counts(session, account_ids)
    contacted = (
        last_contact(session, account_ids, g.contact_signal_kinds, as_of)
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
            last = contacted.get(deal["account_id"])
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
                if holds(c.condition, ctx) is not True
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


def _deal_context(
    account: Mapping[Any, Any], facts: Mapping[str, int], deal: Any, as_of: datetime
) -> dict[str, Any]:
    ctx = default_context()
    ctx["now"] = as_of
    if account:
        ctx["account"].update(account_values(account, facts, as_of))
    ctx["deal"].update(deal_values(deal, facts, as_of))
    return ctx
