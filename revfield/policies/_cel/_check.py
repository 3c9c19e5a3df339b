"""Check: the static type rules, as pure functions over :class:`CelType` — which types can be
compared for equality, ordered, added or subtracted, and to what — and the vocabulary of
functions and methods a condition may call, with the signatures of those from CEL's standard
extensions (strings, math, optional values, time accessors).

The code generator asks these while it walks the tree, and reports a :class:`CelError` at the
node when they say no.
"""

from __future__ import annotations

from revfield.policies._cel._types import (
    BOOL,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    CelType,
    ListType,
    MapType,
    ObjectType,
    OptionalType,
)

__all__ = [
    "DURATION_METHODS",
    "FUNCTIONS",
    "LIST_METHODS",
    "MACROS",
    "METHODS",
    "NAMESPACED",
    "OPTIONAL_METHODS",
    "ORDERED",
    "STRING_METHODS",
    "TIMESTAMP_METHODS",
    "Overload",
    "an",
    "arith_type",
    "comparable",
    "join",
    "orderable",
    "plain_eq",
]

FUNCTIONS = (
    "size",
    "int",
    "double",
    "string",
    "timestamp",
    "duration",
    "dyn",
    "has",
    "matches",
)
"""Functions a condition may call, as ``name(args)``."""

Overload = tuple[tuple[CelType, ...], CelType]
"""The argument types of one form of a method, and its result type."""
STRING_METHODS: dict[str, tuple[tuple[Overload, ...], str]] = {
    "lowerAscii": ((((), STRING),), "text.lowerAscii()"),
    "upperAscii": ((((), STRING),), "text.upperAscii()"),
    "trim": ((((), STRING),), "text.trim()"),
    "split": (
        (((STRING,), ListType(STRING)), ((STRING, INT), ListType(STRING))),
        "text.split(separator) or text.split(separator, max_parts)",
    ),
    "replace": (
        (((STRING, STRING), STRING), ((STRING, STRING, INT), STRING)),
        "text.replace(old, new) or text.replace(old, new, max_count)",
    ),
    "indexOf": (
        (((STRING,), INT), ((STRING, INT), INT)),
        "text.indexOf(part) or text.indexOf(part, from_index)",
    ),
    "lastIndexOf": (
        (((STRING,), INT), ((STRING, INT), INT)),
        "text.lastIndexOf(part) or text.lastIndexOf(part, from_index)",
    ),
    "substring": (
        (((INT,), STRING), ((INT, INT), STRING)),
        "text.substring(start) or text.substring(start, end)",
    ),
    "charAt": ((((INT,), STRING),), "text.charAt(index)"),
}
"""cel-go's string extension: each method's forms (on a string) and how it is called."""
LIST_METHODS: dict[str, tuple[tuple[Overload, ...], str]] = {
    "join": ((((), STRING), ((STRING,), STRING)), "list.join() or list.join(separator)"),
}
"""Methods on a list of strings."""
TIMESTAMP_METHODS = (
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
)
"""Accessors of a timestamp, each with an optional time zone argument."""
DURATION_METHODS = ("getHours", "getMinutes", "getSeconds", "getMilliseconds")
"""Accessors of a duration (no time zone)."""
OPTIONAL_METHODS = ("hasValue", "value", "orValue", "or", "optMap", "optFlatMap")
"""Methods of an optional value."""
NAMESPACED = {
    "math": ("greatest", "least"),
    "optional": ("of", "none", "ofNonZeroValue"),
}
"""Functions called with a namespace, as ``math.greatest(…)``."""
MACROS = ("exists", "all", "exists_one", "map", "filter", "optMap", "optFlatMap")
"""Methods that take a variable name and an expression (comprehensions)."""
METHODS = tuple(
    dict.fromkeys(
        (
            "size",
            "contains",
            "startsWith",
            "endsWith",
            "matches",
            "exists",
            "all",
            "exists_one",
            "map",
            "filter",
            *STRING_METHODS,
            *LIST_METHODS,
            *TIMESTAMP_METHODS,
            *OPTIONAL_METHODS,
        )
    )
)
"""Methods a condition may call, as ``target.name(args)``."""
ORDERED = (INT, DOUBLE, STRING, BOOL, TIMESTAMP, DURATION)
"""Types with an order of their own (numbers also order across int and double)."""


def an(t: CelType) -> str:
    """The type with its article, for messages: ``an int``, ``a string``."""
    name = str(t)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def comparable(a: CelType, b: CelType) -> bool:
    """Whether ``==`` between these types can ever be true (else it is a compile error)."""
    if a.is_dyn or b.is_dyn or a == NULL or b == NULL:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    if isinstance(a, ListType) and isinstance(b, ListType):
        return comparable(a.elem, b.elem)
    if isinstance(a, OptionalType) and isinstance(b, OptionalType):
        return comparable(a.elem, b.elem)
    if isinstance(a, MapType | ObjectType) and isinstance(b, MapType | ObjectType):
        return True
    return a == b


def join(a: CelType, b: CelType) -> CelType:
    """The type of a value that is either an ``a`` or a ``b`` (the two branches of ``? :``,
    the elements of a list literal): the type itself when they agree, else ``dyn`` where
    they differ."""
    if a == b:
        return a
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType(join(a.elem, b.elem))
    if isinstance(a, OptionalType) and isinstance(b, OptionalType):
        return OptionalType(join(a.elem, b.elem))
    if isinstance(a, MapType) and isinstance(b, MapType):
        return MapType(join(a.key, b.key), join(a.value, b.value))
    return DYN


def plain_eq(a: CelType, b: CelType) -> bool:
    """Python's ``==`` equals CEL's here (no bool/int confusion, no containers)."""
    if a in (STRING, TIMESTAMP, DURATION, BOOL) and a == b:
        return True
    return a.is_numeric and b.is_numeric


def orderable(a: CelType, b: CelType) -> bool:
    """Whether ``<``, ``<=``, ``>``, ``>=`` are defined between these types."""
    if a.is_dyn or b.is_dyn:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    return a == b and a in ORDERED


def arith_type(op: str, a: CelType, b: CelType) -> CelType | None:
    """The result type of ``a op b`` for ``+ - * / %`` on static types; None if undefined."""
    if a == b and a in (INT, DOUBLE) and (op != "%" or a == INT):
        return a
    if op == "+" and a == b and a in (STRING, DURATION):
        return a
    if op == "+" and isinstance(a, ListType) and isinstance(b, ListType):
        # ``[] + [1]``: an empty literal is a list of anything; lists of two different known
        # element types don't concatenate (as cel-go's checker)
        if a.elem == b.elem or a.elem.is_dyn or b.elem.is_dyn:
            return ListType(join(a.elem, b.elem))
        return None
    if op == "+" and {a, b} == {TIMESTAMP, DURATION}:
        return TIMESTAMP
    if op == "-" and a == b == TIMESTAMP:
        return DURATION
    if op == "-" and (a, b) == (TIMESTAMP, DURATION):
        return TIMESTAMP
    if op == "-" and a == b == DURATION:
        return DURATION
    return None
