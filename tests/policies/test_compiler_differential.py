"""Differential test: the compiled functions agree with the reference CEL interpreter
(the Rust-core ``common-expression-language`` binding) on random well-typed expressions.

Agreement means: the same value, or both raise. Known deviations of the reference from the
CEL specification are kept out of the generated expressions, and revfield follows the spec:
``size()`` of a non-ASCII string (the reference counts bytes, the spec code points),
negating the smallest int (the reference wraps around, the spec says overflow),
``string()`` of a duration or timestamp (the reference prints ``277h46m40s`` and keeps the
offset, the spec ``1000000s`` and UTC), a repeated map-literal key (the reference keeps the
last, the spec says error) and a list index given as a whole double (the reference refuses
it, the spec allows it).

Besides the core (arithmetic, comparisons, logic, text, lists, maps, macros), the shared
subset covers what the reference also implements: CEL's string escapes (``\\?``, ``\\X4c``,
octal, ``\\u``/``\\U``, raw and triple-quoted strings), indexing a list held in a ``dyn``
value, concatenating with an empty list, the optional-value functions (``optional.of``,
``ofNonZeroValue``, ``none``, ``hasValue``, ``value``, ``orValue``, ``or``), ``dyn()``, and
the timestamp and duration accessors read in UTC, with timestamp differences. The reference
has neither the string and math extensions nor ``x.?field``; those are tested against the
specification's own cases in ``test_cel_conformance``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revfield.policies._cel import (
    BOOL,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelEvalError,
    ListType,
    MapType,
    ObjectType,
    compile_cel,
)

cel = pytest.importorskip("cel", reason="the reference interpreter is a dev dependency")

SCHEMA = {
    "a": ObjectType(
        "a",
        {
            "i": INT,
            "j": INT,
            "d": DOUBLE,
            "e": DOUBLE,
            "s": STRING,
            "t": STRING,
            "b": BOOL,
            "l": ListType(STRING),
            "li": ListType(INT),
            "m": MapType(STRING, INT),
            "p": MapType(STRING, DYN),
            "w": TIMESTAMP,
            "v": TIMESTAMP,
            "dur": DURATION,
        },
    ),
    "n": INT,
}
BIG = 2**62
ints = st.one_of(
    st.integers(-5, 5),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, BIG, -BIG, 2**63 - 1, -(2**63)]),
)
doubles = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), st.sampled_from([0.0, 1.5, -2.5])
)
text = st.text(alphabet="abcxyz_", max_size=5)
times = st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
contexts = st.fixed_dictionaries(
    {
        "a": st.fixed_dictionaries(
            {
                "i": ints,
                "j": ints,
                "d": doubles,
                "e": doubles,
                "s": text,
                "t": text,
                "b": st.booleans(),
                "l": st.lists(text, max_size=3),
                "li": st.lists(st.integers(-3, 3), max_size=3),
                "m": st.dictionaries(
                    st.sampled_from(["k", "q", "z"]), st.integers(-3, 3), max_size=3
                ),
                "p": st.fixed_dictionaries(
                    {"items": st.lists(st.integers(-3, 3), max_size=3), "tier": text}
                ),
                "w": times,
                "v": times,
                "dur": st.timedeltas(timedelta(days=-3000), timedelta(days=3000)),
            }
        ),
        "n": ints,
    }
)


def _lit_int(draw) -> str:
    value = draw(st.one_of(st.integers(-3, 9), st.sampled_from([BIG, 2**63 - 1])))
    return f"({value})" if value < 0 else str(value)


def _lit_double(draw) -> str:
    return repr(draw(st.sampled_from([0.0, 0.5, 1.5, 2.0, 100.25])))


def _lit_str(draw) -> str:
    return '"' + draw(text) + '"'


ESCAPES = [r"\n", r"\t", r"\?", r"\"", r"\'", r"\\", r"\`", r"\a", r"\x41", r"\X4c"]
ESCAPES += [r"\101", r"\000", r"\u00e9", r"\U0001F600", "a", "b", "x", " "]
TRIPLE = "'" * 3


def _lit_escaped(draw) -> str:
    """A string literal written with CEL's escapes: quoted, triple-quoted, or raw."""
    pieces = draw(st.lists(st.sampled_from(ESCAPES), max_size=4))
    form = draw(st.integers(0, 3))
    if form == 0:
        return '"' + "".join(pieces) + '"'
    if form == 3:
        return "'" + "".join(pieces) + "'"
    # no quote inside, and no backslash just before the closing quote
    body = "".join(p for p in pieces if p not in (r"\"", r"\'")) + "x"
    if form == 1:
        return TRIPLE + body + TRIPLE
    return 'r"' + body + '"'  # raw: the backslashes stay


TIMESTAMP_ACCESSORS = [
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
]
DURATION_ACCESSORS = ["getHours", "getMinutes", "getSeconds", "getMilliseconds"]


@st.composite
def int_expr(draw, depth: int = 0) -> str:
    leaves = ["a.i", "a.j", "n", _lit_int(draw), "size(a.s)", "size(a.l)"]
    if depth >= 3:
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 9))
    if choice <= 2:
        return draw(st.sampled_from(leaves))
    if choice <= 5:
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({draw(int_expr(depth + 1))} {op} {draw(int_expr(depth + 1))})"
    if choice == 6:
        return (
            f"({draw(bool_expr(depth + 1))} ? {draw(int_expr(depth + 1))} "
            f": {draw(int_expr(depth + 1))})"
        )
    if choice == 7:
        return draw(
            st.sampled_from(
                [
                    "a.li[0]",
                    "a.li[2]",
                    'a.m["k"]',
                    'a.m["q"]',
                    "a.p.items[0]",  # a list held in a dyn value
                    "a.p.items[1]",
                    'a.p["items"][2]',
                    "size([] + a.li)",
                    "size(a.li + [])",
                ]
            )
        )
    if choice == 8:
        return draw(
            st.sampled_from(
                [
                    f"a.w.{draw(st.sampled_from(TIMESTAMP_ACCESSORS))}()",
                    f"a.dur.{draw(st.sampled_from(DURATION_ACCESSORS))}()",
                    f"(a.w - a.v).{draw(st.sampled_from(DURATION_ACCESSORS))}()",
                    f"optional.of({draw(int_expr(depth + 1))}).orValue(0)",
                    f"optional.ofNonZeroValue({draw(int_expr(depth + 1))}).orValue(-1)",
                    f"optional.none().or(optional.of({_lit_int(draw)})).value()",
                    f"dyn({draw(int_expr(depth + 1))})",
                ]
            )
        )
    return f"int({draw(double_expr(depth + 1))})"


@st.composite
def double_expr(draw, depth: int = 0) -> str:
    leaves = ["a.d", "a.e", _lit_double(draw)]
    if depth >= 3:
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 5))
    if choice <= 2:
        return draw(st.sampled_from(leaves))
    if choice <= 4:
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        return f"({draw(double_expr(depth + 1))} {op} {draw(double_expr(depth + 1))})"
    return f"double({draw(int_expr(depth + 1))})"


@st.composite
def string_expr(draw, depth: int = 0) -> str:
    leaves = ["a.s", "a.t", _lit_str(draw), _lit_escaped(draw)]
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 3))
    if choice == 3:
        return draw(
            st.sampled_from(
                [
                    f'optional.ofNonZeroValue({draw(string_expr(depth + 1))}).orValue("-")',
                    f"optional.of({draw(string_expr(depth + 1))}).or(optional.none()).value()",
                    "optional.none().orValue(a.s)",
                ]
            )
        )
    if choice == 0:
        return f"({draw(string_expr(depth + 1))} + {draw(string_expr(depth + 1))})"
    if choice == 1:
        return (
            f"({draw(bool_expr(depth + 1))} ? {draw(string_expr(depth + 1))} "
            f": {draw(string_expr(depth + 1))})"
        )
    return f"string({draw(int_expr(depth + 1))})"


@st.composite
def bool_expr(draw, depth: int = 0) -> str:
    leaves = ["a.b", "true", "false"]
    if depth >= 3:
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 13))
    cmp = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if choice == 0:
        return draw(st.sampled_from(leaves))
    if choice == 1:
        return f"({draw(int_expr(depth + 1))} {cmp} {draw(int_expr(depth + 1))})"
    if choice == 2:
        return f"({draw(double_expr(depth + 1))} {cmp} {draw(double_expr(depth + 1))})"
    if choice == 3:
        return f"({draw(int_expr(depth + 1))} {cmp} {draw(double_expr(depth + 1))})"
    if choice == 4:
        return f"({draw(string_expr(depth + 1))} {cmp} {draw(string_expr(depth + 1))})"
    if choice in (5, 6):
        op = draw(st.sampled_from(["&&", "||"]))
        return f"({draw(bool_expr(depth + 1))} {op} {draw(bool_expr(depth + 1))})"
    if choice == 7:
        return f"!{draw(bool_expr(depth + 1))}"
    if choice == 8:
        return (
            f"({draw(bool_expr(depth + 1))} ? {draw(bool_expr(depth + 1))} "
            f": {draw(bool_expr(depth + 1))})"
        )
    if choice == 9:
        return draw(
            st.sampled_from(
                [
                    f"({draw(string_expr(depth + 1))} in a.l)",
                    f"({draw(int_expr(depth + 1))} in a.li)",
                    f"({_lit_str(draw)} in a.m)",
                    f'({draw(string_expr(depth + 1))} in ["a", "b", "x"])',
                ]
            )
        )
    if choice == 10:
        method = draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
        return f"{draw(string_expr(depth + 1))}.{method}({draw(string_expr(depth + 1))})"
    if choice == 11:
        macro = draw(st.sampled_from(["exists", "all", "exists_one"]))
        return draw(
            st.sampled_from(
                [
                    f'a.l.{macro}(v, v.startsWith("a") || size(v) > 2)',
                    f"a.li.{macro}(v, v > 0 && 10 / v > 2)",
                    f"a.m.{macro}(k, a.m[k] > 0)",
                ]
            )
        )
    if choice == 12:
        return draw(
            st.sampled_from(
                [
                    "has(a.m.k)",
                    "has(a.m.q)",
                    'a.s.matches("^a")',
                    'a.t.matches("x$")',
                    f"({draw(int_expr(depth + 1))} in ([] + a.li))",
                    "optional.ofNonZeroValue(a.s).hasValue()",
                    "optional.ofNonZeroValue(a.li).hasValue()",
                    f"(optional.of({draw(int_expr(depth + 1))}) == optional.of(1))",
                    "optional.none().hasValue()",
                    "(a.w - a.v < a.dur)",
                ]
            )
        )
    return f"({draw(bool_expr(depth + 1))} == {draw(bool_expr(depth + 1))})"


def _ours(source: str, ctx: dict) -> tuple[str, object]:
    try:
        return "value", compile_cel(source, SCHEMA).evaluate(ctx)
    except CelEvalError as exc:
        return "error", str(exc)


def _reference(source: str, ctx: dict) -> tuple[str, object]:
    try:
        return "value", cel.evaluate(source, ctx)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(bool_expr(), int_expr(), double_expr(), string_expr()), ctx=contexts)
def test_compiled_functions_agree_with_the_reference_interpreter(source, ctx):
    ours, ref = _ours(source, ctx), _reference(source, ctx)
    assert ours[0] == ref[0], f"{source!r} on {ctx}: ours {ours}, reference {ref}"
    if ours[0] == "value":
        assert _same(ours[1], ref[1]), (
            f"{source!r} on {ctx}: ours {ours[1]!r}, reference {ref[1]!r}"
        )
