"""The signal schema: what ``revfield ingest`` and ``revfield.memory.ingest`` accept.

One record is one observation. JSONL files hold one JSON object per line; CSV files hold one
record per row with the same column names (extra CSV columns become ``payload`` keys).
The README's "Signal schema" section documents every field; keep the two in step.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from revfield.domain import SignalKind
from revfield.ingest._identity import normalize_domain, normalize_email

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_TEXT_CHARS",
    "PAYLOAD_SCHEMAS",
    "REQUIRED_FIELDS",
    "SIGNAL_FIELDS",
    "SignalRecord",
]

MAX_TEXT_CHARS = 65_536
"""Longest ``text`` accepted (characters). Longer transcripts must be split into parts."""
MAX_LINE_BYTES = 1_048_576
"""Longest JSONL line or CSV record accepted (bytes)."""

Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RoleText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _timestamp_text(value: Any) -> Any:
    # An epoch number is ambiguous (seconds? milliseconds?) and carries no zone: refuse it,
    # also when it comes as a string (pydantic would read "1700000000" as seconds).
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError(
            "timestamp_number",
            "expected an ISO 8601 timestamp such as 2026-11-02T09:30:00Z, got the number {value}",
            {"value": value},
        )
    if isinstance(value, str) and ":" not in value and _NUMBER.fullmatch(value.strip()):
        raise PydanticCustomError(
            "timestamp_number",
            "expected an ISO 8601 timestamp such as 2026-11-02T09:30:00Z, got the number "
            "{value} (epoch numbers are refused: seconds or milliseconds?)",
            {"value": value.strip()[:40]},
        )
    return value


def _utc_representable(value: datetime, field: str | None = None) -> datetime:
    # Only a moment within a day of 0001-01-01 or 9999-12-31 can leave the range in UTC.
    if value.year in _EDGE_YEARS:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "timestamp_range",
                "timestamp `{value}` falls outside the years 1 to 9999 once converted to UTC",
                {"value": value.isoformat(), "field": field},
            ) from None
    return value


_EDGE_YEARS = frozenset({1, 9999})

Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_utc_representable)
]
"""An ISO 8601 timestamp with a time zone whose UTC moment is a valid date; numbers
(epochs), also in strings, are refused."""


class _Payload(BaseModel):
    # NaN and Infinity are not JSON: refused in typed fields, and kept (to be refused when the
    # payload is written) in other keys rather than silently dumped as null.
    model_config = ConfigDict(extra="allow", allow_inf_nan=False, ser_json_inf_nan="constants")


class ProductUsagePayload(_Payload):
    feature: ShortText
    count: float | None = Field(default=None, ge=0)
    limit: float | None = Field(default=None, ge=0)
    """The plan's limit for this feature, when the source knows it."""


class SeatChangePayload(_Payload):
    seats: int = Field(ge=0)
    previous_seats: int | None = Field(default=None, ge=0)
    seat_limit: int | None = Field(default=None, ge=0)


class NpsPayload(_Payload):
    score: int = Field(ge=0, le=10)


class IntentSurgePayload(_Payload):
    score: float = Field(ge=0, le=100)
    baseline: float | None = Field(default=None, ge=0, le=100)
    topic: str | None = None


class StageChangePayload(_Payload):
    to_stage: ShortText
    from_stage: str | None = None
    deal_id: str | None = None


class SupportTicketPayload(_Payload):
    priority: Literal["low", "medium", "high", "urgent"] | None = None


class MeetingPayload(_Payload):
    starts_at: Timestamp | None = None


PAYLOAD_SCHEMAS: dict[SignalKind, type[_Payload]] = {
    SignalKind.PRODUCT_USAGE: ProductUsagePayload,
    SignalKind.SEAT_CHANGE: SeatChangePayload,
    SignalKind.NPS_RESPONSE: NpsPayload,
    SignalKind.INTENT_SURGE: IntentSurgePayload,
    SignalKind.CRM_STAGE_CHANGE: StageChangePayload,
    SignalKind.SUPPORT_TICKET: SupportTicketPayload,
    SignalKind.MEETING_BOOKED: MeetingPayload,
}
"""Kinds whose payload has required or typed keys; other kinds take any JSON object."""


class SignalRecord(BaseModel):
    """One observation about an account or contact.

    It must name who it is about: ``account_id`` (an account already in memory),
    ``account_domain`` (creates a prospect account when new) or ``contact_email`` (its domain
    resolves the account; free-mail addresses are stored unattributed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    """The system that observed it (``hubspot``, ``segment``, ``zendesk``)."""
    external_id: ExternalId
    """The source's own id: ``(source, external_id)`` is stored once, however often it is sent."""
    kind: SignalKind
    occurred_at: Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]
    """When it happened, with a time zone (``2026-11-02T09:30:00Z``); checked as a
    :data:`Timestamp` is."""
    account_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
        | None
    ) = None
    account_domain: str | None = None
    contact_email: str | None = None
    contact_name: ShortText | None = None
    contact_role: RoleText | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    """Free text: an email body, a transcript, a ticket. Untrusted data, never instructions."""
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("account_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else normalize_domain(value)

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_null(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _complete(self) -> SignalRecord:
        # One after-validator for all cross-field rules: it runs on every row. (The range of
        # `occurred_at` is checked here too: cheaper than a validator of its own.)
        if self.occurred_at.year in _EDGE_YEARS:
            _utc_representable(self.occurred_at, "occurred_at")
        if not (self.account_id or self.account_domain or self.contact_email):
            raise PydanticCustomError(
                "no_identity",
                "a signal must name who it is about: set `account_id`, `account_domain` "
                "or `contact_email`",
            )
        schema = PAYLOAD_SCHEMAS.get(self.kind)
        if schema is not None:
            try:
                payload = schema.model_validate(self.payload).model_dump(
                    mode="json", exclude_none=True
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                message = err["msg"]
                if err["type"] == "finite_number":
                    message = "NaN or Infinity, which JSON has no value for; send a finite number"
                raise PydanticCustomError(
                    "payload_invalid",
                    "{field}: {message}",
                    {"field": f"payload.{where}", "message": message},
                ) from None
            object.__setattr__(self, "payload", payload)  # the typed form (frozen model)
        return self

    @property
    def occurred(self) -> datetime:
        return self.occurred_at


SIGNAL_FIELDS: tuple[str, ...] = tuple(SignalRecord.model_fields)
REQUIRED_FIELDS: tuple[str, ...] = ("source", "external_id", "kind", "occurred_at")
