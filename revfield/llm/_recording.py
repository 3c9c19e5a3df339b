"""Recording model calls without touching the model: a :class:`Recorder` wraps the model for
one run (a detection batch, an agent run) and notes every call — operation, latency, success
or the error, tokens — with what the call was about.

Tokens are known only inside a model: an implementation reports them for the call in progress
with :func:`report_usage`; a model that doesn't is recorded with zero tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from revfield.llm._protocol import Model
from revfield.llm._types import (
    CallRecord,
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ReplyClassification,
)

__all__ = ["RecordedCall", "Recorder", "report_usage"]

T = TypeVar("T")
_USAGE: ContextVar[list[int] | None] = ContextVar("revfield_model_usage", default=None)


def report_usage(prompt_tokens: int, completion_tokens: int) -> None:
    """For model implementations: the tokens the call in progress used (counted by the
    :class:`Recorder` around it; nothing happens when no recorder is)."""
    box = _USAGE.get()
    if box is not None:
        box[0] += prompt_tokens
        box[1] += completion_tokens


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One model call and what it was about."""

    record: CallRecord
    signal_id: int | None = None
    account_id: str | None = None


class Recorder:
    """A :class:`Model` that passes every call to ``model`` and notes it in ``calls``."""

    def __init__(self, model: Model, *, account_id: str | None = None) -> None:
        self.model = model
        self.calls: list[RecordedCall] = []
        self._about: tuple[int | None, str | None] = (None, account_id)

    @property
    def backend(self) -> str:
        return self.model.backend

    @property
    def name(self) -> str:
        return self.model.name

    @contextmanager
    def about(self, *, signal_id: int | None, account_id: str | None) -> Iterator[None]:
        """Calls made inside the block are noted as being about this signal and account."""
        before, self._about = self._about, (signal_id, account_id)
        try:
            yield
        finally:
            self._about = before

    def drain(self) -> list[RecordedCall]:
        """The calls noted so far, forgetting them."""
        calls, self.calls = self.calls, []
        return calls

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        usage = [0, 0]
        token = _USAGE.set(usage)
        started = time.perf_counter()
        error = ""
        try:
            return call()
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            _USAGE.reset(token)
            record = CallRecord(
                operation,
                self.model.backend,
                self.model.name,
                not error,
                (time.perf_counter() - started) * 1000,
                usage[0],
                usage[1],
                error,
            )
            self.calls.append(RecordedCall(record, *self._about))

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction:
        return self._call("extract_facts", lambda: self.model.extract_facts(text, kind=kind))

    def classify_reply(self, text: str) -> ReplyClassification:
        return self._call("classify_reply", lambda: self.model.classify_reply(text))

    def draft_message(self, request: DraftRequest) -> Draft:
        return self._call("draft_message", lambda: self.model.draft_message(request))

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary:
        return self._call("summarise_handover", lambda: self.model.summarise_handover(request))

    def close(self) -> None:
        """Nothing to close: the wrapped model belongs to whoever made it."""
