"""The thresholds of the detection rules, as RevOps sets them in the pack's ``detection:``
section (validated when the pack loads)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "PRICING_WORDS",
    "DetectionSpec",
    "Inactivity",
    "IntentSurge",
    "NpsDetractor",
    "PricingObjection",
    "Renewal",
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


PRICING_WORDS = (
    "price",
    "prices",
    "priced",
    "pricey",
    "pricing",
    "budget",
    "budgets",
    "cost",
    "costs",
    "costly",
    "expensive",
    "discount",
    "discounts",
    "afford",
    "affordable",
    "cheaper",
    "too much",
)
"""Words (or phrases of words) that make an objection a pricing objection, by default."""

_WORD = re.compile(r"\w+(?:'\w+)?")


def words_of(text: str) -> tuple[str, ...]:
    """The words of ``text``, lower-cased: what a pricing word or phrase is matched against."""
    return tuple(_WORD.findall(text.casefold()))


class PricingObjection(_Threshold):
    """When an objection is about price: a reply classified as an objection, or an objection
    a conversation's facts quote, that contains one of these words or phrases (whole words,
    any case; ``too much`` matches the two words in a row). Signal text is only matched
    against the list, never interpreted."""

    words: tuple[str, ...] = Field(default=PRICING_WORDS, min_length=1)

    @field_validator("words")
    @classmethod
    def _words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in value:
            parts = words_of(item)
            if not parts or " ".join(parts) != " ".join(item.casefold().split()):
                raise ValueError(f"`{item}` is not a word or words separated by spaces")
            out.append(" ".join(parts))
        return tuple(out)

    def matches(self, text: str) -> str | None:
        """The first listed word or phrase ``text`` contains, or None."""
        padded = f" {' '.join(words_of(text))} "
        return next((w for w in self.words if f" {w} " in padded), None)


class Renewal(_Threshold):
    """Renewal field events from subscription end dates."""

    notice_days: int = Field(default=60, ge=1, le=730)
    """Raise ``renewal_due`` (and ``renewal_at_risk`` while a churn risk is open) when the
    account's subscription ends within this many days."""


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
    pricing_objection: PricingObjection = Field(default_factory=PricingObjection)
    renewal: Renewal = Field(default_factory=Renewal)
