"""What an agent is: a name, the field events it handles and a proposer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from revfield.agents._common import EventView, Proposal
from revfield.agents._playbook import Playbook
from revfield.errors import RevfieldError
from revfield.llm import Model
from revfield.memory import AccountMemory
from revfield.route import Handles

__all__ = ["AgentError", "AgentSpec", "Proposer"]


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


class AgentError(RevfieldError):
    """An installed agent can't be used: its entry point fails to load or is not an
    :class:`AgentSpec`, or two agents share a name."""


@dataclass(frozen=True)
class AgentSpec:
    """An agent: its name, the field events it handles and its proposer.

    ``handles`` is what the router reads (event kinds × customer states); the first agent
    that handles an event gets it, built-in agents first, so a plug-in that wants an event a
    built-in agent handles asks the pack to turn that one off (``agents: {outreach:
    {enabled: false}}``)."""

    name: str
    propose: Proposer
    handles: tuple[Handles, ...]
    description: str = ""
    closed_deals: int = 0
    """How many closed deals of the account the agent reads (the handover reads 3)."""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.islower() or len(self.name) > 32:
            raise AgentError(
                f"agent name `{self.name}`: use lowercase letters, digits and _ (≤ 32)"
            )
        if isinstance(self.handles, Handles):
            object.__setattr__(self, "handles", (self.handles,))
        if not callable(self.propose):
            raise AgentError(f"agent `{self.name}`: `propose` is not callable")
