"""Library: the run-time side of what revfield adds from CEL's standard extensions — the
string functions (cel-go's ``ext.Strings``), ``math.greatest`` / ``math.least`` (``ext.Math``),
optional values (``optional.of``, ``x.?field``, ``orValue``…) and the timestamp and duration
accessors (``getDayOfWeek("Europe/Paris")``…).

Strings are indexed by code point, as CEL does. Each function checks the kinds of its
arguments, because a value only known at run time (``dyn``) reaches it unchecked; an
argument of the wrong kind is ``no such overload``. The code generator calls these under the
names in :data:`HELPERS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from revfield.policies._cel._errors import CelEvalError
from revfield.policies._cel._runtime import NONE, OptionalValue, kind, list_position, lookup
from revfield.policies._cel._time import (
    DURATION_ACCESSORS,
    TIMESTAMP_ACCESSORS,
    duration_part,
    time_zone,
    timestamp_part,
)

__all__ = ["HELPERS"]


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise CelEvalError(f"no such overload: {function} on {kind(value)}")
    return value


def _int(value: Any, function: str) -> int:
    if kind(value) != "int":
        raise CelEvalError(f"no such overload: {function} with {kind(value)}")
    return int(value)


# -- strings ---------------------------------------------------------------------------------

_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode's White_Space characters: what ``trim()`` removes (as Go's ``unicode.IsSpace``)."""


def lower_ascii(s: Any) -> str:
    """``s.lowerAscii()``: A–Z to a–z; every other character as it is."""
    return _text(s, "lowerAscii").translate(_LOWER)


def upper_ascii(s: Any) -> str:
    """``s.upperAscii()``: a–z to A–Z; every other character as it is."""
    return _text(s, "upperAscii").translate(_UPPER)


def trim(s: Any) -> str:
    """``s.trim()``: without the white space at either end."""
    return _text(s, "trim").strip(_SPACE)


def split(s: Any, sep: Any, limit: Any = -1) -> list[str]:
    """``s.split(sep)``, ``s.split(sep, n)``: at most ``n`` parts (all when ``n`` < 0, none
    when 0); an empty separator splits between characters."""
    text, sep, n = _text(s, "split"), _text(sep, "split"), _int(limit, "split")
    if n == 0:
        return []
    if sep == "":
        parts = list(text)
        return parts if n < 0 or len(parts) <= n else [*parts[: n - 1], text[n - 1 :]]
    return text.split(sep) if n < 0 else text.split(sep, n - 1)


def replace(s: Any, old: Any, new: Any, limit: Any = -1) -> str:
    """``s.replace(old, new)``, ``s.replace(old, new, n)``: the first ``n`` occurrences
    (all when ``n`` < 0)."""
    text, old, new = _text(s, "replace"), _text(old, "replace"), _text(new, "replace")
    n = _int(limit, "replace")
    return text.replace(old, new, n if n >= 0 else -1)


def _offset(value: Any, text: str, function: str) -> int:
    i = _int(value, function)
    if not 0 <= i <= len(text):
        raise CelEvalError(f"index out of range: {i}")
    return i


def index_of(s: Any, sub: Any, offset: Any = 0) -> int:
    """``s.indexOf(sub)``, ``s.indexOf(sub, from)``: where ``sub`` first starts at or after
    ``from`` (in characters), or -1; ``from`` must be within the text."""
    text, sub = _text(s, "indexOf"), _text(sub, "indexOf")
    return text.find(sub, _offset(offset, text, "indexOf"))


def last_index_of(s: Any, sub: Any, offset: Any = None) -> int:
    """``s.lastIndexOf(sub)``, ``s.lastIndexOf(sub, from)``: where ``sub`` last starts at or
    before ``from``, or -1; ``from`` must be within the text."""
    text, sub = _text(s, "lastIndexOf"), _text(sub, "lastIndexOf")
    if offset is None:
        return text.rfind(sub)
    end = _offset(offset, text, "lastIndexOf")
    return text.rfind(sub, 0, end + len(sub))


def substring(s: Any, start: Any, end: Any = None) -> str:
    """``s.substring(start)``, ``s.substring(start, end)``: characters ``start`` up to (not
    including) ``end``; both within the text, ``start`` not after ``end``."""
    text = _text(s, "substring")
    i = _int(start, "substring")
    j = len(text) if end is None else _int(end, "substring")
    if end is not None and i > j:
        raise CelEvalError(f"invalid substring range. start: {i}, end: {j}")
    for k in (i, j):
        if not 0 <= k <= len(text):
            raise CelEvalError(f"index out of range: {k}")
    return text[i:j]


def char_at(s: Any, index: Any) -> str:
    """``s.charAt(i)``: the character at ``i``; ``""`` at the end of the text."""
    text = _text(s, "charAt")
    i = _offset(index, text, "charAt")
    return text[i : i + 1]


def join(items: Any, sep: Any = "") -> str:
    """``list.join()``, ``list.join(sep)``: the strings of the list, ``sep`` between them."""
    if kind(items) != "list":
        raise CelEvalError(f"no such overload: join on {kind(items)}")
    return _text(sep, "join").join([_text(item, "join") for item in items])


# -- math ------------------------------------------------------------------------------------


def _number(value: Any, function: str) -> Any:
    k = kind(value)
    if k not in ("int", "double"):
        raise CelEvalError(f"no such overload: {function} of {k}")
    if k == "double" and math.isnan(value):
        raise CelEvalError(f"{function}: NaN values cannot be ordered")
    return value


def _extreme(values: Any, function: str, better: Callable[[Any, Any], bool]) -> Any:
    if kind(values) != "list":
        raise CelEvalError(f"no such overload: {function} of {kind(values)}")
    if not values:
        raise CelEvalError(f"{function}(list) argument must not be empty")
    best = _number(values[0], function)
    for value in values[1:]:
        if better(_number(value, function), best):  # ties keep the earlier value
            best = value
    return best


def greatest(values: Any, one: bool = False) -> Any:
    """``math.greatest(a, b…)`` (``values`` the arguments) or ``math.greatest(list)``: the
    largest number, compared by value across int and double; the first of equals. With
    ``one``, ``values`` is a single argument known only at run time, a number or a list."""
    if one and kind(values) != "list":
        values = (values,)
    return _extreme(values, "math.greatest", lambda a, b: a > b)


def least(values: Any, one: bool = False) -> Any:
    """``math.least(…)``: the smallest number; the first of equals (as :func:`greatest`)."""
    if one and kind(values) != "list":
        values = (values,)
    return _extreme(values, "math.least", lambda a, b: a < b)


# -- optional values -------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _optional(value: Any, function: str) -> OptionalValue:
    if not isinstance(value, OptionalValue):
        raise CelEvalError(f"no such overload: {function} on {kind(value)}")
    return value


def of(value: Any) -> OptionalValue:
    """``optional.of(value)``."""
    return OptionalValue(True, value)


def of_non_zero(value: Any) -> OptionalValue:
    """``optional.ofNonZeroValue(value)``: none for a zero value (``null``, ``false``, ``0``,
    ``""``, an empty list or map, a zero duration, the Unix epoch)."""
    k = kind(value)
    if k in ("null", "bool", "string", "list", "map", "duration"):
        zero = not value
    elif k in ("int", "double"):
        zero = value == 0
    else:
        zero = k == "timestamp" and value == _EPOCH
    return NONE if zero else of(value)


def select(target: Any, name: str) -> OptionalValue:
    """``target.?name``, and ``.name`` on an optional value: the field or key if present,
    else ``optional.none()``; none stays none."""
    if isinstance(target, OptionalValue):
        if not target.present:
            return NONE
        target = target.value
    if isinstance(target, dict):
        return OptionalValue(True, target[name]) if name in target else NONE
    raise CelEvalError(f"no such key: {name!r} on {kind(target)}")


def index(target: Any, key: Any) -> OptionalValue:
    """``target[?key]``, and ``[key]`` on an optional value: the element or entry if present,
    else ``optional.none()``; none stays none."""
    if isinstance(target, OptionalValue):
        if not target.present:
            return NONE
        target = target.value
    if isinstance(target, dict):
        found, value = lookup(target, key)
        return OptionalValue(True, value) if found else NONE
    if isinstance(target, list | tuple):
        i = list_position(key)
        return OptionalValue(True, target[i]) if 0 <= i < len(target) else NONE
    raise CelEvalError(f"no such overload: index on {kind(target)}")


def has_value(target: Any) -> bool:
    """``opt.hasValue()``."""
    return _optional(target, "hasValue").present


def value(target: Any) -> Any:
    """``opt.value()``: the value; an error on ``optional.none()``."""
    opt = _optional(target, "value")
    if not opt.present:
        raise CelEvalError("optional.none() dereference")
    return opt.value


def or_value(target: Any, default: Callable[[], Any]) -> Any:
    """``opt.orValue(default)``: the value, else ``default`` (evaluated only then)."""
    opt = _optional(target, "orValue")
    return opt.value if opt.present else default()


def or_optional(target: Any, other: Callable[[], Any]) -> OptionalValue:
    """``opt.or(other)``: ``opt`` if it has a value, else ``other`` (evaluated only then)."""
    if _optional(target, "or").present:
        return target  # type: ignore[no-any-return]
    return _optional(other(), "or")


def opt_map(target: Any, fn: Callable[[Any], Any]) -> OptionalValue:
    """``opt.optMap(x, expr)``: ``optional.of(expr)`` with ``x`` the value, else none."""
    opt = _optional(target, "optMap")
    return OptionalValue(True, fn(opt.value)) if opt.present else NONE


def opt_flat_map(target: Any, fn: Callable[[Any], Any]) -> OptionalValue:
    """``opt.optFlatMap(x, expr)``: ``expr`` (itself optional) with ``x`` the value, else
    none."""
    opt = _optional(target, "optFlatMap")
    return _optional(fn(opt.value), "optFlatMap") if opt.present else NONE


# -- timestamps and durations ----------------------------------------------------------------


def time_part(name: str, target: Any, zone: Any = None) -> int:
    """``target.name()`` or ``target.name(zone)`` on a value only known at run time: a
    timestamp (in ``zone``, a name or an offset) or a duration (no zone)."""
    if isinstance(target, datetime) and name in TIMESTAMP_ACCESSORS:
        if zone is None:
            return timestamp_part(name, target)
        return timestamp_part(name, target, _zone(zone))
    if isinstance(target, timedelta) and name in DURATION_ACCESSORS and zone is None:
        return duration_part(name, target)
    raise CelEvalError(f"no such overload: {kind(target)}.{name}()")


def _zone(zone: Any) -> tzinfo:
    return time_zone(_text(zone, "a time zone"))


def timestamp_in(name: str, target: datetime, zone: Any) -> int:
    """``timestamp.name(zone)`` with the zone only known at run time."""
    return timestamp_part(name, target, _zone(zone))


HELPERS: dict[str, Any] = {
    "_lower_ascii": lower_ascii,
    "_upper_ascii": upper_ascii,
    "_trim": trim,
    "_split": split,
    "_replace": replace,
    "_index_of": index_of,
    "_last_index_of": last_index_of,
    "_substring": substring,
    "_char_at": char_at,
    "_join": join,
    "_greatest": greatest,
    "_least": least,
    "_of": of,
    "_of_non_zero": of_non_zero,
    "_NONE": NONE,
    "_opt_select": select,
    "_opt_index": index,
    "_has_value": has_value,
    "_value": value,
    "_or_value": or_value,
    "_or": or_optional,
    "_opt_map": opt_map,
    "_opt_flat_map": opt_flat_map,
    "_time_part": time_part,
    "_timestamp_part": timestamp_part,
    "_timestamp_in": timestamp_in,
    "_duration_part": duration_part,
}
"""The generated code's names for the functions of this module."""
