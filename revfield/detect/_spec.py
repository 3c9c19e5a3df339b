"""The thresholds of the detection rules, as RevOps sets them in the pack's ``detection:``
section (validated when the pack loads)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DetectionSpec",
    "Inactivity",
    "IntentSurge",
    "NpsDetractor",
    "RiskRecovery",
    "SeatGrowth",
    "TicketCluster",
    "UsageNearLimit",
]


class _Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsageNearLimit(_Threshold):
    ratio: float = Field(default=0.8, gt=0, le=1)
    """Raise when usage reaches this share of the limit."""
    window_days: int = Field(default=30, ge=1, le=365)
    plan_limits: dict[str, float] = Field(default_factory=dict)
    """Usage the plan includes per window (sum of ``product_usage`` counts), by plan name."""


class SeatGrowth(_Threshold):
    min_growth_pct: float = Field(default=20, gt=0)
    near_limit_ratio: float = Field(default=0.9, gt=0, le=1)


class IntentSurge(_Threshold):
    min_score: float = Field(default=60, ge=0, le=100)
    min_lift: float = Field(default=20, ge=0, le=100)
    """How far above its baseline a score must be."""


class Inactivity(_Threshold):
    days: int = Field(default=21, ge=1)
    """A customer with no product usage for this many days has gone quiet…"""
    lookback_days: int = Field(default=90, ge=1)
    """…if it was active within this many days (long-dead accounts are not news)."""


class TicketCluster(_Threshold):
    count: int = Field(default=3, ge=2)
    window_days: int = Field(default=14, ge=1)


class NpsDetractor(_Threshold):
    max_score: int = Field(default=6, ge=0, le=10)


class RiskRecovery(_Threshold):
    """Signals that resolve an account's churn risk by themselves (off when unset)."""

    nps_promoter_min: int | None = Field(default=9, ge=0, le=10)
    """An NPS answer at or above this resolves the risk."""
    usage_ratio: float | None = Field(default=None, gt=0, le=1)
    """Product usage in the usage window back at this share of the plan's limit resolves it."""


class DetectionSpec(_Threshold):
    """Thresholds of the detection rules over structured signals."""

    cooldown_days: int = Field(default=14, ge=0)
    """The same situation (account, kind, key) is not raised again within this many days."""
    usage_near_limit: UsageNearLimit = Field(default_factory=UsageNearLimit)
    seat_growth: SeatGrowth = Field(default_factory=SeatGrowth)
    intent_surge: IntentSurge = Field(default_factory=IntentSurge)
    inactivity: Inactivity = Field(default_factory=Inactivity)
    ticket_cluster: TicketCluster = Field(default_factory=TicketCluster)
    nps_detractor: NpsDetractor = Field(default_factory=NpsDetractor)
    recovery: RiskRecovery = Field(default_factory=RiskRecovery)
