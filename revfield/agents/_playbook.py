"""What agents know of the policy pack: the order of the sales stages, the product's
capability catalog and each agent's settings. Nothing else of the pack reaches an agent:
agents propose, the policy layer decides."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["Capability", "Playbook", "check_promise"]

CapabilityId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]


class Capability(BaseModel):
    """Something the product does; handover checks every promise against this catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CapabilityId
    name: str
    keywords: list[str] = Field(min_length=1)
    """Words or phrases that mean this capability when a promise mentions them."""
    supported: bool = True

    @field_validator("keywords")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [re.sub(r"\s+", " ", k.strip().lower()) for k in value]


@dataclass(frozen=True)
class Playbook:
    """The part of the policy pack agents may read."""

    stages: tuple[str, ...] = ()
    """The pack's sales stages, in order (the outreach agent proposes the next one)."""
    capabilities: tuple[Capability, ...] = ()
    """What the product does (the handover agent checks promises against it)."""
    agent_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each agent's settings from the pack's ``agents:`` section (the deal desk's range…)."""

    def settings(self, agent: str) -> Mapping[str, Any]:
        """The settings the pack gives agent ``agent`` (empty when it gives none)."""
        return self.agent_settings.get(agent, {})

    def next_stage(self, stage: str) -> str | None:
        """The stage after ``stage``, or None at the last stage or for an unknown one."""
        if stage not in self.stages:
            return None
        i = self.stages.index(stage) + 1
        return self.stages[i] if i < len(self.stages) else None


def check_promise(text: str, catalog: Sequence[Capability]) -> dict[str, Any]:
    """Which capability a promise names, and whether the product supports it. A promise that
    names several is as good as the worst of them: an unsupported one wins ("the Salesforce
    sync, on-prem" is an on-prem promise)."""
    low = " " + re.sub(r"\s+", " ", text.lower()) + " "
    found: dict[str, Any] | None = None
    for cap in catalog:
        for kw in cap.keywords:
            if re.search(r"(?<![\w])" + re.escape(kw) + r"(?![\w])", low):
                status = "supported" if cap.supported else "unsupported"
                match = {"capability": cap.id, "name": cap.name, "status": status, "keyword": kw}
                if not cap.supported:
                    return match
                found = found or match
                break
    if found is not None:
        return found
    return {"capability": None, "name": None, "status": "unknown", "keyword": None}
