"""Turn a rejected signal record into one line a person can act on, naming the field.

Also the checks that keep a row the schema accepts from reaching a database that can't store
it the same way on SQLite and PostgreSQL: NUL characters, halves of UTF-16 surrogate pairs,
NaN and Infinity, keys that aren't strings, payloads nested too deeply, and JSON objects that
give a key twice.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from revfield._text import did_you_mean, shorten
from revfield.domain import SignalKind
from revfield.errors import RevfieldError
from revfield.ingest._schema import MAX_TEXT_CHARS, SIGNAL_FIELDS, SignalRecord

__all__ = [
    "MAX_PAYLOAD_DEPTH",
    "RowProblem",
    "describe",
    "may_repeat_a_key",
    "printable",
    "repeated_key",
    "storable_problem",
]

KINDS = [k.value for k in SignalKind]

MAX_PAYLOAD_DEPTH = 200
"""Deepest nesting of objects and lists in a payload (the JSON parser's own limit)."""

_TEXT_FIELDS = (
    "source",
    "external_id",
    "account_id",
    "account_domain",
    "contact_email",
    "contact_name",
    "contact_role",
    "text",
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_NUL_REASON = (
    "contains a NUL character (U+0000); revfield stores no NUL characters (PostgreSQL can't), "
    "so remove it and send the row again"
)


class RowProblem(RevfieldError):
    """A row that can't be accepted: ``field`` (if one is to blame) and the reason."""

    def __init__(self, field: str | None, reason: str) -> None:
        reason = printable(reason)
        super().__init__(reason)
        self.field = None if field is None else printable(field)
        self.reason = reason


def printable(text: str) -> str:
    """``text`` with NUL characters and lone surrogates written as escapes (``\\u0000``,
    ``\\ud800``), so it can be stored, printed and encoded as UTF-8."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if not text.isascii() and _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def describe(exc: ValidationError, raw: str | None = None) -> RowProblem:
    """The first error of ``exc`` as a :class:`RowProblem`, with the others counted. ``raw``
    (the row as read) sharpens the message for malformed JSON."""
    errors = exc.errors(include_url=False)
    field, reason = _one(errors[0], raw)
    others = len(errors) - 1
    if others:
        more = ", ".join(
            f"`{shorten('.'.join(map(str, e['loc'])), 60)}`" for e in errors[1:4] if e["loc"]
        )
        reason += (
            f" (and {others} more problem{'s' if others > 1 else ''}{': ' + more if more else ''})"
        )
    return RowProblem(field, reason)


def _one(err: ErrorDetails, raw: str | None) -> tuple[str | None, str]:
    kind = err["type"]
    loc = ".".join(str(p) for p in err["loc"])
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "json_invalid":
        return None, _malformed_json(str(ctx.get("error", err["msg"])), raw)
    if kind in ("model_type", "dict_type", "model_attributes_type") and not loc:
        return None, f"a signal must be a JSON object, got {shorten(value, 40)}"
    if kind == "payload_invalid":
        return str(ctx["field"]), f"`{ctx['field']}`: {ctx['message']}"
    if kind == "no_identity":
        return "account_id", err["msg"]
    if kind == "missing":
        return loc, f"`{loc}` is missing; every signal needs it"
    if kind == "extra_forbidden":
        hint = did_you_mean(loc, SIGNAL_FIELDS) or "; put source-specific data under `payload`"
        return loc, f"`{shorten(loc, 60)}` is not a signal field{hint}"
    if kind == "enum" and loc == "kind":
        return loc, (
            f"`kind`: unknown kind `{shorten(value, 40)}`{did_you_mean(str(value), KINDS)} "
            f"(see the README's signal kinds)"
        )
    if kind == "timezone_aware":
        return loc, (
            f"`{loc}`: timestamp `{shorten(value, 40)}` has no time zone; "
            "add `Z` for UTC or an offset such as `+02:00`"
        )
    if kind == "string_too_long" and loc == "text":
        return loc, (
            f"`text`: {len(str(value)):,} characters is over the "
            f"{MAX_TEXT_CHARS:,}-character limit; "
            "split long transcripts into parts"
        )
    if kind == "string_unicode":
        return loc, f"`{loc}`: {_surrogate_reason(str(value))}"
    if kind in ("timestamp_number", "timestamp_range"):
        loc = ctx.get("field") or loc  # the range of occurred_at is checked on the whole row
        return loc, f"`{loc}`: {err['msg']}"
    if kind == "finite_number":
        return loc, f"`{loc}`: NaN or Infinity, which JSON has no value for; send a finite number"
    if kind == "value_error":
        return loc, f"`{loc}`: {err['msg'].removeprefix('Value error, ')}"
    return loc or None, f"`{loc}`: {err['msg'].lower()} (got {shorten(value, 40)})"


# -- malformed JSON ------------------------------------------------------------------------------

_EOF_INSIDE = {
    "object": "a JSON object (is the line cut short, or a `}` missing?)",
    "list": "a JSON list (is the line cut short, or a `]` missing?)",
    "string": 'a string (is the line cut short, or a closing `"` missing?)',
    "value": "where a value should follow (is the line cut short?)",
}


def _malformed_json(detail: str, raw: str | None) -> str:
    """The parser's complaint, in terms of the line: a line cut short says so, and a half
    surrogate pair is named, instead of an error about the line's end or a hex escape."""
    at_end = " at line 2 column " in detail  # past the line's end: the newline that ends it
    detail = detail.replace(" at line 1 column ", " at column ")
    if "control character" in detail:
        if at_end:  # a string still open when the line ended
            return f"malformed JSON: the line ends inside {_EOF_INSIDE['string']}"
        column = re.search(r"at column (\d+)", detail)
        char = raw[int(column.group(1)) - 1] if raw and column else ""
        if column and len(char) == 1 and ord(char) < 0x20:
            return (
                f"malformed JSON: a raw control character (U+{ord(char):04X}) inside a string "
                f"at column {column.group(1)}; JSON strings hold it only escaped "
                f"(\\u{ord(char):04x})"
            )
    if detail.startswith("EOF while parsing"):
        what = detail.removeprefix("EOF while parsing").split()[1:2]
        return f"malformed JSON: the line ends inside {_EOF_INSIDE.get(''.join(what), 'it')}"
    if "recursion limit exceeded" in detail:
        return (
            "malformed JSON: objects and lists nested more than about "
            f"{MAX_PAYLOAD_DEPTH} levels deep"
        )
    if "surrogate" in detail or "hex escape" in detail:
        found = _lone_surrogate_escape(raw or "")
        if found is not None:
            escape, at = found
            return (
                f"malformed JSON: `{escape}` at column {at} is half of a UTF-16 surrogate "
                "pair without its other half, so it is not a character (text cut in the middle of "
                "an emoji?); fix or remove it"
            )
    return f"malformed JSON: {detail}"


def _lone_surrogate_escape(raw: str) -> tuple[str, int] | None:
    """The first ``\\uD800``-``\\uDFFF`` escape in ``raw`` not paired as high + low, with its
    1-based column."""
    pending: re.Match[str] | None = None
    for m in _ESCAPE.finditer(raw):
        code = int(m.group(1), 16) if m.group(1) else None
        if pending is not None:
            if code is not None and 0xDC00 <= code <= 0xDFFF and m.start() == pending.end():
                pending = None
                continue
            return pending.group(0), pending.start() + 1
        if code is not None and 0xD800 <= code <= 0xDBFF:
            pending = m
        elif code is not None and 0xDC00 <= code <= 0xDFFF:
            return m.group(0), m.start() + 1
    return (pending.group(0), pending.start() + 1) if pending is not None else None


def _surrogate_reason(text: str) -> str:
    m = _SURROGATE.search(text)
    code = f"\\u{ord(m.group()):04x}" if m else "a surrogate"
    return (
        f"contains `{code}`, half of a UTF-16 surrogate pair without its other half, so not a "
        "character (text cut in the middle of an emoji?); fix or remove it"
    )


# -- what a database can store -----------------------------------------------------------------


def storable_problem(rec: SignalRecord) -> RowProblem | None:
    """Why ``rec`` can't be stored identically on SQLite and PostgreSQL, or None: a NUL
    character or a lone surrogate in any text or payload key or value, NaN or Infinity, a
    payload key that isn't a string, a number too long to write, nesting too deep."""
    for name in _TEXT_FIELDS:
        value = getattr(rec, name)
        if value is not None and (problem := _text_problem(value)):
            return RowProblem(name, f"`{name}` {problem}")
    return _value_problem(rec.payload, "payload", 1)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return _NUL_REASON
    if not text.isascii() and _SURROGATE.search(text):
        return _surrogate_reason(text)
    return None


def _value_problem(value: Any, where: str, depth: int) -> RowProblem | None:
    if isinstance(value, str):
        text_problem = _text_problem(value)
        return RowProblem(where, f"`{shorten(where, 80)}` {text_problem}") if text_problem else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        name = (
            "NaN"
            if math.isnan(value)
            else f"{'' if value > 0 else '-'}Infinity (or a number too large for a double)"
        )
        return RowProblem(
            where,
            f"`{shorten(where, 80)}` is {name}, which JSON has no value for; "
            "send a finite number, null, or leave the key out",
        )
    if isinstance(value, int):
        if value.bit_length() > 14_000:  # near Python's limit for writing an integer out
            try:
                str(value)
            except ValueError:
                return RowProblem(
                    where, f"`{shorten(where, 80)}`: a number too long to write out as JSON"
                )
        return None
    if isinstance(value, dict | list | tuple):
        if depth > MAX_PAYLOAD_DEPTH:
            return RowProblem(
                "payload", f"`payload` is nested more than {MAX_PAYLOAD_DEPTH} levels deep"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return RowProblem(
                        where,
                        f"`{shorten(where, 80)}`: key {shorten(key, 40)} is not a string; "
                        "JSON object keys are strings",
                    )
                if problem_text := _text_problem(key):
                    return RowProblem(where, f"`{shorten(where, 80)}`: a key {problem_text}")
                if problem := _value_problem(item, f"{where}.{key}", depth + 1):
                    return problem
        else:
            for i, item in enumerate(value):
                if problem := _value_problem(item, f"{where}[{i}]", depth + 1):
                    return problem
        return None
    # Other Python values (dates, decimals…) are stored as their text.
    problem_text = _text_problem(str(value))
    return RowProblem(where, f"`{shorten(where, 80)}` {problem_text}") if problem_text else None


# -- keys given twice ----------------------------------------------------------------------------


def repeated_key(line: str) -> RowProblem | None:
    """The first key that a JSON object in ``line`` gives twice (a parser would silently keep
    the last value), or None."""
    found: list[tuple[str, dict[str, Any]]] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    found.append((key, obj))
                    break
                seen.add(key)
        return obj

    try:
        row = json.loads(line, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return None  # the parser that read the row judged it; nothing more to say here
    for key, obj in found:
        if obj is row:
            return RowProblem(
                key,
                f"`{shorten(key, 60)}` is given twice in the row; JSON keys must be unique "
                "(which value is meant?)",
            )
    if found:
        return RowProblem(
            "payload",
            f"`payload`: key `{shorten(found[0][0], 60)}` is given twice in one JSON object; "
            "keys must be unique (which value is meant?)",
        )
    return None


def may_repeat_a_key(line: str, rec: SignalRecord, payload_json: str) -> bool:
    """Cheap test, exact in one direction: False means no JSON object in ``line`` gives a key
    twice; True means :func:`repeated_key` must look.

    Every key is a string followed by ``:``; written without space before the colon, each
    shows as ``":`` (inside strings that pair is always ``\\":``). So when no string is
    followed by whitespace (a tab or carriage return can only be such whitespace: strings
    escape them) and ``":`` occurs exactly as often as the record's fields plus the canonical
    payload's keys (which hold no ``\\":``), no key was given twice.
    """
    return (
        line.count('":') != len(rec.model_fields_set) + payload_json.count('":')
        or "\\" in payload_json  # (only a backslash can precede a `":` inside a string)
        or '" ' in line
        or "\t" in line  # a tab or carriage return in a valid line is space between tokens
        or "\r" in line
    )
