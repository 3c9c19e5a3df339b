"""The model interface every caller uses, with two implementations.

- :class:`OpenAIModel`: any OpenAI-compatible endpoint (``OPENAI_BASE_URL``), structured
  outputs into the pydantic types below (:class:`FactExtraction`, :class:`Draft`…).
- :class:`OfflineModel`: deterministic rules and templates, no key, no network (the default
  when no API key is set).

Every failure of a model is one :class:`ModelError`; callers escalate, never act on it. A
:class:`Recorder` wraps a model for one run and notes every call (for ``model_calls``).
"""

from __future__ import annotations

import typing

from revfield._lazy import lazy_names as _lazy_names
from revfield.llm._errors import ModelError, ModelFault
from revfield.llm._offline import OfflineModel
from revfield.llm._protocol import Model
from revfield.llm._recording import RecordedCall, Recorder, report_usage
from revfield.llm._types import (
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

if typing.TYPE_CHECKING:
    from revfield.config import Settings
    from revfield.llm._openai import OpenAIModel

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
    "RecordedCall",
    "Recorder",
    "ReplyClassification",
    "ReplyIntent",
    "make_model",
    "report_usage",
]


def make_model(settings: Settings) -> Model:
    """The configured model: ``REVFIELD_LLM`` (``offline`` unless an API key is set)."""
    if settings.llm_backend == "offline":
        return OfflineModel()
    if settings.openai_api_key is None:
        raise ModelError("config", "REVFIELD_LLM=openai needs OPENAI_API_KEY")
    from revfield.llm._openai import OpenAIModel  # the OpenAI SDK: only when it is used

    return OpenAIModel(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.model,
        base_url=settings.openai_base_url,
        timeout=settings.model_timeout,
        max_retries=settings.model_max_retries,
    )


if not typing.TYPE_CHECKING:  # mypy sees the import above; a typo stays an error for it
    # OpenAIModel is imported the first time it is used: importing the OpenAI SDK takes most
    # of a second, and the offline model and the command line never need it
    __getattr__, __dir__ = _lazy_names(__name__, {"OpenAIModel": "revfield.llm._openai"}, __all__)
