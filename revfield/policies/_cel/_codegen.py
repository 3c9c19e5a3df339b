"""Codegen: compile a checked CEL expression into one Python function.

:func:`compile_cel` parses the text (``_parse``), then :class:`_Compiler` walks the tree once,
checking every name and type against the schema with the rules of ``_check`` (unknown names
and type errors are :class:`CelError` with the position), and emits a Python expression for
each node. The expression of the whole condition becomes the body of one generated function,
executed with the globals of ``_runtime``, so evaluating a rule is one Python call with inline
field reads and comparisons.

What can fail at run time (integer overflow, division by zero, a missing map key, a dynamic
value of the wrong kind, conversions) goes through the helpers in ``_runtime``, which raise
:class:`CelEvalError`. Everything the checker proved safe (a typed field read, a comparison of
two strings) is inline Python. ``&&`` and ``||`` keep CEL's commutative error absorption
(``false && error`` and ``error && false`` are both ``false``): operands that cannot fail are
evaluated first and inline, operands that can fail last, through a helper.

This module has the handlers for operators, names, members (``x.f``, ``x[i]``, and the
optional ``x.?f``, ``x[?i]``) and literals; calls are in ``_codegen_calls`` and
``_codegen_library``, the visitor's shared machinery in ``_codegen_base``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from lark import Tree

from revfield._text import closest
from revfield.policies._cel import _runtime as rt
from revfield.policies._cel._check import an, arith_type, comparable, join, orderable, plain_eq
from revfield.policies._cel._codegen_base import Code, namespace
from revfield.policies._cel._codegen_calls import CallsCompiler
from revfield.policies._cel._errors import CelError
from revfield.policies._cel._literals import LiteralError, decode_string
from revfield.policies._cel._parse import OPS, Node, parse
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

__all__ = ["CompiledExpr", "compile_cel"]


@dataclass(frozen=True)
class CompiledExpr:
    """A compiled condition: its source, static type, the paths it reads, and the function."""

    source: str
    result_type: CelType
    references: frozenset[str]
    """Dotted paths the expression reads (``action.kind``); bare names for whole variables."""
    evaluate: Callable[[Mapping[str, Any]], Any]
    """The compiled function: ``evaluate(context)``; raises :class:`CelEvalError`."""
    python: str = field(repr=False, default="")
    """The generated Python, for debugging."""


def _thunk(code: Code) -> str:
    return f"(lambda: {code.expr})"


def _numeric_pair(a: Code, b: Code) -> tuple[str, str]:
    """An int compared with a double is compared as a double, as the reference does."""
    if a.type == INT and b.type == DOUBLE:
        return f"float({a.expr})", b.expr
    if a.type == DOUBLE and b.type == INT:
        return a.expr, f"float({b.expr})"
    return a.expr, b.expr


class _Compiler(CallsCompiler):
    """The visitor: operators, names, members and literals here; calls in the base."""

    def _expr(self, node: Node) -> Code:  # c ? a : b
        cond, yes, no = (self.visit(ch) for ch in node.children)
        self.want_bool(node.children[0], cond, "the condition of `? :`")
        type_ = join(yes.type, no.type)
        code = Code(
            f"({yes.expr} if {self.as_bool(cond)} else {no.expr})",
            type_,
            cond.safe and yes.safe and no.safe,
            computed=yes.computed or no.computed,
        )
        return self.fold(code) if cond.const and yes.const and no.const else code

    def _logic(self, node: Node, op: str) -> Code:
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
        return Code(expr, BOOL, not risky)

    def _conditionaland(self, node: Node) -> Code:
        return self._logic(node, "&&")

    def _conditionalor(self, node: Node) -> Code:
        return self._logic(node, "||")

    def _relation(self, node: Node) -> Code:
        head, right_node = node.children
        op = OPS[head.data]
        left_node = head.children[0]
        left, right = self.visit(left_node), self.visit(right_node)
        code = self.compare(node, op, left, right)
        return self.fold(code) if left.const and right.const else code

    def compare(self, node: Node, op: str, a: Code, b: Code) -> Code:
        """``a op b`` for the relations (``==``, ``!=``, ``<``…, ``in``), checked and emitted."""
        if op == "in":
            return self.membership(node, a, b)
        if op in ("==", "!="):
            if not comparable(a.type, b.type):
                self.fail(
                    node,
                    f"`{self.text(node)}` compares {an(a.type)} with {an(b.type)}: "
                    "they are never equal",
                    "check the literal's type, or convert with int(), double() or string()",
                )
            if plain_eq(a.type, b.type):
                x, y = _numeric_pair(a, b)
                expr = f"({x} {op} {y})"
            else:
                expr = f"{'' if op == '==' else 'not '}_eq({a.expr}, {b.expr})"
                expr = f"({expr})"
            return Code(expr, BOOL, a.safe and b.safe)
        if not (orderable(a.type, b.type)):
            self.fail(
                node,
                f"`{op}` is not defined between {an(a.type)} and {an(b.type)}",
                "compare numbers with numbers, text with text, times with times",
            )
        if (
            a.type.is_dyn
            or b.type.is_dyn
            or (DOUBLE in (a.type, b.type) and (a.computed or b.computed))
        ):
            return Code(f"_order({op!r}, {a.expr}, {b.expr})", BOOL, False)
        x, y = _numeric_pair(a, b)
        return Code(f"({x} {op} {y})", BOOL, a.safe and b.safe)

    def membership(self, node: Node, a: Code, b: Code) -> Code:
        """``a in b``, with ``b`` a list or a map."""
        t = b.type
        if isinstance(t, ListType):
            if not comparable(a.type, t.elem):
                self.fail(node, f"`{self.text(node)}`: {an(a.type)} is never in a list of {t.elem}")
            if b.const and plain_eq(a.type, t.elem) and all(isinstance(v, str) for v in b.value):
                fs = self.const(frozenset(b.value), t)
                return Code(f"({a.expr} in {fs.expr})", BOOL, a.safe)
            return Code(f"_in({a.expr}, {b.expr})", BOOL, a.safe and b.safe)
        if isinstance(t, MapType):
            return Code(f"({a.expr} in {b.expr})", BOOL, a.safe and b.safe and not a.type.is_dyn)
        if t.is_dyn:
            return Code(f"_in({a.expr}, {b.expr})", BOOL, False)
        self.fail(node, f"`in` needs a list or a map on its right, not {an(t)}")

    def _addition(self, node: Node) -> Code:
        return self._chain(node, "addition", {"addition_add": "+", "addition_sub": "-"})

    def _multiplication(self, node: Node) -> Code:
        return self._chain(
            node,
            "multiplication",
            {"multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"},
        )

    def _chain(self, node: Node, chain: str, ops: dict[str, str]) -> Code:
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

    def binary(self, node: Node, op: str, a: Code, b: Code) -> Code:
        """``a op b`` for ``+ - * / %``, checked and emitted."""
        ta, tb = a.type, b.type
        dyn = ta.is_dyn or tb.is_dyn
        helper = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}[op]
        if dyn:
            return Code(f"{helper}({a.expr}, {b.expr})", DYN, False, computed=True)
        result = arith_type(op, ta, tb)
        if result is None:
            hint = (
                "convert one side with double() or int()" if ta.is_numeric and tb.is_numeric else ""
            )
            self.fail(node, f"`{op}` is not defined for {an(ta)} and {an(tb)}", hint)
        safe = a.safe and b.safe
        if isinstance(result, ListType):  # `[] + xs` has the type of `xs`: `[]` adds nothing
            if a.const and not a.value:
                result = tb
            elif b.const and not b.value:
                result = ta
            return Code(f"_add({a.expr}, {b.expr})", result, safe)
        if ta == tb == INT:
            return Code(f"{helper}({a.expr}, {b.expr})", INT, False)
        if ta == tb == DOUBLE and op in "+-*":
            return Code(f"({a.expr} {op} {b.expr})", DOUBLE, safe, computed=True)
        if ta == tb == DOUBLE and op == "/":
            return Code(f"_div({a.expr}, {b.expr})", DOUBLE, safe, computed=True)
        if ta == tb == STRING and op == "+":
            return Code(f"({a.expr} {op} {b.expr})", result, safe)
        if ta == tb == TIMESTAMP and op == "-":  # the difference may be beyond a duration's range
            return Code(f"_ts_sub({a.expr}, {b.expr})", result, False)
        return Code(f"{helper}({a.expr}, {b.expr})", result, False)

    def _unary(self, node: Node) -> Code:
        head, operand_node = node.children
        operand = self.visit(operand_node)
        if head.data == "unary_not":
            self.want_bool(operand_node, operand, "`!`")
            code = Code(f"(not {self.as_bool(operand)})", BOOL, operand.safe)
        else:
            t = operand.type
            if t == DOUBLE:
                code = Code(f"(-{operand.expr})", DOUBLE, operand.safe, computed=operand.computed)
            elif t in (INT, DURATION) or t.is_dyn:
                code = Code(f"_neg({operand.expr})", t, False)
            else:
                self.fail(node, f"unary `-` is not defined for {an(t)}")
        return self.fold(code) if operand.const else code

    # -- names, members, literals -------------------------------------------------------------

    def _ident(self, node: Node) -> Code:
        name = str(node.children[0])
        for scope in reversed(self.scopes):
            if name in scope:
                py, t = scope[name]
                return Code(py, t, True)
        if name not in self.variables:
            best = closest(name, self.variables)
            self.fail(
                node,
                f"unknown name `{name}`" + (f"; did you mean `{best}`?" if best else ""),
                f"the context has {', '.join(sorted(self.variables))}",
            )
        self.references.add(name)
        return Code(f"c[{name!r}]", self.variables[name], True, path=(name,))

    def _member_dot(self, node: Node) -> Code:
        target_node, attr = node.children
        target = self.visit(target_node)
        name = str(attr)
        t = target.type
        if isinstance(t, OptionalType):  # optional chaining: none stays none
            return self.optional_access(node, target, name, attr)
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
            return Code(f"{target.expr}[{name!r}]", t.fields[name], target.safe, path=path)
        if isinstance(t, MapType) or t.is_dyn:
            return Code(
                f"_get({target.expr}, {name!r})", t.value if isinstance(t, MapType) else DYN, False
            )
        self.fail(attr, f"`.{name}`: {an(t)} has no fields")

    def _member_index(self, node: Node) -> Code:
        target, index = self.visit(node.children[0]), self.visit(node.children[1])
        t = target.type
        if isinstance(t, OptionalType):  # optional chaining: none stays none
            return self.optional_index(node, target, index, node.children[1])
        if isinstance(t, ListType):
            if not (index.type == INT or index.type.is_dyn):
                self.fail(node.children[1], f"a list index must be an int, not {an(index.type)}")
            return Code(f"_index({target.expr}, {index.expr})", t.elem, False)
        if isinstance(t, MapType):
            if not comparable(t.key, index.type):
                self.fail(node.children[1], f"the keys of this map are {t.key}, not {index.type}")
            return Code(f"_get({target.expr}, {index.expr})", t.value, False)
        if isinstance(t, ObjectType) and index.const and isinstance(index.value, str):
            if index.value not in t.fields:
                self.fail(node.children[1], f"unknown field `{index.value}` on `{t.name}`")
            return Code(f"{target.expr}[{index.value!r}]", t.fields[index.value], target.safe)
        if t.is_dyn:  # a map, or a list, known at run time
            return Code(f"_get({target.expr}, {index.expr})", DYN, False)
        self.fail(node, f"{an(t)} can't be indexed")

    def _member_dot_opt(self, node: Node) -> Code:  # x.?field
        target_node, attr = node.children
        return self.optional_access(node, self.visit(target_node), str(attr), attr)

    def _member_index_opt(self, node: Node) -> Code:  # x[?index]
        target, index = self.visit(node.children[0]), self.visit(node.children[1])
        return self.optional_index(node, target, index, node.children[1])

    def _paren_expr(self, node: Node) -> Code:
        return self.visit(node.children[0])

    def _literal(self, node: Node) -> Code:
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
                decoded = decode_string(text)
            except LiteralError as exc:
                self.fail_in_token(
                    token, exc.offset, f"invalid string literal: {exc.message}", exc.help
                )
            return self.const(decoded, STRING)
        self.fail(token, f"{kind.lower().replace('_lit', '')} literals are not supported")

    def fail_in_token(self, token: Any, offset: int, message: str, help: str) -> NoReturn:
        """Raise :class:`CelError` at ``offset`` characters into ``token``'s text."""
        before = str(token)[:offset]
        line = (token.line or 1) + before.count("\n")
        column = offset - before.rfind("\n") if "\n" in before else (token.column or 1) + offset
        raise CelError(message, self.source, line, column, help)

    def _list_lit(self, node: Node) -> Code:
        items = [self.visit(ch) for ch in (node.children[0].children if node.children else [])]
        elem = DYN
        if items:
            elem = items[0].type
            for item in items[1:]:
                elem = join(elem, item.type)
        t = ListType(elem)
        if all(i.const for i in items):
            return self.const(tuple(i.value for i in items), t)
        return Code("[" + ", ".join(i.expr for i in items) + "]", t, all(i.safe for i in items))

    def _map_lit(self, node: Node) -> Code:
        key_nodes = node.children[0].children[0::2] if node.children else []
        parts = [self.visit(ch) for ch in (node.children[0].children if node.children else [])]
        keys, values = parts[0::2], parts[1::2]
        seen: dict[Any, tuple[Any, Any]] = {}  # key value -> (that value, its node)
        for k, kn in zip(keys, key_nodes, strict=True):
            if k.type not in (STRING, INT, BOOL) and not k.type.is_dyn:
                self.fail(kn, f"map keys must be strings, ints or bools, not {k.type}")
            if not k.const:
                continue
            if rt.kind(k.value) not in ("string", "int", "bool"):  # a dyn(…) constant
                self.fail(kn, f"map keys must be strings, ints or bools, not {rt.kind(k.value)}")
            if k.value in seen:
                earlier, earlier_node = seen[k.value]
                if (type(earlier) is bool) == (type(k.value) is bool):
                    self.fail(
                        kn,
                        f"the map literal repeats the key `{self.text(kn)}`",
                        "a key may appear once in a map literal; remove one of the entries",
                    )
                self.fail(
                    kn,
                    f"the keys `{self.text(earlier_node)}` and `{self.text(kn)}` can't share "
                    "a map here",
                    "revfield can't tell true from 1 (or false from 0) as map keys",
                )
            seen[k.value] = (k.value, kn)
        key_type = value_type = DYN
        if parts:
            key_type, value_type = keys[0].type, values[0].type
            for k, v in zip(keys[1:], values[1:], strict=True):
                key_type, value_type = join(key_type, k.type), join(value_type, v.type)
        t = MapType(key_type, value_type)
        if all(p.const for p in parts):
            return self.const({k.value: v.value for k, v in zip(keys, values, strict=True)}, t)
        if all(k.const for k in keys):  # known, distinct keys: a plain dict
            body = ", ".join(f"{k.expr}: {v.expr}" for k, v in zip(keys, values, strict=True))
            return Code("{" + body + "}", t, all(p.safe for p in parts))
        return Code(f"_map_lit({', '.join(p.expr for p in parts)})", t, False)

    def _member_object(self, node: Node) -> Code:
        self.fail(node, "message construction is not supported in revfield policies")

    def _dot_ident(self, node: Node) -> Code:
        self.fail(node, "a leading `.` (absolute names) is not supported")

    def _dot_ident_arg(self, node: Node) -> Code:
        self.fail(node, "a leading `.` (absolute names) is not supported")


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
    tree = parse(source, max_length=max_length, max_depth=max_depth)
    compiler = _Compiler(source, variables, max_nodes)
    try:
        code = compiler.visit(tree)
    except RecursionError:
        raise CelError("expression is too deeply nested", source, 1, 1) from None
    if expect is not None and code.type != expect and not code.type.is_dyn:
        raise CelError(
            f"this condition is {an(code.type)}, but it must be true or false",
            source,
            1,
            1,
            'compare it with something, e.g. `x > 0` or `x == "value"`',
        )
    body = code.expr if (expect != BOOL or code.type == BOOL) else f"_bool({code.expr})"
    python = f"def _cel(c):\n    return {body}\n"
    globals_ = namespace(compiler.consts)
    exec(compile(python, f"<cel {source[:40]!r}>", "exec"), globals_)
    return CompiledExpr(source, code.type, frozenset(compiler.references), globals_["_cel"], python)
