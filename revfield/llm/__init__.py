"""The model interface every caller uses, with two implementations.

- :class:`OpenAIModel`: any OpenAI-compatible endpoint (``OPENAI_BASE_URL``), structured
  outputs into the pydantic types of :mod:`revfield.llm.types`.
- :class:`OfflineModel`: deterministic rules and templates, no key, no network (the default
  when no API key is set).

Every failure of a model is one :class:`ModelError`; callers escalate, never act on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from revfield.config import Settings
from revfield.llm.errors import ModelError, ModelFault
from revfield.llm.offline import OfflineModel
from revfield.llm.openai_model import OpenAIModel
from revfield.llm.types import (
    CallRecord,
    CitedItem,
    Draft,
    DraftClaim,
    DraftRequest,
    ExtractedFact,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ReplyClassification,
    ReplyIntent,
)

__all__ = [
    "CallRecord",
    "CitedItem",
    "Draft",
    "DraftClaim",
    "DraftRequest",
    "ExtractedFact",
    "FactExtraction",
    "HandoverRequest",
    "HandoverSummary",
    "Model",
    "ModelError",
    "ModelFault",
    "OfflineModel",
    "OpenAIModel",
    "ReplyClassification",
    "ReplyIntent",
    "make_model",
]


class Model(Protocol):
    """What every model offers. Text passed in is untrusted data, never instructions."""

    backend: str
    name: str
    on_call: Callable[[CallRecord], None] | None
    """Called after every call (success or failure) with its record."""

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction: ...

    def classify_reply(self, text: str) -> ReplyClassification: ...

    def draft_message(self, request: DraftRequest) -> Draft: ...

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary: ...

    def close(self) -> None: ...


def make_model(settings: Settings, on_call: Callable[[CallRecord], None] | None = None) -> Model:
    """The configured model: ``REVFIELD_LLM`` (``offline`` unless an API key is set)."""
    if settings.llm_backend == "offline":
        return OfflineModel(on_call=on_call)
    if settings.openai_api_key is None:
        raise ModelError("config", "REVFIELD_LLM=openai needs OPENAI_API_KEY")
    return OpenAIModel(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.model,
        base_url=settings.openai_base_url,
        timeout=settings.model_timeout,
        max_retries=settings.model_max_retries,
        on_call=on_call,
    )
