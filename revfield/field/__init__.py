"""The field in motion: the one place that wires the stages together.

ingest → memory → detect → route → agents → policies → review / outbox. :func:`run_detection`
turns pending signals into facts and routed field events; :class:`Field` runs one durable
LangGraph agent run per field event, records each proposal with its policy decision, pauses
for people, resumes on their answers and delivers the outbox. :func:`governed` puts a
LangChain tool of any LangGraph graph under the same policy; :func:`await_review` pauses any
node on an action's review item.
"""

import typing

from revfield._lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:  # mypy sees every name; at run time each loads on first use
    from revfield.field._checkpoints import CHECKPOINT_TABLES, open_checkpointer
    from revfield.field._detection import (
        DetectionReport,
        Detector,
        pending_signals,
        run_detection,
    )
    from revfield.field._field import AgentReport, Field
    from revfield.field._governed import governed
    from revfield.field._submit import SubmitResult
    from revfield.field._waiting import await_review

_EXPORTS: dict[str, tuple[str, ...]] = {
    "revfield.field._checkpoints": ("CHECKPOINT_TABLES", "open_checkpointer"),
    "revfield.field._detection": (
        "DetectionReport",
        "Detector",
        "pending_signals",
        "run_detection",
    ),
    "revfield.field._field": ("AgentReport", "Field"),
    "revfield.field._governed": ("governed",),
    "revfield.field._submit": ("SubmitResult",),
    "revfield.field._waiting": ("await_review",),
}
"""Where each public name lives: answering a review loads the field, not detection."""

__all__ = [
    "CHECKPOINT_TABLES",
    "AgentReport",
    "DetectionReport",
    "Detector",
    "Field",
    "SubmitResult",
    "await_review",
    "governed",
    "open_checkpointer",
    "pending_signals",
    "run_detection",
]

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_names(
        __name__, {name: module for module, names in _EXPORTS.items() for name in names}, __all__
    )
