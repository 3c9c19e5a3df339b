"""What a request may carry into the memory: no text with a NUL character or half of a
UTF-16 surrogate pair (PostgreSQL stores neither, so neither database gets it), and no NaN or
Infinity (JSON has no value for them). Refused as a 422 naming where, like a signal row
(``POST /signals`` leaves this to ingest, which dead-letters such a row alone)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Body", "StorableText", "problem_in"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (U+0000); revfield stores no NUL characters, so remove it"
    if not text.isascii() and _SURROGATE.search(text):
        return "contains half of a UTF-16 surrogate pair; send the text as valid Unicode"
    return None


def problem_in(value: object, where: str = "") -> tuple[str, str] | None:
    """The first place in ``value`` (a JSON value) that can't be stored, and why."""
    todo: list[tuple[str, object]] = [(where, value)]
    while todo:
        at, node = todo.pop()
        if isinstance(node, str):
            if (why := _text(node)) is not None:
                return at or "value", why
        elif isinstance(node, float) and not math.isfinite(node):
            return at or "value", "is NaN or Infinity, which JSON has no value for; send a number"
        elif isinstance(node, dict):
            for key, item in reversed(list(node.items())):
                path = f"{at}.{key}" if at else str(key)
                if isinstance(key, str) and (why := _text(key)) is not None:
                    return path, f"(a key) {why}"
                todo.append((path, item))
        elif isinstance(node, list):
            todo.extend((f"{at}[{i}]", item) for i, item in reversed(list(enumerate(node))))
    return None


def _storable(text: str) -> str:
    if (why := _text(text)) is not None:
        raise PydanticCustomError("unstorable_text", f"the text {why}")
    return text


StorableText = Annotated[str, AfterValidator(_storable)]
"""A path or query parameter the memory can store."""


class Body(BaseModel):
    """A request body: refused whole (422) when anything in it can't be stored."""

    @model_validator(mode="before")
    @classmethod
    def _storable_everywhere(cls, data: Any) -> Any:
        found = problem_in(data)
        if found is not None:
            where, why = found
            raise PydanticCustomError(
                "unstorable_text", "`{where}` {why}", {"where": where, "why": why}
            )
        return data
