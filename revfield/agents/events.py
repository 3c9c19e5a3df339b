"""Field events and what detection produces: plain values, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from revfield.memory.types import FactType

__all__ = ["Detected", "Effect", "FactDraft", "FieldEventKind"]


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
class Effect:
    """A change detection makes to memory (kept as data until the runner applies it)."""

    kind: str
    """``do_not_contact`` (contact_id), ``became_customer`` (account_id), ``deal_closed``
    (deal_id, stage, outcome, at)."""
    target: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Detected:
    """A field event detection wants to raise, before de-duplication. ``kind`` None means no
    event, only effects on memory (a deal lost)."""

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
