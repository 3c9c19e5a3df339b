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
    """One fact read from a signal's text (a pain, a promise, a champion, a competitor…), with
    the exact words it comes from; detection drops it if ``span`` is not in the text."""

    type: FactType
    value: Short
    """The fact in a few words (``forecast misses by 20% each quarter``)."""
    span: Annotated[str, StringConstraints(max_length=600)]
    """The exact words of the text the fact was read from."""
    subject: Short | None = None
    """What it is about (``budget``, ``champion``, a competitor's name), for supersession."""
    confidence: float = Field(ge=0, le=1)
    """How sure the model is, from 0 to 1; stored with the fact."""


class FactExtraction(_Output):
    """The facts a revenue team must remember, read from one signal's text (none is a valid
    answer)."""

    facts: list[ExtractedFact] = Field(max_length=25)


class ReplyIntent(StrEnum):
    """What a reply to a sales email means; detection raises a ``positive_reply`` or an
    ``objection`` field event, or marks the contact do-not-contact on an unsubscribe."""

    POSITIVE = "positive"
    OBJECTION = "objection"
    UNSUBSCRIBE = "unsubscribe"
    OUT_OF_OFFICE = "out_of_office"
    NEUTRAL = "neutral"


class ReplyClassification(_Output):
    """The model's reading of one reply: its intent, how sure it is, and why."""

    intent: ReplyIntent
    confidence: float = Field(ge=0, le=1)
    """From 0 to 1; the policy pack reads it as ``model.confidence``."""
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
    """What an agent asks the model to write: the purpose, who writes to whom, and the only
    facts and signals the draft may use (each with the id a claim cites)."""

    purpose: Short
    """``follow_up``, ``save_play``, ``expansion``, ``check_in``…"""
    account_name: Short
    recipient_name: Short
    sender_name: Short
    items: list[CitedItem] = Field(max_length=40)
    """The facts and signals from memory the draft may use; nothing else."""


class DraftClaim(_Output):
    """A personal claim in a draft and the ids that support it. A claim that cites nothing,
    or an id that was not offered, counts as uncited (the ``uncited-claims`` rule)."""

    text: Short
    """A personal claim the draft makes (``you said the board wants one forecast``)."""
    cites: list[int] = Field(max_length=10)
    """Ids of the facts or signals that support it."""


class Draft(_Output):
    """An email written from memory: subject, body, and every personal claim it makes with
    the facts or signals it cites."""

    subject: Short
    body: Annotated[str, StringConstraints(max_length=4000)]
    claims: list[DraftClaim] = Field(max_length=20)
    """Every personal claim in the body; the policy counts those without a valid citation."""


class HandoverRequest(_Output):
    """What the onboarding handover asks the model to summarise: the account's acquisition
    facts and signals, each with its id."""

    account_name: Short
    items: list[CitedItem] = Field(max_length=100)


class HandoverSummary(_Output):
    """The handover brief's prose for the onboarding team: what was learned while selling
    (pains, promises, stakeholders, champion, competitors, success criteria, timeline)."""

    summary: Annotated[str, StringConstraints(max_length=2000)]
    highlights: list[Short] = Field(max_length=10)
    """A few short points to read first."""


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
