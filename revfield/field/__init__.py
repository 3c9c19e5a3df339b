"""The field in motion: the one place that wires the stages together.

ingest → memory → detect → route → agents → policies → review / outbox. :func:`run_detection`
turns pending signals into facts and routed field events; :class:`Field` runs one durable
LangGraph agent run per field event, records each proposal with its policy decision, pauses
for people, resumes on their answers and delivers the outbox. :func:`governed` puts a
LangChain tool of any LangGraph graph under the same policy; :func:`await_review` pauses any
node on an action's review item.
"""

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
