"""Workers: many processes sharing one PostgreSQL database, one account at a time.

:class:`Worker` loops over every kind of pending work (detection, sweeps, answers to resume,
agent runs, the outbox), claiming each unit so no two workers do the same one; ``revfield
worker`` runs it, and :func:`check_invariants` proves afterwards that nothing was lost or done
twice.
"""

from revfield.worker._invariants import InvariantReport, Violation, check_invariants
from revfield.worker._loop import Worker, WorkerOptions, WorkerReport
from revfield.worker._supervise import Supervisor, command_for, read_reports

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
