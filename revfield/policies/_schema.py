"""The policy pack as RevOps writes it: validated by pydantic at load.

A pack is one or more YAML files in a folder (``policies/*.yaml``; ``policies/tests/`` holds
policy tests). ``rules``, ``definitions`` and ``capabilities`` may be split across files;
every other section appears in exactly one file.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from revfield.agents import Capability
from revfield.detect import DetectionSpec
from revfield.domain import ActionKindSpec, Verdict

__all__ = [
    "AgentSettings",
    "ExitCriterion",
    "Governance",
    "Guardrails",
    "IcpCriterion",
    "PackSpec",
    "ReviewSpec",
    "RuleSpec",
    "Rung",
    "StageSpec",
    "Verdict",
    "VerdictName",
]

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]


VerdictName = Literal["auto", "review", "escalate", "block"]
"""A verdict as RevOps writes it in a pack."""
Rung = Literal["owner", "manager", "revops"]
"""A rung of the review ladder: who answers a review item."""
DEFAULT_LADDER: tuple[Rung, ...] = ("owner", "manager", "revops")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Spec):
    id: RuleId
    """Stable id shown in the inbox, decisions and errors, e.g. ``big-discount``."""
    when: str = Field(min_length=1)
    """CEL condition over the decision context; compiled once at load."""
    decision: VerdictName
    reason: str = Field(min_length=1, max_length=300)
    """One line a seller reads in the inbox: why this rule exists."""
    escalate_to: Rung | None = None
    """Who answers an ``escalate`` (default: the next rung of the review ladder)."""


class ReviewSpec(_Spec):
    deadline_hours: float = Field(default=24, gt=0, le=24 * 30)
    ladder: list[Rung] = Field(default_factory=lambda: list(DEFAULT_LADDER), min_length=1)


class ContactFatigue(_Spec):
    """Touches per contact across both motions, whoever sends them."""

    max_touches: int = Field(ge=0)
    window_days: int = Field(ge=1, le=365)
    action_kinds: list[str] = Field(default_factory=lambda: ["send_email"])
    """Which proposed actions are touches."""
    signal_kinds: list[str] = Field(default_factory=lambda: ["email_sent"])
    """Which recorded signals are touches (sent by people or other tools)."""
    at_least: VerdictName = "review"


class AccountCap(_Spec):
    """Touches per account (all its contacts), across both motions."""

    max_touches: int = Field(ge=0)
    window_days: int = Field(ge=1, le=365)
    action_kinds: list[str] = Field(default_factory=lambda: ["send_email"])
    signal_kinds: list[str] = Field(default_factory=lambda: ["email_sent"])
    at_least: VerdictName = "review"


class MotionBudget(_Spec):
    """Automated actions per motion per day; beyond it, actions wait for a person."""

    max_auto_per_day: int = Field(ge=0)
    at_least: VerdictName = "review"


class CounterMetric(_Spec):
    """A balance rule: when it holds, the decision is at least ``at_least``."""

    id: RuleId
    when: str = Field(min_length=1)
    at_least: VerdictName
    reason: str = Field(min_length=1, max_length=300)


class RetentionFirst(_Spec):
    """An open churn risk suppresses expansion pushes until a save play is answered."""

    expansion_kinds: list[str] = Field(default_factory=lambda: ["create_expansion_opportunity"])
    at_least: VerdictName = "block"


class Guardrails(_Spec):
    contact_fatigue: ContactFatigue | None = None
    account_cap: AccountCap | None = None
    motion_budgets: dict[Literal["acquisition", "retention_expansion"], MotionBudget] = Field(
        default_factory=dict
    )
    counter_metrics: list[CounterMetric] = Field(default_factory=list)
    retention_first: RetentionFirst | None = None


class ExitCriterion(_Spec):
    id: RuleId
    when: str = Field(min_length=1)
    """CEL over the decision context (usually ``deal`` and ``account.facts``)."""
    description: str = ""


class StageSpec(_Spec):
    id: RuleId
    exit_criteria: list[ExitCriterion] = Field(default_factory=list)
    """What must hold before a deal may leave this stage."""


class IcpCriterion(_Spec):
    id: RuleId
    when: str = Field(min_length=1)
    description: str = ""


class Governance(_Spec):
    stages: list[StageSpec] = Field(default_factory=list)
    """The sales stages in order; closed stages need not be listed."""
    cycle_corridor_days: dict[str, int] = Field(default_factory=dict)
    """Longest acceptable age of an open deal, in days, per segment (``smb``, …, ``default``)."""
    no_contact_days: int | None = Field(default=None, ge=1)
    contact_signal_kinds: list[str] = Field(
        default_factory=lambda: [
            "email_sent",
            "email_replied",
            "meeting_booked",
            "meeting_held",
            "call_transcript",
        ]
    )
    icp: list[IcpCriterion] = Field(default_factory=list)

    @field_validator("cycle_corridor_days")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for segment, days in value.items():
            if days < 1:
                raise ValueError(f"`{segment}`: a corridor must be at least 1 day, got {days}")
        return value


AgentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class AgentSettings(_Spec):
    """One agent as the pack wants it: on or off, and the settings it reads (the deal desk's
    discount range…)."""

    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class PackSpec(_Spec):
    """A whole policy pack, after its files are merged."""

    version: int = 1
    """The pack *format* version. The policy version recorded on decisions is a hash."""
    default: VerdictName = "review"
    """The decision when no rule matches."""
    definitions: dict[str, str] = Field(default_factory=dict)
    """Named CEL conditions that rules may use by name (``big_deal``)."""
    rules: list[RuleSpec] = Field(default_factory=list)
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    governance: Governance = Field(default_factory=Governance)
    detection: DetectionSpec = Field(default_factory=DetectionSpec)
    capabilities: list[Capability] = Field(default_factory=list)
    actions: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")], ActionKindSpec
    ] = Field(default_factory=dict)
    """Action kinds the pack adds to the built-in ones, with their typed payload fields."""
    agents: dict[AgentName, AgentSettings] = Field(default_factory=dict)
    """Agents turned on or off (every installed agent acts unless turned off here), and the
    settings each reads."""

    @field_validator("definitions")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", name):
                raise ValueError(
                    f"`{name}` is not a valid definition name (lowercase letters, digits, _)"
                )
        return value
