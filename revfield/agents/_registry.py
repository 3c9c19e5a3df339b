"""Which proposer each agent runs, and the shape every proposer has."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from revfield.agents import _escalation, _expansion, _handover, _outreach
from revfield.agents._common import EventView, Proposal
from revfield.agents._playbook import Playbook
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Agent

__all__ = ["PROPOSERS", "Proposer"]


class Proposer(Protocol):
    """An agent's core: pure, it reads the account's memory and the event and proposes
    actions. It never writes, sends or decides (the field records, the policy decides)."""

    def __call__(
        self,
        memory: AccountMemory,
        event: EventView,
        model: Model,
        playbook: Playbook,
        now: datetime,
    ) -> Proposal: ...


PROPOSERS: dict[Agent, Proposer] = {
    Agent.OUTREACH: _outreach.propose,
    Agent.HANDOVER: _handover.propose,
    Agent.EXPANSION_RETENTION: _expansion.propose,
    Agent.ESCALATION: _escalation.propose,
}
"""The proposer of each built-in agent."""
