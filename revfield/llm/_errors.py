"""One error for every way a model can fail. Callers turn it into an escalation, never an action."""

from __future__ import annotations

from typing import Literal

from revfield.errors import RevfieldError

__all__ = ["ModelError", "ModelFault"]

ModelFault = Literal[
    "timeout",
    "rate_limit",
    "server",
    "connection",
    "invalid_output",
    "refusal",
    "truncated",
    "config",
]


class ModelError(RevfieldError):
    """A model failed: a timeout, a 429 or 5xx after the retries, output that does not fit the
    schema, a refusal, a truncated answer, or a missing API key. Nothing is guessed from it:
    detection raises a ``model_fault`` field event, an agent proposes one escalating
    notification with the reason."""

    def __init__(self, fault: ModelFault, reason: str) -> None:
        super().__init__(f"model {fault}: {reason}")
        self.fault = fault
        """Which way it failed (``timeout``, ``invalid_output``…), for reports and policies."""
        self.reason = reason
        """What happened, in words a person can act on."""
