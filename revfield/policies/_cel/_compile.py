"""Compile CEL into Python functions, checked against a typed schema.

The pipeline: cel-python's Lark parser gives a parse tree; :class:`_Compiler` walks it once,
checking every name and type against the schema (unknown names and type errors are
:class:`CelError` with the position), and emits a Python expression for each node. The
expression of the whole condition becomes the body of one generated function, so evaluating
a rule is one Python call with inline field reads and comparisons.

What can fail at run time (integer overflow, division by zero, a missing map key, a dynamic
value of the wrong kind, conversions) goes through the helpers in ``_runtime``, which raise
:class:`CelEvalError`. Everything the checker proved safe (a typed field read, a comparison of
two strings) is inline Python. ``&&`` and ``||`` keep CEL's commutative error absorption
(``false && error`` and ``error && false`` are both ``false``): operands that cannot fail are
evaluated first and inline, operands that can fail last, through a helper.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import celpy.celparser as celparser
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from revfield._text import closest
from revfield.policies._cel import _runtime as rt
from revfield.policies._cel._errors import CelError, CelEvalError
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
)

__all__ = ["FUNCTIONS", "CompiledExpr", "compile_cel"]

FUNCTIONS = ("size", "int", "double", "string", "timestamp", "duration", "has", "matches")
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
MACROS = ("exists", "all", "exists_one", "map", "filter")
PASS_THROUGH = {
    "expr",
    "conditionalor",
    "conditionaland",
    "relation",
    "addition",
    "multiplication",
    "unary",
    "member",
    "primary",
}
OPS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}
ORDERED = (INT, DOUBLE, STRING, BOOL, TIMESTAMP, DURATION)

_PARSER = celparser.CELParser()
Node = Any  # a lark Tree of the CEL grammar; its children are Trees or Tokens


@dataclass(frozen=True)
class CompiledExpr:
    source: str
    result_type: CelType
    references: frozenset[str]
    """Dotted paths the expression reads (``action.kind``); bare names for whole variables."""
    evaluate: Callable[[Mapping[str, Any]], Any]
    """The compiled function: ``evaluate(context)``; raises :class:`CelEvalError`."""
    python: str = field(repr=False, default="")
    """The generated Python, for debugging."""


@dataclass
class _Code:
    expr: str
    type: CelType
    safe: bool
    """True when evaluating cannot raise (given a context valid under the schema)."""
    const: bool = False
    value: Any = None
    path: tuple[str, ...] | None = None
    computed: bool = False
    """Produced by arithmetic (a double could be NaN); plain fields and literals are not."""


def _thunk(code: _Code) -> str:
    return f"(lambda: {code.expr})"


class _Compiler:
    def __init__(self, source: str, variables: Mapping[str, CelType], max_nodes: int) -> None:
        self.source = source
        self.variables = dict(variables)
        self.max_nodes = max_nodes
        self.nodes = 0
        self.consts: list[Any] = []
        self.references: set[str] = set()
        self.scopes: list[dict[str, tuple[str, CelType]]] = []
        self.names = itertools.count()

    # -- errors and helpers ------------------------------------------------------------------

    def fail(self, node: Node, message: str, help: str = "") -> NoReturn:
        line, column = 1, 1
        if isinstance(node, Token) and node.line is not None:
            line, column = node.line, node.column or 1
        elif isinstance(node, Tree) and not node.meta.empty:
            line, column = node.meta.line, node.meta.column
        raise CelError(message, self.source, line, column, help)

    def const(self, value: Any, type_: CelType) -> _Code:
        self.consts.append(value)
        return _Code(f"K[{len(self.consts) - 1}]", type_, True, True, value)

    def fold(self, code: _Code) -> _Code:
        """Evaluate a constant expression now; keep the code if it would raise at run time."""
        try:
            value = eval(compile(code.expr, "<cel>", "eval"), _globals(self.consts), {"c": {}})
        except Exception:
            return code
        return self.const(value, code.type)

    def count(self, node: Any) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.fail(
                node,
                f"expression is too large (more than {self.max_nodes} parts)",
                "split it into named definitions, or simplify",
            )

    def text(self, node: Any) -> str:
        if isinstance(node, Tree) and not node.meta.empty:
            return self.source[node.meta.start_pos : node.meta.end_pos]
        return str(node)

    # -- the walk ----------------------------------------------------------------------------

    def visit(self, node: Any) -> _Code:
        while isinstance(node, Tree) and node.data in PASS_THROUGH and len(node.children) == 1:
            node = node.children[0]
        self.count(node)
        if isinstance(node, Token):
            self.fail(node, f"unexpected `{node}`")
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            self.fail(node, f"`{self.text(node)}` is not supported in revfield policies")
        code: _Code = handler(node)
        return code

    def _expr(self, node: Node) -> _Code:  # c ? a : b
        cond, yes, no = (self.visit(ch) for ch in node.children)
        self.want_bool(node.children[0], cond, "the condition of `? :`")
        type_ = yes.type if yes.type == no.type else DYN
        code = _Code(
            f"({yes.expr} if {self.as_bool(cond)} else {no.expr})",
            type_,
            cond.safe and yes.safe and no.safe,
            computed=yes.computed or no.computed,
        )
        return self.fold(code) if cond.const and yes.const and no.const else code

    def _logic(self, node: Node, op: str) -> _Code:
        chain = "conditionaland" if op == "&&" else "conditionalor"
        operands = []
        while isinstance(node, Tree) and node.data == chain and len(node.children) == 2:
            operands.append(node.children[1])
            node = node.children[0]
        operands.append(node)
        operands.reverse()
        codes = []
        for child in operands:
            code = self.visit(child)
            self.want_bool(child, code, f"an operand of `{op}`")
            codes.append(code)
        for c in codes:  # a constant that decides the whole expression
            if c.const and c.value is (op == "||"):
                return self.const(op == "||", BOOL)
        codes = [c for c in codes if not c.const]
        if not codes:
            return self.const(op == "&&", BOOL)
        joiner = " and " if op == "&&" else " or "
        safe = [c.expr for c in codes if c.safe]
        risky = [c for c in codes if not c.safe]
        if len(risky) == 1:
            safe.append(self.as_bool(risky[0]))
        elif risky:
            helper = "_all" if op == "&&" else "_any"
            safe.append(f"{helper}({', '.join(_thunk(r) for r in risky)})")
        expr = safe[0] if len(safe) == 1 else "(" + joiner.join(safe) + ")"
        return _Code(expr, BOOL, not risky)

    def _conditionaland(self, node: Node) -> _Code:
        return self._logic(node, "&&")

    def _conditionalor(self, node: Node) -> _Code:
        return self._logic(node, "||")

    def _relation(self, node: Node) -> _Code:
        head, right_node = node.children
        op = OPS[head.data]
        left_node = head.children[0]
        left, right = self.visit(left_node), self.visit(right_node)
        code = self.compare(node, op, left, right)
        return self.fold(code) if left.const and right.const else code

    def compare(self, node: Node, op: str, a: _Code, b: _Code) -> _Code:
        if op == "in":
            return self.membership(node, a, b)
        if op in ("==", "!="):
            if not _comparable(a.type, b.type):
                self.fail(
                    node,
                    f"`{self.text(node)}` compares {_an(a.type)} with {_an(b.type)}: "
                    "they are never equal",
                    "check the literal's type, or convert with int(), double() or string()",
                )
            if _plain_eq(a.type, b.type):
                x, y = _numeric_pair(a, b)
                expr = f"({x} {op} {y})"
            else:
                expr = f"{'' if op == '==' else 'not '}_eq({a.expr}, {b.expr})"
                expr = f"({expr})"
            return _Code(expr, BOOL, a.safe and b.safe)
        if not (_orderable(a.type, b.type)):
            self.fail(
                node,
                f"`{op}` is not defined between {_an(a.type)} and {_an(b.type)}",
                "compare numbers with numbers, text with text, times with times",
            )
        if (
            a.type.is_dyn
            or b.type.is_dyn
            or (DOUBLE in (a.type, b.type) and (a.computed or b.computed))
        ):
            return _Code(f"_order({op!r}, {a.expr}, {b.expr})", BOOL, False)
        x, y = _numeric_pair(a, b)
        return _Code(f"({x} {op} {y})", BOOL, a.safe and b.safe)

    def membership(self, node: Node, a: _Code, b: _Code) -> _Code:
        t = b.type
        if isinstance(t, ListType):
            if not _comparable(a.type, t.elem):
                self.fail(
                    node, f"`{self.text(node)}`: {_an(a.type)} is never in a list of {t.elem}"
                )
            if b.const and _plain_eq(a.type, t.elem) and all(isinstance(v, str) for v in b.value):
                fs = self.const(frozenset(b.value), t)
                return _Code(f"({a.expr} in {fs.expr})", BOOL, a.safe)
            return _Code(f"_in({a.expr}, {b.expr})", BOOL, a.safe and b.safe)
        if isinstance(t, MapType):
            return _Code(f"({a.expr} in {b.expr})", BOOL, a.safe and b.safe and not a.type.is_dyn)
        if t.is_dyn:
            return _Code(f"_in({a.expr}, {b.expr})", BOOL, False)
        self.fail(node, f"`in` needs a list or a map on its right, not {_an(t)}")

    def _addition(self, node: Node) -> _Code:
        return self._chain(node, "addition", {"addition_add": "+", "addition_sub": "-"})

    def _multiplication(self, node: Node) -> _Code:
        return self._chain(
            node,
            "multiplication",
            {"multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"},
        )

    def _chain(self, node: Node, chain: str, ops: dict[str, str]) -> _Code:
        steps: list[tuple[str, Any]] = []
        whole = node
        while isinstance(node, Tree) and node.data == chain and len(node.children) == 2:
            head, right = node.children
            steps.append((ops[head.data], right))
            node = head.children[0]
        steps.reverse()
        acc = self.visit(node)
        for op, right_node in steps:
            right = self.visit(right_node)
            code = self.binary(whole, op, acc, right)
            acc = self.fold(code) if acc.const and right.const else code
        return acc

    def binary(self, node: Node, op: str, a: _Code, b: _Code) -> _Code:
        ta, tb = a.type, b.type
        dyn = ta.is_dyn or tb.is_dyn
        helper = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}[op]
        if dyn:
            return _Code(f"{helper}({a.expr}, {b.expr})", DYN, False, computed=True)
        result = _arith_type(op, ta, tb)
        if result is None:
            hint = (
                "convert one side with double() or int()" if ta.is_numeric and tb.is_numeric else ""
            )
            self.fail(node, f"`{op}` is not defined for {_an(ta)} and {_an(tb)}", hint)
        safe = a.safe and b.safe
        if ta == tb == INT:
            return _Code(f"{helper}({a.expr}, {b.expr})", INT, False)
        if ta == tb == DOUBLE and op in "+-*":
            return _Code(f"({a.expr} {op} {b.expr})", DOUBLE, safe, computed=True)
        if ta == tb == DOUBLE and op == "/":
            return _Code(f"_div({a.expr}, {b.expr})", DOUBLE, safe, computed=True)
        if (ta == tb == STRING and op == "+") or (ta == tb == TIMESTAMP and op == "-"):
            return _Code(f"({a.expr} {op} {b.expr})", result, safe)
        return _Code(f"{helper}({a.expr}, {b.expr})", result, False)

    def _unary(self, node: Node) -> _Code:
        head, operand_node = node.children
        operand = self.visit(operand_node)
        if head.data == "unary_not":
            self.want_bool(operand_node, operand, "`!`")
            code = _Code(f"(not {self.as_bool(operand)})", BOOL, operand.safe)
        else:
            t = operand.type
            if t == DOUBLE:
                code = _Code(f"(-{operand.expr})", DOUBLE, operand.safe, computed=operand.computed)
            elif t in (INT, DURATION) or t.is_dyn:
                code = _Code(f"_neg({operand.expr})", t, False)
            else:
                self.fail(node, f"unary `-` is not defined for {_an(t)}")
        return self.fold(code) if operand.const else code

    # -- members, calls, literals ------------------------------------------------------------

    def _ident(self, node: Node) -> _Code:
        name = str(node.children[0])
        for scope in reversed(self.scopes):
            if name in scope:
                py, t = scope[name]
                return _Code(py, t, True)
        if name not in self.variables:
            best = closest(name, self.variables)
            self.fail(
                node,
                f"unknown name `{name}`" + (f"; did you mean `{best}`?" if best else ""),
                f"the context has {', '.join(sorted(self.variables))}",
            )
        self.references.add(name)
        return _Code(f"c[{name!r}]", self.variables[name], True, path=(name,))

    def _member_dot(self, node: Node) -> _Code:
        target_node, attr = node.children
        target = self.visit(target_node)
        name = str(attr)
        t = target.type
        if isinstance(t, ObjectType):
            if name not in t.fields:
                best = closest(name, t.fields)
                owner = ".".join(target.path or ()) or t.name
                self.fail(
                    attr,
                    f"unknown field `{name}` on `{owner}`",
                    f"`{owner}` has {', '.join(t.fields)}"
                    + (f"; did you mean `{best}`?" if best else ""),
                )
            path = (*target.path, name) if target.path else None
            if target.path and path:
                self.references.discard(".".join(target.path))
                self.references.add(".".join(path))
            return _Code(f"{target.expr}[{name!r}]", t.fields[name], target.safe, path=path)
        if isinstance(t, MapType) or t.is_dyn:
            return _Code(
                f"_get({target.expr}, {name!r})", t.value if isinstance(t, MapType) else DYN, False
            )
        self.fail(attr, f"`.{name}`: {_an(t)} has no fields")

    def _member_index(self, node: Node) -> _Code:
        target, index = self.visit(node.children[0]), self.visit(node.children[1])
        t = target.type
        if isinstance(t, ListType):
            if not (index.type == INT or index.type.is_dyn):
                self.fail(node.children[1], f"a list index must be an int, not {_an(index.type)}")
            return _Code(f"_index({target.expr}, {index.expr})", t.elem, False)
        if isinstance(t, MapType):
            return _Code(f"_get({target.expr}, {index.expr})", t.value, False)
        if isinstance(t, ObjectType) and index.const and isinstance(index.value, str):
            if index.value not in t.fields:
                self.fail(node.children[1], f"unknown field `{index.value}` on `{t.name}`")
            return _Code(f"{target.expr}[{index.value!r}]", t.fields[index.value], target.safe)
        if t.is_dyn:
            return _Code(f"_get({target.expr}, {index.expr})", DYN, False)
        self.fail(node, f"{_an(t)} can't be indexed")

    def _paren_expr(self, node: Node) -> _Code:
        return self.visit(node.children[0])

    def _literal(self, node: Node) -> _Code:
        token = node.children[0]
        kind, text = token.type, str(token)
        if kind == "BOOL_LIT":
            return self.const(text == "true", BOOL)
        if kind == "NULL_LIT":
            return self.const(None, NULL)
        if kind in ("INT_LIT", "UINT_LIT"):
            body = text.rstrip("uU")
            sign = -1 if body.startswith("-") else 1
            digits = body.lstrip("-")
            value = sign * (int(digits, 16) if digits.lower().startswith("0x") else int(digits, 10))
            if not rt.INT_MIN <= value <= rt.INT_MAX:
                self.fail(token, f"integer literal `{text}` is out of the 64-bit range")
            return self.const(value, INT)
        if kind == "FLOAT_LIT":
            return self.const(float(text), DOUBLE)
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                self.fail(token, f"invalid string literal {text}")
            return self.const(value, STRING)
        self.fail(token, f"{kind.lower().replace('_lit', '')} literals are not supported")

    def _list_lit(self, node: Node) -> _Code:
        items = [self.visit(ch) for ch in (node.children[0].children if node.children else [])]
        types = {i.type for i in items}
        elem = types.pop() if len(types) == 1 else DYN
        t = ListType(elem)
        if all(i.const for i in items):
            return self.const(tuple(i.value for i in items), t)
        return _Code("[" + ", ".join(i.expr for i in items) + "]", t, all(i.safe for i in items))

    def _map_lit(self, node: Node) -> _Code:
        parts = [self.visit(ch) for ch in (node.children[0].children if node.children else [])]
        keys, values = parts[0::2], parts[1::2]
        for k, kn in zip(
            keys, node.children[0].children[0::2] if node.children else [], strict=True
        ):
            if k.type not in (STRING, INT, BOOL) and not k.type.is_dyn:
                self.fail(kn, f"map keys must be strings, ints or bools, not {k.type}")
        vtypes = {v.type for v in values}
        t = MapType(
            keys[0].type if keys and len({k.type for k in keys}) == 1 else DYN,
            vtypes.pop() if len(vtypes) == 1 else DYN,
        )
        if all(p.const for p in parts):
            return self.const({k.value: v.value for k, v in zip(keys, values, strict=True)}, t)
        body = ", ".join(f"{k.expr}: {v.expr}" for k, v in zip(keys, values, strict=True))
        return _Code("{" + body + "}", t, all(p.safe for p in parts))

    def _ident_arg(self, node: Node) -> _Code:
        name_tok = node.children[0]
        name = str(name_tok)
        args = node.children[1].children if len(node.children) > 1 else []
        if name == "has":
            return self.has(node, args)
        if name not in FUNCTIONS:
            best = closest(name, FUNCTIONS)
            self.fail(
                name_tok,
                f"unknown function `{name}`" + (f"; did you mean `{best}`?" if best else ""),
                f"functions: {', '.join(FUNCTIONS)}; methods: {', '.join(METHODS)}",
            )
        codes = [self.visit(a) for a in args]
        if name == "matches":
            if len(codes) != 2:
                self.fail(node, "`matches(text, pattern)` takes two arguments")
            return self.matches(node, codes[0], codes[1], args[1])
        if len(codes) != 1:
            self.fail(node, f"`{name}()` takes one argument")
        return self.function(node, name, codes[0], args[0])

    def function(self, node: Node, name: str, arg: _Code, arg_node: Any) -> _Code:
        t = arg.type
        if name == "size":
            if t in (STRING,) or isinstance(t, ListType | MapType):
                return self.maybe_fold(_Code(f"len({arg.expr})", INT, arg.safe), arg)
            if t.is_dyn:
                return _Code(f"_size({arg.expr})", INT, False)
            self.fail(node, f"`size()` needs text, a list or a map, not {_an(t)}")
        if name == "int":
            if t == INT:
                return arg
            if t in (DOUBLE, STRING, TIMESTAMP) or t.is_dyn:
                return self.maybe_fold(_Code(f"_to_int({arg.expr})", INT, False), arg)
        if name == "double":
            if t == DOUBLE:
                return arg
            if t == INT:
                return self.maybe_fold(_Code(f"float({arg.expr})", DOUBLE, arg.safe), arg)
            if t == STRING or t.is_dyn:
                return self.maybe_fold(_Code(f"_to_double({arg.expr})", DOUBLE, False), arg)
        if name == "string":
            if t == STRING:
                return arg
            if t in (INT, DOUBLE, BOOL, TIMESTAMP, DURATION) or t.is_dyn:
                return self.maybe_fold(
                    _Code(f"_to_string({arg.expr})", STRING, not t.is_dyn and arg.safe), arg
                )
        if name in ("timestamp", "duration"):
            target = TIMESTAMP if name == "timestamp" else DURATION
            if t == target:
                return arg
            if t == STRING or t.is_dyn:
                helper = "_timestamp" if name == "timestamp" else "_duration"
                if arg.const:
                    try:
                        value = (
                            rt.parse_timestamp(arg.value)
                            if name == "timestamp"
                            else rt.parse_duration(arg.value)
                        )
                    except CelEvalError as exc:
                        self.fail(arg_node, str(exc))
                    return self.const(value, target)
                return _Code(f"{helper}({arg.expr})", target, False)
        self.fail(node, f"`{name}()` is not defined for {_an(t)}")

    def maybe_fold(self, code: _Code, arg: _Code) -> _Code:
        return self.fold(code) if arg.const else code

    def matches(self, node: Node, text: _Code, pattern: _Code, pattern_node: Any) -> _Code:
        if not (text.type == STRING or text.type.is_dyn):
            self.fail(node, f"`matches` needs text, not {_an(text.type)}")
        if pattern.const:
            if not isinstance(pattern.value, str):
                self.fail(pattern_node, "a `matches` pattern must be text")
            try:
                compiled = rt.regex(pattern.value)
            except CelEvalError as exc:
                self.fail(pattern_node, str(exc))
            rx = self.const(compiled, DYN)
            if text.type == STRING:
                return _Code(f"({rx.expr}.search({text.expr}) is not None)", BOOL, text.safe)
            return _Code(f"_search({rx.expr}, {text.expr})", BOOL, False)
        return _Code(f"_search(_regex({pattern.expr}), {text.expr})", BOOL, False)

    def has(self, node: Node, args: list[Any]) -> _Code:
        if len(args) != 1:
            self.fail(node, "`has()` takes one field selection, like has(action.payload.tier)")
        target = args[0]
        while (
            isinstance(target, Tree) and target.data in PASS_THROUGH and len(target.children) == 1
        ):
            target = target.children[0]
        if not (isinstance(target, Tree) and target.data == "member_dot"):
            self.fail(node, "`has()` needs a field selection, like has(action.payload.tier)")
        owner = self.visit(target.children[0])
        name = str(target.children[1])
        if isinstance(owner.type, ObjectType):
            if name not in owner.type.fields:
                self.fail(target.children[1], f"unknown field `{name}` on `{owner.type.name}`")
            return _Code(f"({name!r} in {owner.expr})", BOOL, owner.safe)
        if isinstance(owner.type, MapType) or owner.type.is_dyn:
            return _Code(f"_has({owner.expr}, {name!r})", BOOL, False)
        self.fail(node, f"`has()` needs a map or an object, not {_an(owner.type)}")

    def _member_dot_arg(self, node: Node) -> _Code:
        target_node, name_tok = node.children[0], node.children[1]
        name = str(name_tok)
        args = node.children[2].children if len(node.children) > 2 else []
        if name in MACROS:
            return self.macro(node, name, target_node, args)
        if name not in METHODS:
            best = closest(name, METHODS)
            self.fail(
                name_tok,
                f"unknown method `{name}`" + (f"; did you mean `{best}`?" if best else ""),
                f"methods: {', '.join(METHODS)}",
            )
        target = self.visit(target_node)
        codes = [self.visit(a) for a in args]
        if name == "size":
            if codes:
                self.fail(node, "`.size()` takes no arguments")
            return self.function(node, "size", target, target_node)
        if name == "matches":
            if len(codes) != 1:
                self.fail(node, "`.matches(pattern)` takes one argument")
            return self.matches(node, target, codes[0], args[0])
        if len(codes) != 1:
            self.fail(node, f"`.{name}()` takes one argument")
        arg = codes[0]
        if not (
            (target.type == STRING or target.type.is_dyn)
            and (arg.type == STRING or arg.type.is_dyn)
        ):
            self.fail(
                node, f"`.{name}()` works on text, not {_an(target.type)} and {_an(arg.type)}"
            )
        if target.type == STRING and arg.type == STRING:
            expr = {
                "contains": f"({arg.expr} in {target.expr})",
                "startsWith": f"{target.expr}.startswith({arg.expr})",
                "endsWith": f"{target.expr}.endswith({arg.expr})",
            }[name]
            code = _Code(expr, BOOL, target.safe and arg.safe)
            return self.fold(code) if target.const and arg.const else code
        return _Code(f"_text_method({name!r}, {target.expr}, {arg.expr})", BOOL, False)

    def macro(self, node: Node, name: str, target_node: Any, args: list[Any]) -> _Code:
        if len(args) != 2:
            self.fail(node, f"`.{name}(x, predicate)` takes a variable name and an expression")
        var_node = args[0]
        while (
            isinstance(var_node, Tree)
            and var_node.data in PASS_THROUGH
            and len(var_node.children) == 1
        ):
            var_node = var_node.children[0]
        if not (isinstance(var_node, Tree) and var_node.data == "ident"):
            self.fail(args[0], f"the first argument of `.{name}()` must be a variable name")
        var = str(var_node.children[0])
        target = self.visit(target_node)
        t = target.type
        if isinstance(t, ListType):
            elem = t.elem
        elif isinstance(t, MapType):
            elem = t.key
        elif t.is_dyn:
            elem = DYN
        else:
            self.fail(node, f"`.{name}()` works on lists and maps, not {_an(t)}")
        py = f"_v{next(self.names)}"
        self.scopes.append({var: (py, elem)})
        try:
            body = self.visit(args[1])
        finally:
            self.scopes.pop()
        if name in ("exists", "all", "exists_one", "filter"):
            self.want_bool(args[1], body, f"the predicate of `.{name}()`")
        fn = f"(lambda {py}: {body.expr})"
        result: CelType = BOOL
        if name == "map":
            result = ListType(body.type)
        elif name == "filter":
            result = ListType(elem)
        helper = {
            "exists": "_exists",
            "all": "_all_of",
            "exists_one": "_exists_one",
            "map": "_map",
            "filter": "_filter",
        }[name]
        safe = target.safe and body.safe and not t.is_dyn and name in ("exists", "all")
        return _Code(f"{helper}({target.expr}, {fn})", result, safe)

    def _member_object(self, node: Node) -> _Code:
        self.fail(node, "message construction is not supported in revfield policies")

    def _dot_ident(self, node: Node) -> _Code:
        self.fail(node, "a leading `.` (absolute names) is not supported")

    def _dot_ident_arg(self, node: Node) -> _Code:
        self.fail(node, "a leading `.` (absolute names) is not supported")

    # -- bool checks -----------------------------------------------------------------------

    def want_bool(self, node: Any, code: _Code, what: str) -> None:
        if code.type != BOOL and not code.type.is_dyn:
            self.fail(
                node, f"{what} must be true or false, but `{self.text(node)}` is {_an(code.type)}"
            )

    def as_bool(self, code: _Code) -> str:
        return code.expr if code.type == BOOL else f"_bool({code.expr})"


def _an(t: CelType) -> str:
    name = str(t)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _numeric_pair(a: _Code, b: _Code) -> tuple[str, str]:
    """An int compared with a double is compared as a double, as the reference does."""
    if a.type == INT and b.type == DOUBLE:
        return f"float({a.expr})", b.expr
    if a.type == DOUBLE and b.type == INT:
        return a.expr, f"float({b.expr})"
    return a.expr, b.expr


def _comparable(a: CelType, b: CelType) -> bool:
    if a.is_dyn or b.is_dyn or a == NULL or b == NULL:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    if isinstance(a, ListType) and isinstance(b, ListType):
        return _comparable(a.elem, b.elem)
    if isinstance(a, MapType | ObjectType) and isinstance(b, MapType | ObjectType):
        return True
    return a == b


def _plain_eq(a: CelType, b: CelType) -> bool:
    """Python's ``==`` equals CEL's here (no bool/int confusion, no containers)."""
    if a in (STRING, TIMESTAMP, DURATION, BOOL) and a == b:
        return True
    return a.is_numeric and b.is_numeric


def _orderable(a: CelType, b: CelType) -> bool:
    if a.is_dyn or b.is_dyn:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    return a == b and a in ORDERED


def _arith_type(op: str, a: CelType, b: CelType) -> CelType | None:
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
            error = error or CelEvalError(f"no such overload: {op} on {rt.kind(value)}")
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
    raise CelEvalError(f"expected true or false, got {rt.kind(value)}")


def _get(value: Any, key: Any) -> Any:
    if not isinstance(value, dict):
        raise CelEvalError(f"no such overload: field or key access on {rt.kind(value)}")
    if key not in value:
        raise CelEvalError(f"no such key: {key!r}")
    return value[key]


def _has(value: Any, key: str) -> bool:
    if not isinstance(value, dict):
        raise CelEvalError(f"has() on {rt.kind(value)}")
    return key in value


def _index(value: Any, index: Any) -> Any:
    if rt.kind(value) != "list":
        raise CelEvalError(f"no such overload: index on {rt.kind(value)}")
    if rt.kind(index) != "int":
        raise CelEvalError(f"a list index must be an int, not {rt.kind(index)}")
    if not 0 <= index < len(value):
        raise CelEvalError(f"index out of bounds: {index}")
    return value[index]


def _in(item: Any, container: Any) -> bool:
    k = rt.kind(container)
    if k == "list":
        return any(rt.eq(item, x) for x in container)
    if k == "map":
        return any(rt.eq(item, x) for x in container)
    raise CelEvalError(f"no such overload: in {k}")


def _search(rx: Any, text: Any) -> bool:
    if not isinstance(text, str):
        raise CelEvalError(f"matches() on {rt.kind(text)}")
    return rx.search(text) is not None


def _regex(pattern: Any) -> Any:
    if not isinstance(pattern, str):
        raise CelEvalError(f"a matches() pattern must be text, not {rt.kind(pattern)}")
    return rt.regex(pattern)


def _text_method(name: str, target: Any, arg: Any) -> bool:
    if not (isinstance(target, str) and isinstance(arg, str)):
        raise CelEvalError(f"no such overload: {rt.kind(target)}.{name}({rt.kind(arg)})")
    if name == "contains":
        return arg in target
    return target.startswith(arg) if name == "startsWith" else target.endswith(arg)


def _items(value: Any) -> Any:
    k = rt.kind(value)
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


def _globals(consts: list[Any]) -> dict[str, Any]:
    return {
        "__builtins__": {"len": len, "float": float},
        "K": consts,
        "_eq": rt.eq,
        "_less": rt.less,
        "_order": rt.order,
        "_add": rt.add,
        "_sub": rt.sub,
        "_mul": rt.mul,
        "_div": rt.div,
        "_mod": rt.mod,
        "_neg": rt.neg,
        "_size": rt.size,
        "_to_int": rt.to_int,
        "_to_double": rt.to_double,
        "_to_string": rt.to_string,
        "_timestamp": rt.parse_timestamp,
        "_duration": rt.parse_duration,
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


def _nesting(source: str) -> tuple[int, int]:
    """Deepest bracket nesting outside string literals, and where it is."""
    depth = deepest = at = 0
    quote: str | None = None
    i = 0
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, i
        elif ch in ")]}":
            depth -= 1
        i += 1
    return deepest, at


def compile_cel(
    source: str,
    variables: Mapping[str, CelType],
    *,
    expect: CelType | None = None,
    max_length: int = 4000,
    max_nodes: int = 1000,
    max_depth: int = 32,
) -> CompiledExpr:
    """Compile ``source`` against ``variables``; raises :class:`CelError` with the position."""
    if len(source) > max_length:
        raise CelError(
            f"expression is {len(source):,} characters, over the {max_length:,} limit",
            source,
            1,
            1,
            "split it into named definitions",
        )
    deepest, at = _nesting(source)
    if deepest > max_depth:
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        raise CelError(
            f"expression nests {deepest} levels deep, over the {max_depth} limit",
            source,
            line,
            column,
        )
    if not source.strip():
        raise CelError("expression is empty", source, 1, 1)
    try:
        tree = _PARSER.parse(source)
    except celparser.CELParseError as exc:
        message, line, column = _syntax_error(exc, source)
        raise CelError(f"syntax error: {message}", source, line, column) from None
    compiler = _Compiler(source, variables, max_nodes)
    try:
        code = compiler.visit(tree)
    except RecursionError:
        raise CelError("expression is too deeply nested", source, 1, 1) from None
    if expect is not None and code.type != expect and not code.type.is_dyn:
        raise CelError(
            f"this condition is {_an(code.type)}, but it must be true or false",
            source,
            1,
            1,
            'compare it with something, e.g. `x > 0` or `x == "value"`',
        )
    body = code.expr if (expect != BOOL or code.type == BOOL) else f"_bool({code.expr})"
    python = f"def _cel(c):\n    return {body}\n"
    namespace = _globals(compiler.consts)
    exec(compile(python, f"<cel {source[:40]!r}>", "exec"), namespace)
    return CompiledExpr(
        source, code.type, frozenset(compiler.references), namespace["_cel"], python
    )


TOKEN_NAMES = {
    "RPAR": ")",
    "LPAR": "(",
    "RSQB": "]",
    "LSQB": "[",
    "RBRACE": "}",
    "LBRACE": "{",
    "COMMA": ",",
    "COLON": ":",
    "DOT": ".",
    "IDENT": "a name",
    "$END": "the end",
}


def _syntax_error(exc: Exception, source: str) -> tuple[str, int, int]:
    """A one-line message and position from the parser's own exception."""
    cause = exc.__context__
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    if isinstance(cause, UnexpectedToken):
        expected = sorted(
            TOKEN_NAMES.get(e, e.lower()) for e in cause.expected if not e.startswith("__")
        )
        want = (
            f"; expected {' or '.join(f'`{e}`' for e in expected[:4])}"
            if 0 < len(expected) <= 4
            else ""
        )
        if cause.token.type == "$END":
            lines = source.splitlines() or [""]
            return f"the expression ends too early{want}", len(lines), len(lines[-1]) + 1
        return f"unexpected `{cause.token}`{want}", cause.line, cause.column
    if isinstance(cause, UnexpectedCharacters):
        return f"unexpected character `{cause.char}`", cause.line, cause.column
    return "cannot parse this expression", line, column
