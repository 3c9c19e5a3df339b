"""The values every stage of the field shares, and nothing else: no I/O, no other revfield
package. Accounts' vocabulary (states, segments, fact and signal kinds), actions (what agents
propose, the verdicts on them), field events (what detection raises) and the statuses an
action, a review, an outbox item and a field event move through, with the table of allowed
moves between them.
"""

from revfield.domain._actions import (
    EDITABLE,
    ActionKind,
    Motion,
    ProposedAction,
    Verdict,
    idempotency_key,
    waited_in_vain,
)
from revfield.domain._catalog import ActionCatalog, ActionKindSpec, PayloadField, ProposalError
from revfield.domain._events import (
    BecameCustomer,
    DealClosed,
    DealMoved,
    Detected,
    DoNotContact,
    Effect,
    FactDraft,
    FieldEventKind,
    RiskRecovered,
)
from revfield.domain._status import (
    ActionStatus,
    EventStatus,
    OutboxStatus,
    ReviewStatus,
    RiskStatus,
    Status,
    allowed_from,
    initial,
)
from revfield.domain._vocabulary import (
    CustomerState,
    DealOutcome,
    FactType,
    Role,
    Segment,
    SignalKind,
    is_churn_risk,
)

__all__ = [
    "EDITABLE",
    "ActionCatalog",
    "ActionKind",
    "ActionKindSpec",
    "ActionStatus",
    "BecameCustomer",
    "CustomerState",
    "DealClosed",
    "DealMoved",
    "DealOutcome",
    "Detected",
    "DoNotContact",
    "Effect",
    "EventStatus",
    "FactDraft",
    "FactType",
    "FieldEventKind",
    "Motion",
    "OutboxStatus",
    "PayloadField",
    "ProposalError",
    "ProposedAction",
    "ReviewStatus",
    "RiskRecovered",
    "RiskStatus",
    "Role",
    "Segment",
    "SignalKind",
    "Status",
    "Verdict",
    "allowed_from",
    "idempotency_key",
    "initial",
    "is_churn_risk",
    "waited_in_vain",
]
