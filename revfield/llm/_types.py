"""What the model returns: pydantic models, strict (no extra fields), used as structured
outputs by the OpenAI adapter and returned as-is by the offline model.

None of these types has a field for a decision, a policy, a tool or a recipient: nothing a
model says can set one. Recipients come from memory, decisions from the policy pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from revfield.domain import FactType

__all__ = [
    "CallRecord",
    "CitedItem",
    "Draft",
    "DraftClaim",
    "DraftRequest",
    "ExtractedFact",
    "FactExtraction",
    "HandoverRequest",
    "HandoverSummary",
    "ReplyClassification",
    "ReplyIntent",
]

Short = Annotated[str, StringConstraints(max_length=300)]


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExtractedFact(_Output):
    type: FactType
    value: Short
    """The fact in a few words (``forecast misses by 20% each quarter``)."""
    span: Annotated[str, StringConstraints(max_length=600)]
    """The exact words of the text the fact was read from."""
    subject: Short | None = None
    """What it is about (``budget``, ``champion``, a competitor's name), for supersession."""
    confidence: float = Field(ge=0, le=1)


class FactExtraction(_Output):
    facts: list[ExtractedFact] = Field(max_length=25)


class ReplyIntent(StrEnum):
    POSITIVE = "positive"
    OBJECTION = "objection"
    UNSUBSCRIBE = "unsubscribe"
    OUT_OF_OFFICE = "out_of_office"
    NEUTRAL = "neutral"


class ReplyClassification(_Output):
    intent: ReplyIntent
    confidence: float = Field(ge=0, le=1)
    reason: Short
    """Why, in a few words a seller can check against the reply."""


class CitedItem(_Output):
    """A fact or signal the model may use; drafts cite these ids."""

    id: int
    source: str
    """``fact`` or ``signal``."""
    type: str
    text: Annotated[str, StringConstraints(max_length=600)]


class DraftRequest(_Output):
    purpose: Short
    """``follow_up``, ``save_play``, ``expansion``, ``check_in``…"""
    account_name: Short
    recipient_name: Short
    sender_name: Short
    items: list[CitedItem] = Field(max_length=40)


class DraftClaim(_Output):
    text: Short
    """A personal claim the draft makes (``you said the board wants one forecast``)."""
    cites: list[int] = Field(max_length=10)
    """Ids of the facts or signals that support it."""


class Draft(_Output):
    subject: Short
    body: Annotated[str, StringConstraints(max_length=4000)]
    claims: list[DraftClaim] = Field(max_length=20)


class HandoverRequest(_Output):
    account_name: Short
    items: list[CitedItem] = Field(max_length=100)


class HandoverSummary(_Output):
    summary: Annotated[str, StringConstraints(max_length=2000)]
    highlights: list[Short] = Field(max_length=10)


@dataclass(frozen=True)
class CallRecord:
    """One model call, as recorded for cost and eval reports."""

    operation: str
    backend: str
    model: str
    ok: bool
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""
