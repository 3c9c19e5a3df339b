"""Workers: many processes sharing one PostgreSQL database, one account at a time.

:class:`Worker` loops over every kind of pending work (detection, sweeps, answers to resume,
agent runs, the outbox), claiming each unit so no two workers do the same one; ``revfield
worker`` runs it, and :func:`check_invariants` proves afterwards that nothing was lost or done
twice.
"""

import typing

from revfield._lazy import lazy_names as _lazy_names
from revfield.worker._invariants import InvariantReport, Violation, check_invariants
from revfield.worker._supervise import Supervisor, command_for, read_reports

if typing.TYPE_CHECKING:
    from revfield.worker._loop import Worker, WorkerOptions, WorkerReport

__all__ = [
    "InvariantReport",
    "Supervisor",
    "Violation",
    "Worker",
    "WorkerOptions",
    "WorkerReport",
    "check_invariants",
    "command_for",
    "read_reports",
]

_LAZY = {name: "revfield.worker._loop" for name in ("Worker", "WorkerOptions", "WorkerReport")}
"""Imported the first time they are used (PEP 562): the loop runs the field (LangGraph), which
``revfield check`` and the supervisor do not need."""


if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
