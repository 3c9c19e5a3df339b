"""The field router: a field event goes to an agent chosen by the account's customer state and
the event's kind — never by team. Pure.

Each agent declares what it handles (:class:`Handles`: event kinds × customer states); the
router is the table those declarations make, in the order the agents are given (the first
agent that handles an event gets it). ``revfield.agents.build_router`` makes it from the
installed agents and the pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from revfield.domain import CustomerState

__all__ = ["ALL_STATES", "Agent", "Handles", "Router"]


class Agent(StrEnum):
    """The built-in agents' names."""

    OUTREACH = "outreach"
    """Acquisition: prospects (and churned accounts worth winning back)."""
    HANDOVER = "handover"
    """Onboarding handover, on closed-won."""
    EXPANSION_RETENTION = "expansion_retention"
    """Customers: expansion opportunities and save plays, retention first."""
    DEAL_DESK = "deal_desk"
    """Pricing objections and renewals at risk: a discount within the pack's range."""
    ESCALATION = "escalation"
    """No agent can act (the model could not read a signal): straight to a person."""
    SUBMITTED = "submitted"
    """Actions proposed outside revfield (``Field.submit``, ``revfield submit``)."""


ALL_STATES = frozenset(CustomerState)


@dataclass(frozen=True)
class Handles:
    """Which field events an agent acts on: every pair of ``events`` × ``states``."""

    events: frozenset[str]
    states: frozenset[CustomerState] = ALL_STATES

    @classmethod
    def of(
        cls, events: Iterable[str], states: Iterable[CustomerState | str] = ALL_STATES
    ) -> Handles:
        """From plain names (``Handles.of(["objection"], ["prospect"])``)."""
        return cls(frozenset(str(e) for e in events), frozenset(CustomerState(s) for s in states))

    def __contains__(self, pair: tuple[str, CustomerState]) -> bool:
        return pair[0] in self.events and pair[1] in self.states


class Router:
    """The routing table the agents' declarations make: ``(event kind, customer state)`` →
    the first agent (in the order given) that handles it."""

    def __init__(self, handles: Mapping[str, Iterable[Handles]]) -> None:
        self.handles = {name: tuple(hs) for name, hs in handles.items()}

    @property
    def agents(self) -> tuple[str, ...]:
        """The agents this router may choose, in routing order."""
        return tuple(self.handles)

    def route(self, kind: str, state: CustomerState | str) -> str | None:
        """Which agent acts on this event, or None when no agent should (the memory update
        is the whole effect, as for an unsubscribe)."""
        pair = (str(kind), CustomerState(state))
        for name, hs in self.handles.items():
            if any(pair in h for h in hs):
                return name
        return None
