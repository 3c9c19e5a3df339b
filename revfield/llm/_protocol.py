"""The interface every model offers, whatever is behind it."""

from __future__ import annotations

from typing import Protocol

from revfield.llm._types import (
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ReplyClassification,
)

__all__ = ["Model"]


class Model(Protocol):
    """What every model offers. Text passed in is untrusted data, never instructions."""

    @property
    def backend(self) -> str:
        """What kind of model it is (``offline``, ``openai``…)."""
        ...

    @property
    def name(self) -> str:
        """The model's name, as recorded with every call."""
        ...

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction: ...

    def classify_reply(self, text: str) -> ReplyClassification: ...

    def draft_message(self, request: DraftRequest) -> Draft: ...

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary: ...

    def close(self) -> None: ...
