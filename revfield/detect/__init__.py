"""Signal detection: from signals to field events. Compiled rules over structured signals
(usage against the plan, seats, intent, tickets, NPS, cancellations, stage changes, champions
leaving), a sweep over subscriptions coming up for renewal, and the model over free text
(reply intent, pricing objections, facts with their quoted span). Pure: the field's detection
run reads the memory, calls these, and writes what they found.
"""

from revfield.detect._rules import (
    ONCE,
    AccountSnap,
    History,
    SignalSnap,
    SubscriptionSnap,
    deduplicate,
    detect_inactivity,
    detect_renewals,
    detect_structured,
)
from revfield.detect._spec import DetectionSpec
from revfield.detect._text import TEXT_KINDS, build_text_graph

__all__ = [
    "ONCE",
    "TEXT_KINDS",
    "AccountSnap",
    "DetectionSpec",
    "History",
    "SignalSnap",
    "SubscriptionSnap",
    "build_text_graph",
    "deduplicate",
    "detect_inactivity",
    "detect_renewals",
    "detect_structured",
]
