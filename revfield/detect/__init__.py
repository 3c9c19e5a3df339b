"""Signal detection: from signals to field events. Compiled rules over structured signals
(usage against the plan, seats, intent, tickets, NPS, cancellations, stage changes, champions
leaving), a sweep over subscriptions coming up for renewal, and the model over free text
(reply intent, pricing objections, facts with their quoted span). Pure: the field's detection
run reads the memory, calls these, and writes what they found.
"""

import typing

from revfield._lazy import lazy_names as _lazy_names
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

if typing.TYPE_CHECKING:
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

_LAZY = {"TEXT_KINDS": "revfield.detect._text", "build_text_graph": "revfield.detect._text"}
"""Names imported the first time they are used (PEP 562): the text graph is a LangGraph graph,
and loading LangGraph takes a second that reading a policy pack or the CLI does not need."""

if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
