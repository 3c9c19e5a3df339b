"""What an agent proposes, and what the policy layer makes of it. Agents produce these values
and never act themselves; the policy layer decides on each, and only the outbox acts, for
``auto`` or approved actions."""

from __future__ import annotations

import hashlib
import json
import re
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "EDITABLE",
    "ActionKind",
    "Motion",
    "ProposedAction",
    "Verdict",
    "idempotency_key",
    "waited_in_vain",
]

EDITABLE = ("subject", "body", "discount_pct", "amount", "to_stage", "channel")
"""Fields a reviewer may change when approving (the policy decides on the edited action again)."""


class ActionKind(StrEnum):
    """What an action does once carried out."""

    SEND_EMAIL = "send_email"
    SCHEDULE_FOLLOWUP = "schedule_followup"
    CREATE_TASK = "create_task"
    ADVANCE_STAGE = "advance_stage"
    HANDOVER_BRIEF = "handover_brief"
    CREATE_EXPANSION_OPPORTUNITY = "create_expansion_opportunity"
    OFFER_DISCOUNT = "offer_discount"
    SAVE_PLAY = "save_play"
    NOTIFY = "notify"


class Motion(StrEnum):
    """The two directions of one field."""

    ACQUISITION = "acquisition"
    RETENTION_EXPANSION = "retention_expansion"

    @classmethod
    def of_state(cls, customer_state: str) -> Motion:
        """The motion an account's customer state puts an action in when nothing else says:
        a prospect's is acquisition, a customer's (or a churned account's) retention &
        expansion."""
        return cls.ACQUISITION if customer_state == "prospect" else cls.RETENTION_EXPANSION


class Verdict(IntEnum):
    """What happens to a proposed action, ordered: the most restrictive verdict wins."""

    AUTO = 0
    REVIEW = 1
    ESCALATE = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        """The verdict as RevOps writes it in a pack: ``auto``, ``review``…"""
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Verdict:
        """A verdict from its label (any case) or itself; ``ValueError`` names the choices."""
        if isinstance(value, Verdict):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        raise ValueError(f"unknown decision `{value}`; one of auto, review, escalate, block")


class ProposedAction(BaseModel):
    """An action an agent proposes, with what justifies it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    """A built-in :class:`ActionKind` or a kind the policy pack declares (``actions:``)."""
    motion: Motion
    account_id: str
    contact_id: int | None = None
    deal_id: str | None = None
    channel: str = ""
    subject: str = ""
    body: str = ""
    discount_pct: float = Field(default=0.0, ge=0, le=100)
    amount: float = Field(default=0.0, ge=0)
    to_stage: str = ""
    tags: list[str] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    confidence: float = Field(default=1.0, ge=0, le=1)
    """The model's confidence in this proposal."""
    model: str = ""
    model_fault: str = ""
    """Why the model failed, if it did; a faulted proposal is never automated."""
    cited_fact_ids: list[int] = Field(default_factory=list)
    cited_signal_ids: list[int] = Field(default_factory=list)
    uncited_claims: int = Field(default=0, ge=0)
    unsupported_promises: int = Field(default=0, ge=0)
    field_event_id: int | None = None
    concerns: list[str] = Field(default_factory=list)
    """What a person answering should know, in the agent's words (a promise the product
    can't keep, a claim without a source): shown with the reason in the inbox."""
    after: str | None = None
    """Carried out only once the same run's action of this kind has been: a follow-up task
    waits for its email, and is cancelled if the email is rejected, blocked or fails."""

    @field_validator("kind", "after", mode="before")
    @classmethod
    def _plain_kind(cls, value: object) -> object:
        return value.value if isinstance(value, ActionKind) else value

    @property
    def target(self) -> str:
        """Who or what the action addresses."""
        if self.contact_id is not None:
            return f"contact:{self.contact_id}"
        if self.deal_id is not None:
            return f"deal:{self.deal_id}"
        return f"account:{self.account_id}"

    def digest(self) -> str:
        """The action's identity as a person sees it: kind, target and everything it would send."""
        shown = self.model_dump(mode="json", include=_SHOWN)
        text = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def edited(self, edits: dict[str, Any]) -> ProposedAction:
        """A copy with a reviewer's edits to the built-in fields applied (validated like the
        original). Edits to a declared kind's payload fields go through
        :meth:`ActionCatalog.edit`."""
        unknown = sorted(set(edits) - set(EDITABLE))
        if unknown:
            raise ValueError(f"`{unknown[0]}` can't be edited; editable: {', '.join(EDITABLE)}")
        action = ProposedAction.model_validate({**self.model_dump(), **edits})
        old, new = self.discount_pct, action.discount_pct
        if old is None or new is None or old == new:
            return action
        # the text states the offer: a changed percentage is changed where it says it too
        restated = {
            name: _restate(text, old, new)
            for name in ("subject", "body")
            if name not in edits and (text := getattr(action, name))
        }
        return action.model_copy(update=restated)


_SHOWN = {*EDITABLE, "kind", "motion", "account_id", "contact_id", "deal_id", "tags", "payload"}
"""What a person sees of an action: a change to any of it is a different action."""


def _restate(text: str, old: float, new: float) -> str:
    """``text`` with the percentage ``old`` (``15%``, ``15.0 %``) said as ``new``."""
    number = re.escape(f"{old:g}") + r"(?:\.0+)?"
    return re.sub(rf"(?<![\d.]){number}(\s?%)", lambda m: f"{new:g}{m.group(1)}", text)


def idempotency_key(action_id: int, digest: str) -> str:
    """The key an action is carried out under: stable for the action as approved, so a
    repeated delivery carries the same key."""
    return f"revfield-{action_id}-{digest[:16]}"


def waited_in_vain(kind: str, action_id: int, status: str) -> str:
    """Why an action that waited for another (``after``) is cancelled: that one won't go out."""
    return f"its {kind.replace('_', ' ')} (action #{action_id}) was {status}"
