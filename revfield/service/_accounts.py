"""Reading the field: ``GET /accounts/{id}`` (one account's memory and the chain behind each
action, as ``revfield account show`` prints it) and ``GET /governance`` (the deviations, as
``revfield governance``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from revfield.domain import Role
from revfield.memory import (
    AccountMemory,
    AccountNotFoundError,
    account_owner,
    find_account_id,
    recall,
)
from revfield.policies import governance_report
from revfield.service._auth import CurrentActor, require_role, sees_account
from revfield.service._errors import ApiError, error_responses
from revfield.service._state import Service, service
from revfield.service._storable import StorableText

__all__ = ["router"]

router = APIRouter(tags=["accounts"])

ServiceDep = Annotated[Service, Depends(service)]


@router.get(
    "/accounts/{account}", response_model=AccountMemory, responses=error_responses(401, 404, 422)
)
def get_account(
    account: Annotated[
        StorableText, Path(min_length=1, max_length=320, description="Id, domain or name.")
    ],
    actor: CurrentActor,
    svc: ServiceDep,
    signals: Annotated[int, Query(ge=0, le=500, description="Latest signals to include.")] = 20,
    actions: Annotated[int, Query(ge=0, le=200, description="Newest actions to trace.")] = 10,
) -> AccountMemory:
    """Everything the memory knows about one account the caller may see — contacts, deals,
    facts with their signals, the latest signals, the churn risk — and each action's chain:
    signal → facts → field event → decision → review answers → outbox result."""
    missing = ApiError(404, "not_found", f"no account `{account}` that you may see")
    with svc.store.read() as session:
        try:
            found = find_account_id(session, account)
        except AccountNotFoundError:
            raise missing from None  # its hints could name accounts outside the scope
        owner, team = account_owner(session, found)
        if not sees_account(actor, owner, team):
            raise missing
        return recall(session, found, signals=signals, actions=actions)


class DeviationOut(BaseModel):
    """An open deal that breaks a governance rule, with who should act."""

    rule: str = Field(description="`cycle-corridor`, `no-contact`, `exit-criteria`, `outside-icp`.")
    deal_id: str
    account_id: str
    owner_id: str | None
    team_id: str | None
    age_days: int
    detail: str


class GovernanceOut(BaseModel):
    """Governance deviations among the open deals at ``as_of`` (a manager: their team's),
    and ICP adherence over every open deal."""

    as_of: datetime
    scope: str = Field(description="`all`, or the manager's team.")
    open_deals: int = Field(description="Open deals in the whole field.")
    icp_fit_deals: int
    icp_adherence: float = Field(description="Share of open deals meeting every ICP criterion.")
    deviations: list[DeviationOut]


@router.get("/governance", response_model=GovernanceOut, responses=error_responses(401, 403, 422))
def get_governance(
    actor: CurrentActor,
    svc: ServiceDep,
    as_of: Annotated[
        datetime | None, Query(description="When to check (default: now); with a time zone.")
    ] = None,
    rule: Annotated[
        StorableText | None, Query(max_length=64, description="Only this rule.")
    ] = None,
) -> GovernanceOut:
    """Deals past their cycle corridor, uncontacted, in a stage reached without its exit
    criteria, or outside the ICP (for managers and RevOps)."""
    require_role(actor, Role.MANAGER, Role.REVOPS, what="governance")
    when = svc.clock.now() if as_of is None else as_of
    if when.tzinfo is None or when.utcoffset() is None:
        raise ApiError(
            422, "invalid_request", f"as_of `{when.isoformat()}` has no time zone; add `Z`"
        )
    with svc.store.read() as session:
        report = governance_report(session, svc.pack(), when)
    mine = actor.role == Role.MANAGER.value  # a manager: their team's deals
    return GovernanceOut(
        as_of=report.as_of,
        scope=(actor.team_id or "no team") if mine else "all",
        open_deals=report.open_deals,
        icp_fit_deals=report.icp_fit_deals,
        icp_adherence=report.icp_adherence,
        deviations=[
            DeviationOut(
                rule=d.rule,
                deal_id=d.deal_id,
                account_id=d.account_id,
                owner_id=d.owner_id,
                team_id=d.team_id,
                age_days=d.age_days,
                detail=d.detail,
            )
            for d in report.deviations
            if (not mine or (d.team_id is not None and d.team_id == actor.team_id))
            and (rule is None or d.rule == rule)
        ],
    )
