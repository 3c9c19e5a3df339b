"""The field router: a field event goes to an agent chosen by the account's customer state and
the event's kind — never by team. Pure; the table below is the whole policy."""

from __future__ import annotations

from enum import StrEnum

from revfield.domain import CustomerState
from revfield.domain import FieldEventKind as K

__all__ = ["Agent", "route"]


class Agent(StrEnum):
    """The agent a field event goes to, chosen by :func:`route` from the account's customer
    state and the event's kind (never by team)."""

    OUTREACH = "outreach"
    """Acquisition: prospects (and churned accounts worth winning back)."""
    HANDOVER = "handover"
    """Onboarding handover, on closed-won."""
    EXPANSION_RETENTION = "expansion_retention"
    """Customers: expansion opportunities and save plays, retention first."""
    ESCALATION = "escalation"
    """No agent can act (the model could not read a signal): straight to a person."""


P, C, X = CustomerState.PROSPECT, CustomerState.CUSTOMER, CustomerState.CHURNED
ACQUISITION = {
    K.INTENT_SURGE,
    K.POSITIVE_REPLY,
    K.OBJECTION,
    K.MEETING_BOOKED,
    K.GOVERNANCE_DEVIATION,
}
CUSTOMER_EVENTS = {
    K.USAGE_NEAR_LIMIT,
    K.SEAT_GROWTH,
    K.CHURN_RISK,
    K.TICKET_CLUSTER,
    K.CHAMPION_LEFT,
    K.NPS_DETRACTOR,
    K.INACTIVITY,
    K.INTENT_SURGE,
    K.POSITIVE_REPLY,
    K.OBJECTION,
    K.MEETING_BOOKED,
    K.GOVERNANCE_DEVIATION,
}
TRIAL_EVENTS = {K.USAGE_NEAR_LIMIT, K.SEAT_GROWTH, K.TICKET_CLUSTER}
"""Product signals from a prospect (a trial): reasons to reach out, not to expand."""
WIN_BACK = {K.INTENT_SURGE, K.POSITIVE_REPLY, K.MEETING_BOOKED}


def route(kind: K, state: CustomerState | str) -> Agent | None:
    """Which agent acts on this event, or None when no agent should (the memory update is
    the whole effect, as for an unsubscribe)."""
    state = CustomerState(state)
    if kind is K.MODEL_FAULT:
        return Agent.ESCALATION
    if kind is K.CLOSED_WON:
        return Agent.HANDOVER
    if state is P and (kind in ACQUISITION or kind in TRIAL_EVENTS):
        return Agent.OUTREACH
    if state is C and kind in CUSTOMER_EVENTS:
        return Agent.EXPANSION_RETENTION
    if state is X and kind in WIN_BACK:
        return Agent.OUTREACH
    return None
