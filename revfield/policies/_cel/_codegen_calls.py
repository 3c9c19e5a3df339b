"""Codegen for calls: the functions (``size()``, ``int()``, ``double()``, ``string()``,
``timestamp()``, ``duration()``, ``dyn()``, ``has()``, ``matches()``), the methods on text,
and the comprehension macros (``exists``, ``all``, ``exists_one``, ``map``, ``filter``, and
``optMap`` / ``optFlatMap`` on optional values).

:class:`CallsCompiler` is the part of the visitor that handles them: it checks the name, the
number and types of the arguments, and emits the call, inline when the types allow. The
functions of CEL's extensions (strings, math, optional values, time accessors) are checked and
emitted by its base, ``_codegen_library``.
"""

from __future__ import annotations

from typing import Any

from lark import Tree

from revfield._text import closest
from revfield.policies._cel import _runtime as rt
from revfield.policies._cel._check import FUNCTIONS, MACROS, METHODS, NAMESPACED, an
from revfield.policies._cel._codegen_base import Code, unwrap
from revfield.policies._cel._codegen_library import LibraryCompiler
from revfield.policies._cel._errors import CelEvalError
from revfield.policies._cel._parse import Node
from revfield.policies._cel._types import (
    BOOL,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    ListType,
    MapType,
    ObjectType,
    OptionalType,
)

__all__ = ["CallsCompiler"]


class CallsCompiler(LibraryCompiler):
    """The visitor's handlers for function calls (``f(x)``) and method calls (``x.f(y)``)."""

    def _ident_arg(self, node: Node) -> Code:
        name_tok = node.children[0]
        name = str(name_tok)
        args = node.children[1].children if len(node.children) > 1 else []
        if name == "has":
            return self.has(node, args)
        if name not in FUNCTIONS:
            best = closest(name, FUNCTIONS)
            namespaced = ", ".join(f"{ns}.{f}" for ns, fs in NAMESPACED.items() for f in fs)
            self.fail(
                name_tok,
                f"unknown function `{name}`" + (f"; did you mean `{best}`?" if best else ""),
                f"functions: {', '.join(FUNCTIONS)}, {namespaced}; methods: {', '.join(METHODS)}",
            )
        codes = [self.visit(a) for a in args]
        if name == "matches":
            if len(codes) != 2:
                self.fail(node, "`matches(text, pattern)` takes two arguments")
            return self.matches(node, codes[0], codes[1], args[1])
        if len(codes) != 1:
            self.fail(node, f"`{name}()` takes one argument")
        return self.function(node, name, codes[0], args[0])

    def function(self, node: Node, name: str, arg: Code, arg_node: Any) -> Code:
        """``name(arg)`` for ``size`` and the conversions (``int``, ``string``, ``timestamp``…)."""
        t = arg.type
        if name == "dyn":
            return Code(arg.expr, DYN, arg.safe, arg.const, arg.value, computed=arg.computed)
        if name == "size":
            if t in (STRING,) or isinstance(t, ListType | MapType):
                return self.maybe_fold(Code(f"len({arg.expr})", INT, arg.safe), arg)
            if t.is_dyn:
                return Code(f"_size({arg.expr})", INT, False)
            self.fail(node, f"`size()` needs text, a list or a map, not {an(t)}")
        if name == "int":
            if t == INT:
                return arg
            if t in (DOUBLE, STRING, TIMESTAMP) or t.is_dyn:
                return self.maybe_fold(Code(f"_to_int({arg.expr})", INT, False), arg)
        if name == "double":
            if t == DOUBLE:
                return arg
            if t == INT:
                return self.maybe_fold(Code(f"float({arg.expr})", DOUBLE, arg.safe), arg)
            if t == STRING or t.is_dyn:
                return self.maybe_fold(Code(f"_to_double({arg.expr})", DOUBLE, False), arg)
        if name == "string":
            if t == STRING:
                return arg
            if t in (INT, DOUBLE, BOOL, TIMESTAMP, DURATION) or t.is_dyn:
                return self.maybe_fold(
                    Code(f"_to_string({arg.expr})", STRING, not t.is_dyn and arg.safe), arg
                )
        if name in ("timestamp", "duration"):
            target = TIMESTAMP if name == "timestamp" else DURATION
            if t == target:
                return arg
            if t == STRING or t.is_dyn or (name == "timestamp" and t == INT):
                helper = "_timestamp" if name == "timestamp" else "_duration"
                if arg.const:
                    try:
                        value = (
                            rt.to_timestamp(arg.value)
                            if name == "timestamp"
                            else rt.to_duration(arg.value)
                        )
                    except CelEvalError as exc:
                        self.fail(arg_node, str(exc))
                    return self.const(value, target)
                return Code(f"{helper}({arg.expr})", target, False)
        self.fail(node, f"`{name}()` is not defined for {an(t)}")

    def maybe_fold(self, code: Code, arg: Code) -> Code:
        """``code``, folded to a constant when its argument is one."""
        return self.fold(code) if arg.const else code

    def matches(self, node: Node, text: Code, pattern: Code, pattern_node: Any) -> Code:
        """``text.matches(pattern)``; a constant pattern is compiled now."""
        if not (text.type == STRING or text.type.is_dyn):
            self.fail(node, f"`matches` needs text, not {an(text.type)}")
        if pattern.const:
            if not isinstance(pattern.value, str):
                self.fail(pattern_node, "a `matches` pattern must be text")
            try:
                compiled = rt.regex(pattern.value)
            except CelEvalError as exc:
                self.fail(pattern_node, str(exc))
            rx = self.const(compiled, DYN)
            if text.type == STRING:
                return Code(f"({rx.expr}.search({text.expr}) is not None)", BOOL, text.safe)
            return Code(f"_search({rx.expr}, {text.expr})", BOOL, False)
        return Code(f"_search(_regex({pattern.expr}), {text.expr})", BOOL, False)

    def has(self, node: Node, args: list[Any]) -> Code:
        """``has(x.field)``: whether the field or key is present."""
        if len(args) != 1:
            self.fail(node, "`has()` takes one field selection, like has(action.payload.tier)")
        target = unwrap(args[0])
        if not (isinstance(target, Tree) and target.data == "member_dot"):
            self.fail(node, "`has()` needs a field selection, like has(action.payload.tier)")
        owner = self.visit(target.children[0])
        name = str(target.children[1])
        if isinstance(owner.type, ObjectType):
            if name not in owner.type.fields:
                self.fail(target.children[1], f"unknown field `{name}` on `{owner.type.name}`")
            return Code(f"({name!r} in {owner.expr})", BOOL, owner.safe)
        if isinstance(owner.type, MapType | OptionalType) or owner.type.is_dyn:
            return Code(f"_has({owner.expr}, {name!r})", BOOL, False)
        self.fail(node, f"`has()` needs a map or an object, not {an(owner.type)}")

    def _member_dot_arg(self, node: Node) -> Code:
        target_node, name_tok = node.children[0], node.children[1]
        name = str(name_tok)
        args = node.children[2].children if len(node.children) > 2 else []
        space = self.namespace_of(target_node)
        if space:
            return self.namespaced(name_tok, space, name, args, name_tok)
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
        if name not in ("contains", "startsWith", "endsWith"):
            return self.library_method(name_tok, name, target, codes, args)  # errors at the name
        if len(codes) != 1:
            self.fail(node, f"`.{name}()` takes one argument")
        arg = codes[0]
        if not (
            (target.type == STRING or target.type.is_dyn)
            and (arg.type == STRING or arg.type.is_dyn)
        ):
            self.fail(node, f"`.{name}()` works on text, not {an(target.type)} and {an(arg.type)}")
        if target.type == STRING and arg.type == STRING:
            expr = {
                "contains": f"({arg.expr} in {target.expr})",
                "startsWith": f"{target.expr}.startswith({arg.expr})",
                "endsWith": f"{target.expr}.endswith({arg.expr})",
            }[name]
            code = Code(expr, BOOL, target.safe and arg.safe)
            return self.fold(code) if target.const and arg.const else code
        return Code(f"_text_method({name!r}, {target.expr}, {arg.expr})", BOOL, False)

    def namespace_of(self, node: Any) -> str | None:
        """``math`` or ``optional`` when ``node`` is that bare name (and not a variable)."""
        node = unwrap(node)
        if not (isinstance(node, Tree) and node.data == "ident"):
            return None
        name = str(node.children[0])
        if name not in NAMESPACED or name in self.variables:
            return None
        return None if any(name in scope for scope in self.scopes) else name

    def macro(self, node: Node, name: str, target_node: Any, args: list[Any]) -> Code:
        """``target.name(var, body)`` for the comprehensions, ``var`` bound in ``body``."""
        if len(args) != 2:
            self.fail(node, f"`.{name}(x, predicate)` takes a variable name and an expression")
        var_node = unwrap(args[0])
        if not (isinstance(var_node, Tree) and var_node.data == "ident"):
            self.fail(args[0], f"the first argument of `.{name}()` must be a variable name")
        var = str(var_node.children[0])
        target = self.visit(target_node)
        t = target.type
        if name in ("optMap", "optFlatMap"):
            return self.optional_macro(node.children[1], name, target, var, args[1])
        if isinstance(t, ListType):
            elem = t.elem
        elif isinstance(t, MapType):
            elem = t.key
        elif t.is_dyn:
            elem = DYN
        else:
            self.fail(node, f"`.{name}()` works on lists and maps, not {an(t)}")
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
        return Code(f"{helper}({target.expr}, {fn})", result, safe)

    def optional_macro(self, node: Node, name: str, target: Code, var: str, body_node: Any) -> Code:
        """``opt.optMap(x, expr)`` and ``opt.optFlatMap(x, expr)``, ``x`` bound to the value."""
        t = target.type
        if not (isinstance(t, OptionalType) or t.is_dyn):
            self.fail(
                node,
                f"`.{name}()` works on an optional value, not {an(t)}",
                f"e.g. `action.payload.?seats.{name}(n, …)`",
            )
        py = f"_v{next(self.names)}"
        self.scopes.append({var: (py, t.elem if isinstance(t, OptionalType) else DYN)})
        try:
            body = self.visit(body_node)
        finally:
            self.scopes.pop()
        if name == "optMap":
            result: CelType = OptionalType(body.type)
        elif isinstance(body.type, OptionalType) or body.type.is_dyn:
            result = body.type if isinstance(body.type, OptionalType) else OptionalType(DYN)
        else:
            self.fail(
                body_node,
                f"the expression of `.optFlatMap()` must be an optional value, not {an(body.type)}",
                "use `.optMap()` to wrap a plain value",
            )
        helper = "_opt_map" if name == "optMap" else "_opt_flat_map"
        return Code(f"{helper}({target.expr}, (lambda {py}: {body.expr}))", result, False)
