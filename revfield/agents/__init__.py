"""The agents' cores: pure proposers. Each reads one account's memory and one field event and
proposes actions, drafting with the model from memory only (every claim cites a fact or a
signal). Agents never write, send or decide: the field records what they propose, the policy
layer decides on it, and only the outbox acts.
"""

from revfield.agents._common import EventView, Proposal, check_draft, fault
from revfield.agents._playbook import Capability, Playbook, check_promise
from revfield.agents._registry import GROUP, build_router, discover_agents
from revfield.agents._spec import AgentError, AgentSpec, Proposer

__all__ = [
    "GROUP",
    "AgentError",
    "AgentSpec",
    "Capability",
    "EventView",
    "Playbook",
    "Proposal",
    "Proposer",
    "build_router",
    "check_draft",
    "check_promise",
    "discover_agents",
    "fault",
]
