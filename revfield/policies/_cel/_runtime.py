"""Runtime: CEL semantics on plain Python values — everything a compiled condition calls
while it evaluates.

Values: ``bool``, ``int`` (64-bit), ``float`` (double), ``str``, ``None``, ``list``, ``dict``,
aware ``datetime`` (timestamp), ``timedelta`` (duration) and :class:`OptionalValue`. Python's
own rules differ in places that matter (``True == 1``, unbounded ints, floor division), so
operators that can meet such values go through these functions. Timestamps and durations
(parsing, printing, ranges, time zones) are in ``_time``.

The generated code calls them through its globals, :func:`namespace`, under ``_``-prefixed
names (``_eq``, ``_add``, ``_get``, ``_all``…). Every failure is a :class:`CelEvalError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from revfield.policies._cel._errors import CelEvalError
from revfield.policies._cel._time import (
    check_duration,
    check_timestamp,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    timestamp_from_seconds,
)

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "NONE",
    "OptionalValue",
    "add",
    "check_int",
    "div",
    "eq",
    "kind",
    "less",
    "list_position",
    "lookup",
    "map_literal",
    "mod",
    "mul",
    "namespace",
    "neg",
    "order",
    "parse_duration",
    "parse_timestamp",
    "regex",
    "size",
    "sub",
    "to_double",
    "to_duration",
    "to_int",
    "to_string",
    "to_timestamp",
    "ts_sub",
]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OptionalValue:
    """CEL's optional value: ``optional.of(value)``, or ``optional.none()`` (:data:`NONE`)."""

    __slots__ = ("present", "value")

    def __init__(self, present: bool, value: Any = None) -> None:
        self.present = present
        self.value = value

    def __repr__(self) -> str:
        return f"optional.of({self.value!r})" if self.present else "optional.none()"


NONE = OptionalValue(False)
"""``optional.none()``."""


def kind(value: Any) -> str:
    """The CEL type name of a run-time value (``int``, ``map``…)."""
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
    if isinstance(value, OptionalValue):
        return "optional_type"
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
    if ka == "optional_type":
        return a.present == b.present and (not a.present or eq(a.value, b.value))
    return bool(a == b)


def less(a: Any, b: Any) -> bool:
    """CEL ``a < b``; an error between kinds that have no order, or with NaN."""
    ka, kb = kind(a), kind(b)
    if (ka == "double" and math.isnan(a)) or (kb == "double" and math.isnan(b)):
        raise CelEvalError("no such overload: ordering with NaN")
    if ka == kb and ka in ("int", "double", "string", "bool", "timestamp", "duration"):
        return bool(a < b)
    if _numeric(ka) and _numeric(kb):
        return float(a) < float(b)
    raise CelEvalError(f"no such overload: {ka} < {kb}")


def check_int(value: int, op: str) -> int:
    """``value`` if it fits in 64 bits, else an overflow error naming ``op``."""
    if INT_MIN <= value <= INT_MAX:
        return value
    raise CelEvalError(f"integer overflow in {op}")


def add(a: Any, b: Any) -> Any:
    """CEL ``a + b``: two ints or two doubles, text, lists, durations, time plus duration."""
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a + b, "+")
    if ka == kb and ka in ("double", "string", "duration"):
        return check_duration(a + b) if ka == "duration" else a + b
    if ka == kb == "list":
        return list(a) + list(b)
    if (ka, kb) in (("timestamp", "duration"), ("duration", "timestamp")):
        return _shift(a, b)
    raise CelEvalError(f"no such overload: {ka} + {kb}")


def sub(a: Any, b: Any) -> Any:
    """CEL ``a - b``: numbers, durations, timestamps."""
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a - b, "-")
    if ka == kb == "double":
        return a - b
    if ka == kb == "duration":
        return check_duration(a - b)
    if ka == kb == "timestamp":
        return check_duration(a - b)
    if (ka, kb) == ("timestamp", "duration"):
        return _shift(a, -b)
    raise CelEvalError(f"no such overload: {ka} - {kb}")


def mul(a: Any, b: Any) -> Any:
    """CEL ``a * b`` on two ints or two doubles."""
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        return check_int(a * b, "*")
    if ka == kb == "double":
        return a * b
    raise CelEvalError(f"no such overload: {ka} * {kb}")


def div(a: Any, b: Any) -> Any:
    """CEL ``a / b``: ints truncate toward zero; doubles follow IEEE 754."""
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
    """CEL ``a % b`` on ints, with the sign of ``a``."""
    ka, kb = kind(a), kind(b)
    if ka == kb == "int":
        if b == 0:
            raise CelEvalError("modulo by zero")
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    raise CelEvalError(f"no such overload: {ka} % {kb}")


def neg(a: Any) -> Any:
    """CEL ``-a``."""
    k = kind(a)
    if k == "int":
        return check_int(-a, "-")
    if k == "double":
        return -a
    if k == "duration":
        return -a
    raise CelEvalError(f"no such overload: -{k}")


def _shift(a: Any, b: Any) -> datetime:
    when, delta = (a, b) if isinstance(a, datetime) else (b, a)
    try:
        return check_timestamp(when) + delta  # type: ignore[no-any-return]
    except OverflowError:
        raise CelEvalError("timestamp out of range") from None


def ts_sub(a: datetime, b: datetime) -> timedelta:
    """``timestamp - timestamp``: an error when the difference is beyond a duration's range."""
    return check_duration(a - b)


def size(value: Any) -> int:
    """CEL ``size()`` of text, a list or a map."""
    k = kind(value)
    if k in ("string", "list", "map"):
        return len(value)  # strings: code points, as the CEL spec says
    raise CelEvalError(f"no such overload: size({k})")


def to_int(value: Any) -> int:
    """CEL ``int()``."""
    k = kind(value)
    if k == "int":
        return int(value)
    if k == "double":
        if math.isnan(value) or math.isinf(value) or not (INT_MIN < value <= INT_MAX):
            raise CelEvalError(f"double {value} out of int range")
        return int(value)  # truncates toward zero
    if k == "string":
        try:
            return check_int(int(value, 10), "int()")
        except ValueError:
            raise CelEvalError(f"cannot convert `{value}` to int") from None
    if k == "timestamp":
        return (value - _EPOCH) // timedelta(seconds=1)  # type: ignore[no-any-return]
    raise CelEvalError(f"no such overload: int({k})")


def to_double(value: Any) -> float:
    """CEL ``double()``."""
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
    """CEL ``string()``."""
    k = kind(value)
    if k == "string":
        return str(value)
    if k == "bool":
        return "true" if value else "false"
    if k in ("int", "double"):
        return repr(value) if k == "double" else str(value)
    if k == "timestamp":
        return format_timestamp(value)
    if k == "duration":
        return format_duration(value)
    raise CelEvalError(f"no such overload: string({k})")


def to_timestamp(value: Any) -> datetime:
    """CEL ``timestamp()`` of text (RFC 3339) or of seconds since the Unix epoch."""
    k = kind(value)
    if k == "string":
        return parse_timestamp(value)
    if k == "int":
        return timestamp_from_seconds(value)
    if k == "timestamp":
        return check_timestamp(value)
    raise CelEvalError(f"no such overload: timestamp({k})")


def to_duration(value: Any) -> timedelta:
    """CEL ``duration()`` of text (``72h``, ``1h30m``…)."""
    k = kind(value)
    if k == "string":
        return parse_duration(value)
    if k == "duration":
        return check_duration(value)
    raise CelEvalError(f"no such overload: duration({k})")


@lru_cache(maxsize=256)
def regex(pattern: str) -> re.Pattern[str]:
    """The compiled pattern (cached); an invalid one is a :class:`CelEvalError`."""
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


# -- run-time helpers the generated code calls ----------------------------------------------------

_ERRORS = (
    CelEvalError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    ArithmeticError,
    AttributeError,
)


def _junction(op: str, decisive: bool, thunks: tuple[Callable[[], Any], ...]) -> bool:
    """CEL's commutative ``&&`` (``decisive`` False) and ``||`` (True): an operand equal to
    ``decisive`` decides, even past errors in the others; otherwise the first error is raised."""
    error: BaseException | None = None
    for thunk in thunks:
        try:
            value = thunk()
        except _ERRORS as exc:
            error = error or exc
            continue
        if value is True or value is False:
            if value == decisive:
                return decisive
        else:
            error = error or CelEvalError(f"no such overload: {op} on {kind(value)}")
    if error is not None:
        raise _as_eval(error)
    return not decisive


def _all(*thunks: Callable[[], Any]) -> bool:
    return _junction("&&", False, thunks)


def _any(*thunks: Callable[[], Any]) -> bool:
    return _junction("||", True, thunks)


def _as_eval(error: BaseException) -> CelEvalError:
    if isinstance(error, CelEvalError):
        return error
    if isinstance(error, KeyError):
        return CelEvalError(f"no such key: {error}")
    return CelEvalError(str(error) or type(error).__name__)


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise CelEvalError(f"expected true or false, got {kind(value)}")


def _get(value: Any, key: Any) -> Any:
    """``value[key]`` or ``value.key`` on a map, or on a value only known at run time (a list
    in a ``dyn`` is indexed like any list)."""
    if isinstance(value, dict):
        if type(key) is str:  # the usual case: a field of the payload
            if key in value:
                return value[key]
            raise CelEvalError(f"no such key: {key!r}")
        found, item = lookup(value, key)
        if found:
            return item
        raise CelEvalError(f"no such key: {key!r}")
    if isinstance(value, list | tuple):
        return _index(value, key)
    raise CelEvalError(f"no such overload: field or key access on {kind(value)}")


def lookup(mapping: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    """``(True, mapping[key])`` when CEL finds ``key`` in the map, else ``(False, None)``:
    ``1``, ``1u`` and ``1.0`` find the same entry, but ``true`` is not ``1`` (as Python's
    dicts would have it)."""
    k = kind(key)
    if k not in _KEY_KINDS:
        if k == "double":
            if not (math.isfinite(key) and key == int(key)):
                return False, None
            key = int(key)
        else:
            raise CelEvalError(f"no such overload: a map key can't be {_an(k)}")
    if key not in mapping:
        return False, None
    for stored in mapping:
        if stored == key and (type(stored) is bool) == (type(key) is bool):
            return True, mapping[stored]
    return False, None


_KEY_KINDS = ("string", "int", "bool")


def _an(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _has(value: Any, key: str) -> bool:
    if isinstance(value, OptionalValue):
        return value.present and _has(value.value, key)
    if not isinstance(value, dict):
        raise CelEvalError(f"has() on {kind(value)}")
    return key in value


def _index(value: Any, index: Any) -> Any:
    if kind(value) != "list":
        raise CelEvalError(f"no such overload: index on {kind(value)}")
    i = list_position(index)
    if not 0 <= i < len(value):
        raise CelEvalError(f"index out of bounds: {index}")
    return value[i]


def list_position(index: Any) -> int:
    """A list index: an int, or a double with no fractional part (as CEL's heterogeneous
    numbers allow for an index only known at run time)."""
    k = kind(index)
    if k == "int":
        return int(index)
    if k == "double" and math.isfinite(index) and index == int(index):
        return int(index)
    raise CelEvalError(f"invalid_argument: a list index must be an int, not {index!r}")


def map_literal(*items: Any) -> dict[Any, Any]:
    """A map literal ``{k1: v1, k2: v2…}`` (keys and values alternate) whose keys are only
    known at run time: an error if a key repeats, as CEL requires."""
    out: dict[Any, Any] = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if kind(key) not in _KEY_KINDS:
            raise CelEvalError(f"unsupported key type: a map key can't be {_an(kind(key))}")
        if key in out:
            if lookup(out, key)[0]:
                raise CelEvalError(f"Failed with repeated key: {key!r} is in the map twice")
            raise CelEvalError(
                f"the keys true and 1 (or false and 0) can't share a map here: {key!r}"
            )
        out[key] = items[i + 1]
    return out


def _in(item: Any, container: Any) -> bool:
    k = kind(container)
    if k == "list":
        return any(eq(item, x) for x in container)
    if k == "map":
        return any(eq(item, x) for x in container)
    raise CelEvalError(f"no such overload: in {k}")


def _search(rx: Any, text: Any) -> bool:
    if not isinstance(text, str):
        raise CelEvalError(f"matches() on {kind(text)}")
    return rx.search(text) is not None


def _regex(pattern: Any) -> Any:
    if not isinstance(pattern, str):
        raise CelEvalError(f"a matches() pattern must be text, not {kind(pattern)}")
    return regex(pattern)


def _text_method(name: str, target: Any, arg: Any) -> bool:
    if not (isinstance(target, str) and isinstance(arg, str)):
        raise CelEvalError(f"no such overload: {kind(target)}.{name}({kind(arg)})")
    if name == "contains":
        return arg in target
    return target.startswith(arg) if name == "startsWith" else target.endswith(arg)


def _items(value: Any) -> Any:
    k = kind(value)
    if k in ("list", "map"):
        return value
    raise CelEvalError(f"comprehension over {k}")


def _exists(value: Any, pred: Callable[[Any], Any]) -> bool:
    return _any(*(lambda x=x: pred(x) for x in _items(value)))


def _all_of(value: Any, pred: Callable[[Any], Any]) -> bool:
    return _all(*(lambda x=x: pred(x) for x in _items(value)))


def _exists_one(value: Any, pred: Callable[[Any], Any]) -> bool:
    return sum(1 for x in _items(value) if _bool(pred(x))) == 1


def _map(value: Any, fn: Callable[[Any], Any]) -> list[Any]:
    return [fn(x) for x in _items(value)]


def _filter(value: Any, pred: Callable[[Any], Any]) -> list[Any]:
    return [x for x in _items(value) if _bool(pred(x))]


def namespace(consts: list[Any]) -> dict[str, Any]:
    """The globals of a generated function: the helpers its code calls, under the names it
    calls them by, the few builtins it uses, and its constants as ``K``."""
    return {
        "__builtins__": {"len": len, "float": float},
        "K": consts,
        "_eq": eq,
        "_less": less,
        "_order": order,
        "_add": add,
        "_sub": sub,
        "_mul": mul,
        "_div": div,
        "_mod": mod,
        "_neg": neg,
        "_size": size,
        "_to_int": to_int,
        "_to_double": to_double,
        "_to_string": to_string,
        "_timestamp": to_timestamp,
        "_duration": to_duration,
        "_ts_sub": ts_sub,
        "_map_lit": map_literal,
        "_all": _all,
        "_any": _any,
        "_bool": _bool,
        "_get": _get,
        "_has": _has,
        "_index": _index,
        "_in": _in,
        "_search": _search,
        "_regex": _regex,
        "_text_method": _text_method,
        "_exists": _exists,
        "_all_of": _all_of,
        "_exists_one": _exists_one,
        "_map": _map,
        "_filter": _filter,
    }
