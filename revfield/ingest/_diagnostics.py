"""Turn a rejected signal record into one line a person can act on, naming the field."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from revfield._text import did_you_mean, shorten
from revfield.domain import SignalKind
from revfield.errors import RevfieldError
from revfield.ingest._schema import MAX_TEXT_CHARS, SIGNAL_FIELDS

__all__ = ["RowProblem", "describe"]

KINDS = [k.value for k in SignalKind]


class RowProblem(RevfieldError):
    """A row that can't be accepted: ``field`` (if one is to blame) and the reason."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def describe(exc: ValidationError) -> RowProblem:
    """The first error of ``exc`` as a :class:`RowProblem`, with the others counted."""
    errors = exc.errors(include_url=False)
    field, reason = _one(errors[0])
    others = len(errors) - 1
    if others:
        more = ", ".join(f"`{'.'.join(map(str, e['loc']))}`" for e in errors[1:4] if e["loc"])
        reason += (
            f" (and {others} more problem{'s' if others > 1 else ''}{': ' + more if more else ''})"
        )
    return RowProblem(field, reason)


def _one(err: ErrorDetails) -> tuple[str | None, str]:
    kind = err["type"]
    loc = ".".join(str(p) for p in err["loc"])
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "json_invalid":
        detail = str(ctx.get("error", err["msg"])).replace(" at line 1 column ", " at column ")
        return None, f"malformed JSON: {detail}"
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
        return loc, f"`{loc}` is not a signal field{hint}"
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
    if kind == "timestamp_number":
        return loc, f"`{loc}`: {err['msg']}"
    if kind == "value_error":
        return loc, f"`{loc}`: {err['msg'].removeprefix('Value error, ')}"
    return loc or None, f"`{loc}`: {err['msg'].lower()} (got {shorten(value, 40)})"
