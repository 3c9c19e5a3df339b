"""Workers: many processes sharing one PostgreSQL database, one account at a time.

:class:`Worker` loops over every kind of pending work (detection, sweeps, answers to resume,
agent runs, the outbox), claiming each unit so no two workers do the same one; ``revfield
worker`` runs it, and :func:`check_invariants` proves afterwards that nothing was lost or done
twice.
"""

import importlib
import typing

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

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # once: later uses find it without this hook
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
