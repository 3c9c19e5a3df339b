"""The agents' cores: pure proposers. Each reads one account's memory and one field event and
proposes actions, drafting with the model from memory only (every claim cites a fact or a
signal). Agents never write, send or decide: the field records what they propose, the policy
layer decides on it, and only the outbox acts.
"""

from revfield.agents._common import EventView, Proposal, check_draft, fault
from revfield.agents._playbook import Capability, Playbook, check_promise
from revfield.agents._registry import PROPOSERS, Proposer

__all__ = [
    "PROPOSERS",
    "Capability",
    "EventView",
    "Playbook",
    "Proposal",
    "Proposer",
    "check_draft",
    "check_promise",
    "fault",
]
