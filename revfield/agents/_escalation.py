"""The escalation agent: the model could not read a signal, so a person must — nothing is
guessed."""

from __future__ import annotations

from datetime import datetime

from revfield.agents._common import EventView, Proposal, fault
from revfield.agents._playbook import Playbook
from revfield.domain import CustomerState, Motion
from revfield.llm import Model
from revfield.memory import AccountMemory

__all__ = ["propose"]


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    motion = (
        Motion.ACQUISITION
        if memory.account.customer_state is CustomerState.PROSPECT
        else Motion.RETENTION_EXPANSION
    )
    reason = str(event.data.get("error") or event.detail)
    return fault(event, "detection", reason, model.name, motion)
