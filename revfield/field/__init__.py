"""The field in motion: the one place that wires the stages together.

ingest → memory → detect → route → agents → policies → review / outbox. :func:`run_detection`
turns pending signals into facts and routed field events; :class:`Field` runs one durable
LangGraph agent run per field event, records each proposal with its policy decision, pauses
for people, resumes on their answers and delivers the outbox.
"""

from revfield.field._checkpoints import CHECKPOINT_TABLES, open_checkpointer
from revfield.field._detection import DetectionReport, pending_signals, run_detection
from revfield.field._field import AgentReport, Field

__all__ = [
    "CHECKPOINT_TABLES",
    "AgentReport",
    "DetectionReport",
    "Field",
    "open_checkpointer",
    "pending_signals",
    "run_detection",
]
