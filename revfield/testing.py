"""Test doubles that ship with revfield, for users' tests as much as ours."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from revfield.llm import (
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ModelError,
    OfflineModel,
    ReplyClassification,
)

__all__ = ["ScriptedModel"]


class ScriptedModel:
    """A model that answers from a script and falls back to the offline model.

    ``fail`` maps an operation to the :class:`ModelError` it raises (every call, or the first
    ``fail_times`` calls); ``answers`` maps an operation to a list of answers given in turn.
    """

    backend = "scripted"
    name = "scripted"

    def __init__(
        self,
        *,
        answers: dict[str, Sequence[object]] | None = None,
        fail: dict[str, ModelError] | None = None,
        fail_times: int | None = None,
    ) -> None:
        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.fail = fail or {}
        self.fail_times = fail_times
        self.calls: list[str] = []
        self._offline = OfflineModel()

    def _answer(self, operation: str, fallback: Callable[[], object]) -> object:
        self.calls.append(operation)
        error = self.fail.get(operation)
        if error is not None and (
            self.fail_times is None or self.calls.count(operation) <= self.fail_times
        ):
            raise error
        queue = self.answers.get(operation)
        return queue.pop(0) if queue else fallback()

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction:
        answer = self._answer("extract_facts", lambda: self._offline.extract_facts(text, kind=kind))
        assert isinstance(answer, FactExtraction)
        return answer

    def classify_reply(self, text: str) -> ReplyClassification:
        answer = self._answer("classify_reply", lambda: self._offline.classify_reply(text))
        assert isinstance(answer, ReplyClassification)
        return answer

    def draft_message(self, request: DraftRequest) -> Draft:
        answer = self._answer("draft_message", lambda: self._offline.draft_message(request))
        assert isinstance(answer, Draft)
        return answer

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary:
        answer = self._answer(
            "summarise_handover", lambda: self._offline.summarise_handover(request)
        )
        assert isinstance(answer, HandoverSummary)
        return answer

    def close(self) -> None:
        return None
