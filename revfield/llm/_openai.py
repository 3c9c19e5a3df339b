"""The OpenAI adapter: any OpenAI-compatible endpoint, structured outputs, typed failures.

All HTTP goes through the SDK's own httpx client (so respx can record and replay it). The
SDK retries 429 and 5xx responses itself; whatever still fails, times out, refuses or returns
output that doesn't fit the schema becomes one :class:`ModelError`.
"""

from __future__ import annotations

import json
from typing import TypeVar

import httpx
import openai
from pydantic import BaseModel, ValidationError

from revfield.llm._errors import ModelError
from revfield.llm._prompts import SYSTEM, as_data
from revfield.llm._recording import report_usage
from revfield.llm._types import (
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ReplyClassification,
)

__all__ = ["OpenAIModel"]

T = TypeVar("T", bound=BaseModel)


class OpenAIModel:
    """A hosted model behind any OpenAI-compatible endpoint (``OPENAI_BASE_URL``), answering
    in structured outputs; every failure after the SDK's retries is one :class:`ModelError`."""

    backend = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        """``http_client``, when given, is the httpx client the SDK sends every request through
        (the eval cassettes record through one); ``None`` lets the SDK make its own. Either
        way :meth:`close` closes it."""
        self.name = model
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )

    def close(self) -> None:
        self._client.close()

    # -- operations ---------------------------------------------------------------------------

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction:
        user = f"Signal kind: {kind}\n{as_data(text)}"
        return self._parse("extract_facts", user, FactExtraction)

    def classify_reply(self, text: str) -> ReplyClassification:
        return self._parse("classify_reply", as_data(text), ReplyClassification)

    def draft_message(self, request: DraftRequest) -> Draft:
        return self._parse("draft_message", request.model_dump_json(), Draft)

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary:
        return self._parse("summarise_handover", request.model_dump_json(), HandoverSummary)

    # -- the one call -------------------------------------------------------------------------

    def _parse(self, operation: str, user: str, schema: type[T]) -> T:
        try:
            completion = self._client.chat.completions.parse(
                model=self.name,
                messages=[
                    {"role": "system", "content": SYSTEM[operation]},
                    {"role": "user", "content": user},
                ],
                response_format=schema,
                temperature=0,
            )
            if completion.usage is not None:
                report_usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
            message = completion.choices[0].message
            if message.refusal:
                raise ModelError("refusal", message.refusal[:200])
            if message.parsed is None:
                raise ModelError("invalid_output", "the reply held no parsable answer")
            result: T = message.parsed
        except ModelError:
            raise
        except Exception as exc:  # every SDK or parsing failure becomes one typed error
            raise _as_model_error(exc) from exc
        return result


def _as_model_error(exc: Exception) -> ModelError:
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("timeout", "the model did not answer in time")
    if isinstance(exc, openai.RateLimitError):
        return ModelError("rate_limit", "rate limited (HTTP 429) after retries")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return ModelError(
                "server", f"HTTP {exc.status_code} after retries: {_short(exc.message)}"
            )
        return ModelError("config", f"HTTP {exc.status_code}: {_short(exc.message)}")
    if isinstance(exc, openai.APIConnectionError):
        return ModelError("connection", f"cannot reach the model endpoint: {_short(str(exc))}")
    if isinstance(exc, openai.LengthFinishReasonError):
        return ModelError("truncated", "the answer was cut off at the length limit")
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ModelError("refusal", "the answer was withheld by a content filter")
    if isinstance(exc, ValidationError | json.JSONDecodeError | ValueError):
        return ModelError(
            "invalid_output", f"the answer does not fit the schema: {_short(str(exc))}"
        )
    return ModelError("invalid_output", f"{type(exc).__name__}: {_short(str(exc))}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
