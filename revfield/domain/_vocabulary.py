"""The words every stage shares about accounts: states, segments, outcomes, fact and signal
kinds, and the one test of what counts as a churn risk."""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "CustomerState",
    "DealOutcome",
    "FactType",
    "Role",
    "Segment",
    "SignalKind",
    "is_churn_risk",
]


class Role(StrEnum):
    """What a person does in the field: a seller (AE, CSM), a manager, or RevOps."""

    SELLER = "seller"
    MANAGER = "manager"
    REVOPS = "revops"


class CustomerState(StrEnum):
    """Where an account stands in the one field. Events are routed by this, never by team."""

    PROSPECT = "prospect"
    CUSTOMER = "customer"
    CHURNED = "churned"


class Segment(StrEnum):
    """Company size band: under 200 employees, under 1,000, or larger."""

    SMB = "smb"
    MID_MARKET = "mid_market"
    ENTERPRISE = "enterprise"


class DealOutcome(StrEnum):
    """Whether a deal is still open, or was won or lost."""

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


_CHURN = re.compile(r"\bchurn")


def is_churn_risk(subject: str | None) -> bool:
    """Whether a ``risk`` fact on this subject is a churn risk (``churn``, ``churn: detractor``,
    ``customer churn``). The one test the agents, detection and the retention-first guardrail
    share, so they can never disagree about an account."""
    return subject is not None and _CHURN.search(subject.lower()) is not None
