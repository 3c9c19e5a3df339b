"""Differential test: the compiled functions agree with the reference CEL interpreter
(the Rust-core ``common-expression-language`` binding) on random well-typed expressions.

Agreement means: the same value, or both raise. Two known deviations of the reference from
the CEL specification are kept out of the generated expressions, and revfield follows the
spec: ``size()`` of a non-ASCII string (the reference counts bytes, the spec code points)
and negating the smallest int (the reference wraps around, the spec says overflow).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revfield.policies._cel import (
    BOOL,
    DOUBLE,
    INT,
    STRING,
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


@st.composite
def int_expr(draw, depth: int = 0) -> str:
    leaves = ["a.i", "a.j", "n", _lit_int(draw), "size(a.s)", "size(a.l)"]
    if depth >= 3:
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 8))
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
        return draw(st.sampled_from(["a.li[0]", "a.li[2]", 'a.m["k"]', 'a.m["q"]']))
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
    leaves = ["a.s", "a.t", _lit_str(draw)]
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(leaves))
    choice = draw(st.integers(0, 2))
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
            st.sampled_from(["has(a.m.k)", "has(a.m.q)", 'a.s.matches("^a")', 'a.t.matches("x$")'])
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
