"""The CEL compiler: semantics, static checks with positions, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revfield.policies._cel import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelError,
    CelEvalError,
    ListType,
    MapType,
    ObjectType,
    compile_cel,
)

ACTION = ObjectType(
    "action",
    {
        "kind": STRING,
        "amount": DOUBLE,
        "n": INT,
        "ok": BOOL,
        "tags": ListType(STRING),
        "payload": MapType(STRING, DYN),
        "when": TIMESTAMP,
    },
)
VARS = {"action": ACTION, "now": TIMESTAMP, "x": DYN}
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CTX = {
    "action": {
        "kind": "send_email",
        "amount": 12.5,
        "n": 3,
        "ok": True,
        "tags": ["vip", "q4"],
        "payload": {"tier": "gold", "seats": 40},
        "when": NOW - timedelta(days=3),
    },
    "now": NOW,
    "x": 7,
}


def ev(source: str, ctx: dict | None = None):
    return compile_cel(source, VARS).evaluate(ctx or CTX)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('action.kind == "send_email"', True),
        ('action.kind != "send_email"', False),
        ("action.amount > 10.0 && action.n >= 3", True),
        ("action.amount > 10", True),  # int and double compare by value
        ("action.n == 3.0", True),
        ("!action.ok || action.n < 2", False),
        ('"vip" in action.tags', True),
        ('action.kind in ["send_email", "notify"]', True),
        ('"tier" in action.payload', True),
        ("action.n + 2 * 3 == 9", True),
        ("7 / 2 == 3 && -7 / 2 == -3 && -7 % 3 == -1", True),
        ("7.0 / 2.0 == 3.5", True),
        ('action.kind + "!" == "send_email!"', True),
        ('action.kind.startsWith("send") && action.kind.endsWith("email")', True),
        ('action.kind.contains("_em")', True),
        ('action.kind.matches("^send_(email|sms)$")', True),
        ('matches(action.kind, "EMAIL")', False),
        ("size(action.tags) == 2 && action.tags.size() == 2 && size(action.kind) == 10", True),
        ('action.tags.exists(t, t.startsWith("q"))', True),
        ("action.tags.all(t, size(t) > 1)", True),
        ("[1, 2, 3].exists_one(v, v > 2)", True),
        ("[1, 2, 3].map(v, v * 2) == [2, 4, 6]", True),
        ("[1, 2, 3].filter(v, v > 1) == [2, 3]", True),
        ('action.payload.tier == "gold"', True),
        ('action.payload["seats"] > 30', True),
        ("has(action.payload.tier) && !has(action.payload.region)", True),
        ('now - action.when > duration("48h")', True),
        ('action.when + duration("72h") == now', True),
        ('now > timestamp("2026-01-01T00:00:00Z")', True),
        ("action.n > 2 ? action.ok : false", True),
        ("int(action.amount) == 12 && double(action.n) == 3.0", True),
        ('string(action.n) == "3"', True),
        ("x > 5", True),
        ('{"a": 1}["a"] == 1', True),
        # CEL's escapes, not Python's
        (r'"a\?b" == "a?b" && "\X4c" == "L" && r"\d" == "\\d"', True),
        # an empty list concatenated
        ("[] + action.tags == action.tags", True),
        # the extensions: strings, math, optional values, time accessors
        ('action.kind.upperAscii().split("_") == ["SEND", "EMAIL"]', True),
        ('action.tags.join(",") == "vip,q4" && " q4 ".trim() in action.tags', True),
        ('action.kind.replace("_", " ", 1).indexOf(" ") == 4', True),
        ("math.greatest(action.n, 2) == 3 && math.least(action.amount, 1.0) == 1.0", True),
        ('action.payload.?tier.orValue("none") == "gold"', True),
        ("action.payload.?region.hasValue()", False),
        ("action.payload.?seats.orValue(0) > 30", True),
        ("now.getDayOfWeek() == 1 && now.getHours('Asia/Tokyo') == 18", True),
        ("(now - action.when).getHours() == 72", True),
    ],
)
def test_semantics(source, expected):
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("action.n / 0 == 1 && false", False),  # error && false == false
        ("false && action.n / 0 == 1", False),
        ("action.n / 0 == 1 || true", True),
        ("true || action.n / 0 == 1", True),
        ('action.payload.missing == 1 || action.kind == "send_email"', True),
    ],
)
def test_errors_are_absorbed_by_a_deciding_operand(source, expected):
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("action.n / 0 == 1", "division by zero"),
        ("action.n % 0 == 1", "modulo by zero"),
        ("9223372036854775807 + action.n > 0", "overflow"),
        ("action.payload.region == 1", "no such key"),
        ('action.tags[5] == "a"', "out of bounds"),
        ('x.contains("a")', "no such overload"),
        ("action.n / 0 == 1 && true", "division by zero"),
        ("int(action.kind) == 1", "cannot convert"),
        # as cel-go: a double at or beyond ±2^63 is out of int range, -2^63 included
        ("int(-9223372036854775808.0) < 0", "out of int range"),
        ("int(-9.223372036854775808e18) < 0", "out of int range"),
        ("int(9223372036854775807.0) > 0", "out of int range"),
        # the difference of two timestamps is a duration, within a duration's range
        ('now - timestamp("1700-01-01T00:00:00Z") > duration("1h")', "duration out of range"),
        ("x[0] == 1", "no such overload"),
        ('action.payload.?tier.value().substring(9) == ""', "index out of range: 9"),
        ('{action.kind: 1, "send_email": 2}.size() == 2', "repeated key"),
        ("now.getHours(action.kind) == 1", "unknown time zone `send_email`"),
    ],
)
def test_run_time_errors_raise_one_error_type(source, message):
    with pytest.raises(CelEvalError, match=message):
        ev(source)


@pytest.mark.parametrize(
    ("source", "message", "column", "help_has"),
    [
        (
            "action.amount_usd > 500",
            "unknown field `amount_usd` on `action`",
            8,
            "did you mean `amount`",
        ),
        ('acton.kind == "x"', "unknown name `acton`; did you mean `action`?", 1, "the context has"),
        ("action.kind > 3", "`>` is not defined between a string and an int", 1, ""),
        ("action.kind == 3", "compares a string with an int", 1, ""),
        ("action.n + 1.5 > 2.0", "`+` is not defined for an int and a double", 1, "double()"),
        ("!action.amount", "`!` must be true or false", 2, ""),
        ("foo(1)", "unknown function `foo`", 1, "functions:"),
        ("action.kind.lower() == 'x'", "unknown method `lower`", 13, "methods:"),
        ("action.kind ==", "syntax error", 15, ""),
        ('(action.kind == "a"', "ends too early; expected `)`", 20, ""),
        ('action.kind = "a"', "syntax error: unexpected", 13, ""),
        ('action.kind.matches("(")', "invalid regular expression", 21, ""),
        ('now > timestamp("yesterday")', "invalid timestamp", 17, ""),
        ('duration("forever") > duration("1h")', "invalid duration", 10, ""),
        # CEL's escapes: `\q` (or `\.` in a regex) is not one
        (r'action.kind == "a\qb"', r"invalid string literal: `\q` is not", 18, "raw string"),
        ('{"a": 1, "a": 2}.size() == 2', 'the map literal repeats the key `"a"`', 10, "once"),
        ('[1] + ["a"] == []', "`+` is not defined for a list(int) and a list(string)", 1, ""),
        ('([] + [1])[0] > "a"', "`>` is not defined between an int and a string", 1, ""),
        # each function of the extensions is checked like the built-in ones
        ('action.tags.join(1) == ""', "argument 1 of `.join()` must be a string", 18, "join("),
        ('action.kind.substring("a") == ""', 'must be an int, but `"a"` is a string', 23, ""),
        ('action.kind.split(",", 1, 2) == []', "`.split()` takes 1 or 2 arguments, not 3", 13, ""),
        ("action.n.lowerAscii() == ''", "`.lowerAscii()` works on a string, not an int", 10, ""),
        ('now.getHours("Nowhere/City") > 1', "unknown time zone `Nowhere/City`", 14, "IANA"),
        ('duration("1h").getDayOfWeek() == 1', "not defined for a duration", 16, "getHours"),
        ("math.least() == 1", "`math.least()` requires at least one argument", 6, "math.least("),
        ('math.greatest(1, "a") == 1', "needs numbers (ints or doubles)", 18, ""),
        ("action.payload.?tier.orValue() == 1", "`.orValue()` takes 1 argument", 22, "default"),
        ("action.kind.hasValue()", "works on an optional value, not a string", 13, "x.?field"),
        ("action.kind.?x == 1", "`.?x`: a string has no fields", 14, "action.payload.?tier"),
        ("action.?amount_usd.hasValue()", "unknown field `amount_usd` on `action`", 9, ""),
        ("optional.none(1).hasValue()", "`optional.none()` takes no arguments", 10, ""),
        ("[?1] == []", "syntax error: unexpected `?`", 2, "optional entries in list and map"),
        ("action.payload?.tier == 1", "syntax error", 26, "written `x.?field`"),
    ],
)
def test_compile_errors_name_the_problem_and_point_at_it(source, message, column, help_has):
    with pytest.raises(CelError) as err:
        compile_cel(source, VARS, expect=BOOL)
    assert message in err.value.message
    assert err.value.column == column
    assert help_has in err.value.help
    rendered = err.value.render()
    assert source.splitlines()[0] in rendered and "^" in rendered


def test_a_condition_must_be_boolean():
    with pytest.raises(CelError, match="must be true or false"):
        compile_cel("action.amount", VARS, expect=BOOL)
    assert compile_cel("x", VARS, expect=BOOL).evaluate({**CTX, "x": True}) is True
    with pytest.raises(CelEvalError, match="expected true or false"):
        compile_cel("x", VARS, expect=BOOL).evaluate(CTX)


def test_size_limits_are_load_errors():
    with pytest.raises(CelError, match="over the 100 limit"):
        compile_cel("action.ok && " * 20 + "true", VARS, max_length=100)
    with pytest.raises(CelError, match="too large"):
        compile_cel(" && ".join(["action.ok"] * 60), VARS, max_nodes=50)
    with pytest.raises(CelError, match="nests 40 levels deep"):
        compile_cel("(" * 40 + "true" + ")" * 40, VARS, max_depth=32)


def test_long_chains_compile_without_recursion_trouble():
    source = " && ".join(f"action.n != {i}" for i in range(300))
    assert compile_cel(source, VARS, max_nodes=5000, max_length=20000).evaluate(CTX) is False


def test_references_are_the_fields_read():
    expr = compile_cel(
        'action.kind == "x" && action.payload.tier == "g" && now > action.when', VARS
    )
    assert expr.references == {"action.kind", "action.payload", "now", "action.when"}
    optional = compile_cel('action.payload.?tier.orValue("") == action.kind', VARS)
    assert optional.references == {"action.payload", "action.kind"}


def test_constants_are_folded_at_compile_time():
    expr = compile_cel('action.kind == "a" + "b" && 2 * 3 == 6', VARS)
    assert "+" not in expr.python and "*" not in expr.python


def test_a_typical_rule_compiles_to_one_inline_expression():
    expr = compile_cel('action.kind == "send_email" && action.amount > 5.0 && action.ok', VARS)
    assert "lambda" not in expr.python and "_all" not in expr.python


def test_size_counts_code_points_as_the_cel_spec_says():
    assert compile_cel('size("héllo") == 5', VARS).evaluate(CTX) is True


def test_negating_the_smallest_int_is_an_overflow_error():
    with pytest.raises(CelEvalError, match="overflow"):
        compile_cel("-x > 0", VARS).evaluate({**CTX, "x": -(2**63)})


def test_an_optional_default_is_evaluated_only_when_needed():
    assert ev("action.payload.?seats.orValue(action.n / 0) == 40") is True
    with pytest.raises(CelEvalError, match="division by zero"):
        ev("action.payload.?region.orValue(action.n / 0) == 40")


def test_constant_calls_of_the_extensions_are_folded():
    expr = compile_cel(
        '"A-B".lowerAscii().split("-") == ["a", "b"] && math.greatest(1, 2) == 2', VARS
    )
    assert "_split" not in expr.python and "_greatest" not in expr.python
    assert expr.evaluate(CTX) is True


def test_a_time_zone_written_in_the_rule_is_resolved_once_at_compile_time():
    expr = compile_cel('now.getDayOfWeek("Europe/Paris") == 1', VARS)
    assert "Europe/Paris" not in expr.python
    assert expr.evaluate(CTX) is True


def test_an_empty_list_takes_the_type_of_what_it_is_added_to():
    assert compile_cel("[] + [1]", VARS).result_type == ListType(INT)
    assert compile_cel("action.tags + []", VARS).result_type == ListType(STRING)
    assert compile_cel("[] + []", VARS).result_type == ListType(DYN)
