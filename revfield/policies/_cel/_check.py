"""Check: the static type rules, as pure functions over :class:`CelType` — which types can be
compared for equality, ordered, added or subtracted, and to what — and the vocabulary of
functions and methods a condition may call.

The code generator asks these while it walks the tree, and reports a :class:`CelError` at the
node when they say no.
"""

from __future__ import annotations

from revfield.policies._cel._types import (
    BOOL,
    DOUBLE,
    DURATION,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    CelType,
    ListType,
    MapType,
    ObjectType,
)

__all__ = [
    "FUNCTIONS",
    "MACROS",
    "METHODS",
    "ORDERED",
    "an",
    "arith_type",
    "comparable",
    "orderable",
    "plain_eq",
]

FUNCTIONS = ("size", "int", "double", "string", "timestamp", "duration", "has", "matches")
"""Functions a condition may call, as ``name(args)``."""
METHODS = (
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
)
"""Methods a condition may call, as ``target.name(args)``."""
MACROS = ("exists", "all", "exists_one", "map", "filter")
"""Methods that take a variable name and an expression (comprehensions)."""
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
    if isinstance(a, MapType | ObjectType) and isinstance(b, MapType | ObjectType):
        return True
    return a == b


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
    if op == "+" and a == b and (a in (STRING, DURATION) or isinstance(a, ListType)):
        return a
    if op == "+" and {a, b} == {TIMESTAMP, DURATION}:
        return TIMESTAMP
    if op == "-" and a == b == TIMESTAMP:
        return DURATION
    if op == "-" and (a, b) == (TIMESTAMP, DURATION):
        return TIMESTAMP
    if op == "-" and a == b == DURATION:
        return DURATION
    return None
