"""Actions proposed outside revfield (``Field.submit``, ``revfield submit``, a governed tool):
the "agent" returns the action as it was submitted, so it takes the same path as an agent's
proposal — decision, guardrails, the review ladder, the outbox, the audit trail."""

from __future__ import annotations

from datetime import datetime

from revfield.agents._common import EventView, Proposal
from revfield.agents._playbook import Playbook
from revfield.agents._spec import AgentSpec
from revfield.domain import FieldEventKind, ProposedAction
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Handles

__all__ = ["AGENT", "propose"]


def propose(
    memory: AccountMemory, event: EventView, model: Model, playbook: Playbook, now: datetime
) -> Proposal:
    """The submitted action, stored with its field event."""
    action = ProposedAction.model_validate(
        {**event.data["action"], "field_event_id": event.id, "account_id": event.account_id}
    )
    return Proposal([action], {"submitted_by": event.data.get("source", "")})


AGENT = AgentSpec(
    name="submitted",
    propose=propose,
    handles=(Handles.of([FieldEventKind.ACTION_SUBMITTED]),),
    description="Actions proposed outside revfield, put through the same path.",
)
