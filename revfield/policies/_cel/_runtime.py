"""CEL run-time semantics on plain Python values.

Values: ``bool``, ``int`` (64-bit), ``float`` (double), ``str``, ``None``, ``list``, ``dict``,
aware ``datetime`` (timestamp) and ``timedelta`` (duration). Python's own rules differ in
places that matter (``True == 1``, unbounded ints, floor division), so operators that can meet
such values go through these functions.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from revfield.policies._cel._errors import CelEvalError

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "add",
    "check_int",
    "div",
    "eq",
    "kind",
    "less",
    "mod",
    "mul",
    "neg",
    "order",
    "parse_duration",
    "parse_timestamp",
    "regex",
    "size",
    "sub",
    "to_double",
    "to_int",
    "to_string",
]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_DURATION = timedelta(days=3650 * 100)


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, timedelta):
        return "duration"
    return type(value).__name__


def _numeric(k: str) -> bool:
    return k in ("int", "double")


def eq(a: Any, b: Any) -> bool:
    """CEL equality: values of different kinds are unequal, except int and double, which
    compare as doubles (as the reference interpreter does)."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return _numeric(ka) and _numeric(kb) and float(a) == float(b)
    if ka == "list":
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))
    if ka == "map":
        return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)
    return bool(a == b)


def less(a: Any, b: Any) -> bool:
    ka, kb = kind(a), kind(b)
    if (ka == "double" and math.isnan(a)) or (kb == "double" and math.isnan(b)):
        raise CelEvalError("no such overload: ordering with NaN")
    if ka == kb and ka in ("int", "double", "string", "bool", "timestamp", "duration"):
        return bool(a < b)
    if _numeric(ka) and _numeric(kb):
        return float(a) < float(b)
    raise CelEvalError(f"no such overload: {ka} < {kb}")


def check_int(value: int, op: str) -> int:
    if INT_MIN <= value <= INT_MAX:
        return value
    raise CelEvalError(f"integer overflow in {op}")


def add(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a + b, "+")
    if ka == kb and ka in ("double", "string", "duration"):
        return _check_duration(a + b) if ka == "duration" else a + b
    if ka == kb == "list":
        return list(a) + list(b)
    if (ka, kb) in (("timestamp", "duration"), ("duration", "timestamp")):
        return _shift(a, b)
    raise CelEvalError(f"no such overload: {ka} + {kb}")


def sub(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a - b, "-")
    if ka == kb == "double":
        return a - b
    if ka == kb == "duration":
        return _check_duration(a - b)
    if ka == kb == "timestamp":
        return a - b
    if (ka, kb) == ("timestamp", "duration"):
        return _shift(a, -b)
    raise CelEvalError(f"no such overload: {ka} - {kb}")


def mul(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a * b, "*")
    if ka == kb == "double":
        return a * b
    raise CelEvalError(f"no such overload: {ka} * {kb}")


def div(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        if b == 0:
            raise CelEvalError("division by zero")
        q = abs(a) // abs(b)
        return check_int(q if (a < 0) == (b < 0) else -q, "/")
    if ka == kb == "double":
        if b == 0.0:  # IEEE 754, as CEL specifies for doubles
            return (
                math.nan
                if a == 0.0 or math.isnan(a)
                else math.copysign(math.inf, a) * math.copysign(1.0, b)
            )
        return a / b
    raise CelEvalError(f"no such overload: {ka} / {kb}")


def mod(a: Any, b: Any) -> Any:
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        if b == 0:
            raise CelEvalError("modulo by zero")
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    raise CelEvalError(f"no such overload: {ka} % {kb}")


def neg(a: Any) -> Any:
    k = kind(a)
    if k == "int":
        return check_int(-a, "-")
    if k == "double":
        return -a
    if k == "duration":
        return -a
    raise CelEvalError(f"no such overload: -{k}")


def _check_duration(value: timedelta) -> timedelta:
    if abs(value) > MAX_DURATION:
        raise CelEvalError("duration out of range")
    return value


def _shift(a: Any, b: Any) -> datetime:
    when, delta = (a, b) if isinstance(a, datetime) else (b, a)
    try:
        return when + delta  # type: ignore[no-any-return]
    except OverflowError:
        raise CelEvalError("timestamp out of range") from None


def size(value: Any) -> int:
    k = kind(value)
    if k in ("string", "list", "map"):
        return len(value)  # strings: code points, as the CEL spec says
    raise CelEvalError(f"no such overload: size({k})")


def to_int(value: Any) -> int:
    k = kind(value)
    if k == "int":
        return int(value)
    if k == "double":
        if math.isnan(value) or math.isinf(value) or not (INT_MIN <= value <= INT_MAX):
            raise CelEvalError(f"double {value} out of int range")
        return int(value)  # truncates toward zero
    if k == "string":
        try:
            return check_int(int(value, 10), "int()")
        except ValueError:
            raise CelEvalError(f"cannot convert `{value}` to int") from None
    if k == "timestamp":
        return int(value.timestamp())
    raise CelEvalError(f"no such overload: int({k})")


def to_double(value: Any) -> float:
    k = kind(value)
    if k in ("int", "double"):
        return float(value)
    if k == "string":
        try:
            return float(value)
        except ValueError:
            raise CelEvalError(f"cannot convert `{value}` to double") from None
    raise CelEvalError(f"no such overload: double({k})")


def to_string(value: Any) -> str:
    k = kind(value)
    if k == "string":
        return str(value)
    if k == "bool":
        return "true" if value else "false"
    if k in ("int", "double"):
        return repr(value) if k == "double" else str(value)
    if k == "timestamp":
        return str(value.astimezone(UTC).isoformat()).replace("+00:00", "Z")
    if k == "duration":
        return f"{value.total_seconds():g}s"
    raise CelEvalError(f"no such overload: string({k})")


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|m|s|ms|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> timedelta:
    """Go-style durations: ``72h``, ``1h30m``, ``90s``, ``250ms``, ``-2.5h``."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    pos, seconds = 0, 0.0
    if body == "0":
        return timedelta(0)
    for match in _DURATION.finditer(body):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        raise CelEvalError(f"invalid duration `{text}` (expected e.g. 72h, 1h30m, 90s)")
    try:
        return _check_duration(timedelta(seconds=sign * seconds))
    except OverflowError:
        raise CelEvalError(f"duration `{text}` out of range") from None


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with a time zone: ``2026-11-02T09:30:00Z``."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise CelEvalError(
            f"invalid timestamp `{text}` (expected RFC 3339, e.g. 2026-11-02T09:30:00Z)"
        ) from None
    if value.tzinfo is None:
        raise CelEvalError(f"timestamp `{text}` has no time zone")
    return value


@lru_cache(maxsize=256)
def regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise CelEvalError(f"invalid regular expression `{pattern}`: {exc}") from None


def order(op: str, a: Any, b: Any) -> bool:
    """``a op b`` for ``<``, ``<=``, ``>``, ``>=``, with CEL's rules (ordering NaN is an error)."""
    if op == "<":
        return less(a, b)
    if op == ">":
        return less(b, a)
    if op == "<=":
        return not less(b, a)
    return not less(a, b)
