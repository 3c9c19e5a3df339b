"""The escalation agent: the model could not read a signal, so a person must — nothing is
guessed."""

from __future__ import annotations

from datetime import datetime

from revfield.agents._common import EventView, Proposal, fault
from revfield.domain import CustomerState, Motion
from revfield.llm import Model
from revfield.memory import AccountContext
from revfield.policies._load import CompiledPack

__all__ = ["propose"]


def propose(
    ctx: AccountContext, event: EventView, model: Model, pack: CompiledPack, now: datetime
) -> Proposal:
    motion = (
        Motion.ACQUISITION
        if ctx.account.customer_state is CustomerState.PROSPECT
        else Motion.RETENTION_EXPANSION
    )
    reason = str(event.data.get("error") or event.detail)
    return fault(event, "detection", reason, model.name, motion)
