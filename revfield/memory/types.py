"""Vocabulary of the account memory: the enums every layer shares, and a UTC datetime column."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "CustomerState",
    "DealOutcome",
    "FactType",
    "Role",
    "Segment",
    "SignalKind",
    "UTCDateTime",
    "as_utc",
]


class Role(StrEnum):
    SELLER = "seller"
    MANAGER = "manager"
    REVOPS = "revops"


class CustomerState(StrEnum):
    """Where an account stands in the one field. Events are routed by this, never by team."""

    PROSPECT = "prospect"
    CUSTOMER = "customer"
    CHURNED = "churned"


class Segment(StrEnum):
    SMB = "smb"
    MID_MARKET = "mid_market"
    ENTERPRISE = "enterprise"


class DealOutcome(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class FactType(StrEnum):
    """What the field learned about an account; conserved across the close."""

    PAIN = "pain"
    PROMISE = "promise"
    STAKEHOLDER = "stakeholder"
    CHAMPION = "champion"
    COMPETITOR = "competitor"
    SUCCESS_CRITERION = "success_criterion"
    OBJECTION = "objection"
    USE_CASE = "use_case"
    RISK = "risk"


class SignalKind(StrEnum):
    """Every kind of observation the memory accepts (SPEC §2)."""

    INTENT_SURGE = "intent_surge"
    WEB_VISIT = "web_visit"
    CONTENT_ENGAGEMENT = "content_engagement"
    FORM_SUBMISSION = "form_submission"
    EMAIL_SENT = "email_sent"
    EMAIL_OPENED = "email_opened"
    EMAIL_REPLIED = "email_replied"
    MEETING_BOOKED = "meeting_booked"
    MEETING_HELD = "meeting_held"
    CALL_TRANSCRIPT = "call_transcript"
    PRODUCT_USAGE = "product_usage"
    SEAT_CHANGE = "seat_change"
    SUBSCRIPTION_CHANGE = "subscription_change"
    CANCELLATION = "cancellation"
    SUPPORT_TICKET = "support_ticket"
    COMMUNITY_ACTIVITY = "community_activity"
    NPS_RESPONSE = "nps_response"
    CRM_STAGE_CHANGE = "crm_stage_change"
    CRM_OWNER_CHANGE = "crm_owner_change"
    CRM_AMOUNT_CHANGE = "crm_amount_change"
    CRM_CLOSE_DATE_CHANGE = "crm_close_date_change"
    CONTACT_CHANGE = "contact_change"
    NOTE = "note"


def enum_column(enum: type[StrEnum], length: int = 32) -> sa.Enum:
    """A portable enum column: VARCHAR plus Python-side validation, no native type to migrate."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as UTC
    and given their zone back on the way out. A naive datetime is refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
        moment: datetime = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        result: datetime = (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )
        return result


def as_utc(value: datetime | str) -> datetime:
    """A datetime read back from any backend as aware UTC. Aggregates such as ``max()`` of a
    DATETIME column come back from SQLite as text and naive; PostgreSQL gives aware values."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
