"""One error for every way a model can fail. Callers turn it into an escalation, never an action."""

from __future__ import annotations

from typing import Literal

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


class ModelError(Exception):
    def __init__(self, fault: ModelFault, reason: str) -> None:
        super().__init__(f"model {fault}: {reason}")
        self.fault = fault
        self.reason = reason
