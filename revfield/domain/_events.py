"""Field events and what detection produces: plain values, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from revfield.domain._vocabulary import DealOutcome, FactType

__all__ = [
    "BecameCustomer",
    "DealClosed",
    "DealMoved",
    "Detected",
    "DoNotContact",
    "Effect",
    "FactDraft",
    "FieldEventKind",
    "RiskRecovered",
]


class FieldEventKind(StrEnum):
    """A situation worth acting on (SPEC §2)."""

    INTENT_SURGE = "intent_surge"
    POSITIVE_REPLY = "positive_reply"
    OBJECTION = "objection"
    UNSUBSCRIBE = "unsubscribe"
    MEETING_BOOKED = "meeting_booked"
    CLOSED_WON = "closed_won"
    USAGE_NEAR_LIMIT = "usage_near_limit"
    SEAT_GROWTH = "seat_growth"
    CHURN_RISK = "churn_risk"
    TICKET_CLUSTER = "ticket_cluster"
    CHAMPION_LEFT = "champion_left"
    NPS_DETRACTOR = "nps_detractor"
    INACTIVITY = "inactivity"
    GOVERNANCE_DEVIATION = "governance_deviation"
    MODEL_FAULT = "model_fault"
    """The model could not read a signal: a person must (escalated, never guessed)."""
    PRICING_OBJECTION = "pricing_objection"
    """An objection about price, budget or cost: the deal desk's."""
    RENEWAL_DUE = "renewal_due"
    """A subscription ends within the pack's notice period."""
    RENEWAL_AT_RISK = "renewal_at_risk"
    """A subscription ends within the notice period while a churn risk is open."""
    ACTION_SUBMITTED = "action_submitted"
    """An action proposed outside revfield, put through the same path as an agent's."""


@dataclass(frozen=True, slots=True)
class FactDraft:
    """A fact to record, with its provenance."""

    type: FactType
    value: str
    source_signal_id: int
    observed_at: datetime
    confidence: float
    subject: str | None = None
    span: str | None = None
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class DoNotContact:
    """The contact can't be contacted any more: they asked not to be (an unsubscribe), or
    they left the company (their address reaches nobody)."""

    kind: ClassVar[str] = "do_not_contact"
    contact_id: int


@dataclass(frozen=True, slots=True)
class BecameCustomer:
    """A prospect account closed a deal: it is a customer now."""

    kind: ClassVar[str] = "became_customer"
    account_id: str


@dataclass(frozen=True, slots=True)
class DealClosed:
    """An open deal was closed, won or lost, at ``at``."""

    kind: ClassVar[str] = "deal_closed"
    deal_id: str
    stage: str
    outcome: DealOutcome
    at: datetime


@dataclass(frozen=True, slots=True)
class DealMoved:
    """The CRM moved an open deal to another stage at ``at`` (won or lost is
    :class:`DealClosed`). A move older than the deal's current stage changes nothing; the
    governance sweep then checks the exit criteria the move skipped."""

    kind: ClassVar[str] = "deal_moved"
    deal_id: str
    stage: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RiskRecovered:
    """Signals the pack counts as recovery (a promoter NPS, usage back up): the account's
    churn risk is resolved, with the reason."""

    kind: ClassVar[str] = "risk_recovered"
    account_id: str
    reason: str


Effect = DoNotContact | BecameCustomer | DealClosed | DealMoved | RiskRecovered
"""A change detection makes to memory, kept as data until the detection run applies it."""


@dataclass(frozen=True)
class Detected:
    """A field event detection wants to raise, before de-duplication. ``kind`` None means no
    event, only effects on memory (a deal lost) or facts to remember."""

    kind: FieldEventKind | None
    account_id: str
    key: str
    signal_ids: tuple[int, ...]
    occurred_at: datetime
    detail: str
    contact_id: int | None = None
    deal_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[FactDraft, ...] = ()
    effects: tuple[Effect, ...] = ()
