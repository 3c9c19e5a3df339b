"""The values every stage of the field shares, and nothing else: no I/O, no other revfield
package. Accounts' vocabulary (states, segments, fact and signal kinds), actions (what agents
propose, the verdicts on them), field events (what detection raises) and the statuses an
action, a review, an outbox item and a field event move through, with the table of allowed
moves between them.

Each name loads its module on first use: the memory's tables need the vocabulary's enums,
not the pydantic models of actions and the catalog.
"""

import typing

from revfield._lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:  # mypy sees every name; at run time each loads on first use
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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "revfield.domain._actions": (
        "EDITABLE",
        "ActionKind",
        "Motion",
        "ProposedAction",
        "Verdict",
        "idempotency_key",
        "waited_in_vain",
    ),
    "revfield.domain._catalog": (
        "ActionCatalog",
        "ActionKindSpec",
        "PayloadField",
        "ProposalError",
    ),
    "revfield.domain._events": (
        "BecameCustomer",
        "DealClosed",
        "DealMoved",
        "Detected",
        "DoNotContact",
        "Effect",
        "FactDraft",
        "FieldEventKind",
        "RiskRecovered",
    ),
    "revfield.domain._status": (
        "ActionStatus",
        "EventStatus",
        "OutboxStatus",
        "ReviewStatus",
        "RiskStatus",
        "Status",
        "allowed_from",
        "initial",
    ),
    "revfield.domain._vocabulary": (
        "CustomerState",
        "DealOutcome",
        "FactType",
        "Role",
        "Segment",
        "SignalKind",
        "is_churn_risk",
    ),
}

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


if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(
        __name__, {name: module for module, names in _EXPORTS.items() for name in names}, __all__
    )
