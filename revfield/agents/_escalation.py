"""The escalation agent: the model could not read a signal, so a person must — nothing is
guessed."""

from __future__ import annotations

from datetime import datetime

from revfield.agents._common import EventView, Proposal, fault
from revfield.agents._playbook import Playbook
from revfield.agents._spec import AgentSpec
from revfield.domain import FieldEventKind, Motion
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Handles

__all__ = ["AGENT", "propose"]


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    reason = str(event.data.get("error") or event.detail)
    return fault(
        event, "detection", reason, model.name, Motion.of_state(memory.account.customer_state)
    )


AGENT = AgentSpec(
    name="escalation",
    propose=propose,
    handles=(Handles.of([FieldEventKind.MODEL_FAULT]),),
    description="The model could not read a signal: straight to a person.",
)
