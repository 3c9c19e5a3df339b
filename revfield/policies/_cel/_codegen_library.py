"""Codegen for what revfield takes from CEL's standard extensions: the string methods
(``lowerAscii``, ``split``, ``indexOf``…, ``join`` on a list), ``math.greatest`` and
``math.least``, optional values (``x.?field``, ``x[?key]``, ``optional.of``, ``orValue``…)
and the timestamp and duration accessors (``getDayOfWeek("Europe/Paris")``…).

:class:`LibraryCompiler` checks each call against its signatures in ``_check`` — the target,
the number of arguments and their types — and reports a mistake at the argument with the
forms of the call as help; then it emits a call of the ``_library`` function.
"""

from __future__ import annotations

from typing import Any

from revfield.policies._cel import _runtime as rt
from revfield.policies._cel._check import (
    DURATION_METHODS,
    LIST_METHODS,
    NAMESPACED,
    OPTIONAL_METHODS,
    STRING_METHODS,
    Overload,
    an,
    comparable,
    join,
)
from revfield.policies._cel._codegen_base import Code, CompilerBase
from revfield.policies._cel._errors import CelEvalError
from revfield.policies._cel._parse import Node
from revfield.policies._cel._time import time_zone
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

__all__ = ["LibraryCompiler"]

_HELPER = {
    "lowerAscii": "_lower_ascii",
    "upperAscii": "_upper_ascii",
    "trim": "_trim",
    "split": "_split",
    "replace": "_replace",
    "indexOf": "_index_of",
    "lastIndexOf": "_last_index_of",
    "substring": "_substring",
    "charAt": "_char_at",
    "join": "_join",
}
_CANNOT_FAIL = {"lowerAscii", "upperAscii", "trim", "split", "replace", "join"}
"""Methods that never raise on arguments of their declared types."""
_ZONE_HELP = (
    'a time zone is an IANA name ("Europe/Paris", "America/New_York", "UTC") '
    'or an offset ("+05:30")'
)


class LibraryCompiler(CompilerBase):
    """The visitor's handlers for the extension functions, methods and optional syntax."""

    # -- signatures ------------------------------------------------------------------------

    def overload(
        self,
        node: Node,
        call: str,
        forms: tuple[Overload, ...],
        usage: str,
        codes: list[Code],
        arg_nodes: list[Any],
    ) -> CelType:
        """The result type of the form of ``call`` that ``codes`` fit; a compile error at the
        argument that fits none, with ``usage`` as help."""
        matching = [f for f in forms if len(f[0]) == len(codes)]
        if not matching:
            counts = sorted({len(f[0]) for f in forms})
            wanted = " or ".join(str(n) for n in counts)
            self.fail(
                node,
                f"`{call}` takes {wanted} argument{'s' if counts != [1] else ''}, not {len(codes)}",
                usage,
            )
        params, result = matching[0]
        for i, (param, code) in enumerate(zip(params, codes, strict=True)):
            if not (code.type == param or code.type.is_dyn):
                self.fail(
                    arg_nodes[i],
                    f"argument {i + 1} of `{call}` must be {an(param)}, "
                    f"but `{self.text(arg_nodes[i])}` is {an(code.type)}",
                    usage,
                )
        return result

    # -- methods ---------------------------------------------------------------------------

    def library_method(
        self, node: Node, name: str, target: Code, codes: list[Code], arg_nodes: list[Any]
    ) -> Code:
        """``target.name(args)`` for the string, list, time and optional methods."""
        t = target.type
        if name in OPTIONAL_METHODS:
            return self.optional_method(node, name, target, codes, arg_nodes)
        if name in STRING_METHODS or name in LIST_METHODS:
            forms, usage = STRING_METHODS.get(name) or LIST_METHODS[name]
            want = ListType(STRING) if name in LIST_METHODS else STRING
            any_list = name in LIST_METHODS and isinstance(t, ListType) and t.elem.is_dyn
            if not (t == want or t.is_dyn or any_list):
                self.fail(
                    node,
                    f"`.{name}()` works on {an(want)}, not {an(t)}",
                    usage,
                )
            result = self.overload(node, f".{name}()", forms, usage, codes, arg_nodes)
            exprs = ", ".join(c.expr for c in (target, *codes))
            typed = not t.is_dyn and t == want and not any(c.type.is_dyn for c in codes)
            safe = typed and name in _CANNOT_FAIL and all(c.safe for c in (target, *codes))
            code = Code(f"{_HELPER[name]}({exprs})", result, safe)
            return self.fold(code) if target.const and all(c.const for c in codes) else code
        return self.time_method(node, name, target, codes, arg_nodes)

    def time_method(
        self, node: Node, name: str, target: Code, codes: list[Code], arg_nodes: list[Any]
    ) -> Code:
        """``t.getHours()``, ``t.getDayOfWeek("Europe/Paris")``…; on a duration, the whole
        duration in that unit (``d.getMinutes()``)."""
        t = target.type
        zone_usage = f'timestamp.{name}() or timestamp.{name}("Europe/Paris")'
        if t == DURATION:
            if name not in DURATION_METHODS:
                self.fail(
                    node,
                    f"`.{name}()` is not defined for a duration",
                    f"a duration has {', '.join(DURATION_METHODS)} (the whole duration in "
                    "that unit)",
                )
            if codes:
                self.fail(arg_nodes[0], f"`.{name}()` of a duration takes no time zone")
            return Code(f"_duration_part({name!r}, {target.expr})", INT, target.safe)
        if not (t == TIMESTAMP or t.is_dyn):
            self.fail(node, f"`.{name}()` works on a timestamp, not {an(t)}", zone_usage)
        if len(codes) > 1:
            self.fail(node, f"`.{name}()` takes at most one argument, a time zone", zone_usage)
        if codes and not (codes[0].type == STRING or codes[0].type.is_dyn):
            self.fail(
                arg_nodes[0],
                f"the time zone of `.{name}()` must be text, not {an(codes[0].type)}",
                _ZONE_HELP,
            )
        if t.is_dyn:
            args = ", ".join(c.expr for c in (target, *codes))
            return Code(f"_time_part({name!r}, {args})", INT, False)
        if not codes:
            return Code(f"_timestamp_part({name!r}, {target.expr})", INT, False)
        zone = codes[0]
        if zone.const:
            try:
                tz = self.const(time_zone(zone.value), DYN)
            except CelEvalError as exc:
                self.fail(arg_nodes[0], str(exc), _ZONE_HELP)
            return Code(f"_timestamp_part({name!r}, {target.expr}, {tz.expr})", INT, False)
        return Code(f"_timestamp_in({name!r}, {target.expr}, {zone.expr})", INT, False)

    # -- optional values -------------------------------------------------------------------

    def optional_method(
        self, node: Node, name: str, target: Code, codes: list[Code], arg_nodes: list[Any]
    ) -> Code:
        """``opt.hasValue()``, ``opt.value()``, ``opt.orValue(v)``, ``opt.or(other)``."""
        t = target.type
        if not (isinstance(t, OptionalType) or t.is_dyn):
            self.fail(
                node,
                f"`.{name}()` works on an optional value, not {an(t)}",
                "optional values come from `x.?field`, `x[?key]`, `optional.of(v)`; e.g. "
                '`action.payload.?tier.orValue("none")`',
            )
        elem = t.elem if isinstance(t, OptionalType) else DYN
        want = {"hasValue": 0, "value": 0, "orValue": 1, "or": 1}[name]
        if len(codes) != want:
            usage = {
                "hasValue": "opt.hasValue()",
                "value": "opt.value()",
                "orValue": "opt.orValue(default)",
                "or": "opt.or(other_optional)",
            }[name]
            self.fail(node, f"`.{name}()` takes {want or 'no'} argument{'s' * (want != 1)}", usage)
        if name == "hasValue":
            return Code(f"_has_value({target.expr})", BOOL, target.safe and not t.is_dyn)
        if name == "value":
            return Code(f"_value({target.expr})", elem, False)
        arg = codes[0]
        if name == "orValue":
            if not comparable(elem, arg.type):
                self.fail(
                    arg_nodes[0],
                    f"the default of `.orValue()` must be {an(elem)}, not {an(arg.type)}",
                    "the default stands in for the optional's value, so give it the same type",
                )
            code = Code(
                f"_or_value({target.expr}, lambda: {arg.expr})",
                join(elem, arg.type),
                target.safe and arg.safe and not t.is_dyn,
            )
            return code
        if not (isinstance(arg.type, OptionalType) or arg.type.is_dyn):
            self.fail(
                arg_nodes[0],
                f"the argument of `.or()` must be an optional value, not {an(arg.type)}",
                "use `.orValue(default)` for a plain default",
            )
        result = OptionalType(
            join(elem, arg.type.elem if isinstance(arg.type, OptionalType) else DYN)
        )
        return Code(f"_or({target.expr}, lambda: {arg.expr})", result, False)

    def optional_access(self, node: Node, target: Code, name: str, name_node: Any) -> Code:
        """``target.?name``, and ``.name`` on an optional value: an optional of the field."""
        t = target.type
        inner = t.elem if isinstance(t, OptionalType) else t
        if isinstance(inner, ObjectType):
            if name not in inner.fields:
                self.fail(
                    name_node,
                    f"unknown field `{name}` on `{inner.name}`",
                    f"`{inner.name}` has {', '.join(inner.fields)}",
                )
            field = inner.fields[name]
            if isinstance(t, OptionalType):
                return Code(f"_opt_select({target.expr}, {name!r})", OptionalType(field), False)
            return Code(f"_of({target.expr}[{name!r}])", OptionalType(field), target.safe)
        if isinstance(inner, MapType) and (inner.key == STRING or inner.key.is_dyn):
            return Code(f"_opt_select({target.expr}, {name!r})", OptionalType(inner.value), False)
        if inner.is_dyn:
            return Code(f"_opt_select({target.expr}, {name!r})", OptionalType(DYN), False)
        self.fail(
            name_node,
            f"`.?{name}`: {an(inner)} has no fields",
            "`.?field` reads a field that may be absent, of a map or an object, "
            "e.g. `action.payload.?tier`",
        )

    def optional_index(self, node: Node, target: Code, index: Code, index_node: Any) -> Code:
        """``target[?index]``, and ``[index]`` on an optional value: an optional of the
        element or entry."""
        t = target.type
        inner = t.elem if isinstance(t, OptionalType) else t
        if isinstance(inner, ListType):
            if not (index.type == INT or index.type.is_dyn):
                self.fail(index_node, f"a list index must be an int, not {an(index.type)}")
            elem: CelType = inner.elem
        elif isinstance(inner, MapType):
            if not comparable(inner.key, index.type):
                self.fail(index_node, f"the keys of this map are {inner.key}, not {index.type}")
            elem = inner.value
        elif inner.is_dyn:
            elem = DYN
        else:
            self.fail(node, f"{an(inner)} can't be indexed")
        return Code(f"_opt_index({target.expr}, {index.expr})", OptionalType(elem), False)

    # -- namespaced functions --------------------------------------------------------------

    def namespaced(self, node: Node, space: str, name: str, args: list[Any], name_tok: Any) -> Code:
        """``math.greatest(…)``, ``math.least(…)``, ``optional.of(v)``, ``optional.none()``,
        ``optional.ofNonZeroValue(v)``."""
        if name not in NAMESPACED[space]:
            listed = ", ".join(f"{space}.{n}" for n in NAMESPACED[space])
            self.fail(name_tok, f"unknown function `{space}.{name}`", f"{space} has {listed}")
        codes = [self.visit(a) for a in args]
        if space == "math":
            return self.extreme(node, name, codes, args)
        if name == "none":
            if codes:
                self.fail(node, "`optional.none()` takes no arguments")
            return self.const(rt.NONE, OptionalType(DYN))
        if len(codes) != 1:
            self.fail(node, f"`optional.{name}(value)` takes one argument")
        arg = codes[0]
        helper = "_of" if name == "of" else "_of_non_zero"
        code = Code(f"{helper}({arg.expr})", OptionalType(arg.type), arg.safe)
        return self.fold(code) if arg.const else code

    def extreme(self, node: Node, name: str, codes: list[Code], args: list[Any]) -> Code:
        """``math.greatest(a, b…)`` / ``math.least(a, b…)``, or of one list of numbers."""
        call = f"math.{name}()"
        usage = f"math.{name}(a, b, …) or math.{name}(list_of_numbers)"
        if not codes:
            self.fail(node, f"`{call}` requires at least one argument", usage)
        if len(codes) == 1 and isinstance(codes[0].type, ListType):
            elem = codes[0].type.elem
            if not (elem.is_numeric or elem.is_dyn):
                self.fail(args[0], f"`{call}` needs numbers, not a list of {elem}", usage)
            code = Code(f"_{name}({codes[0].expr})", elem, False)
            return self.fold(code) if codes[0].const else code
        if len(codes) == 1 and codes[0].type.is_dyn:  # a number or a list, known at run time
            return Code(f"_{name}({codes[0].expr}, True)", DYN, False)
        for code, arg in zip(codes, args, strict=True):
            if not (code.type.is_numeric or code.type.is_dyn):
                self.fail(
                    arg,
                    f"`{call}` needs numbers (ints or doubles), but `{self.text(arg)}` is "
                    f"{an(code.type)}",
                    usage,
                )
        types = {c.type for c in codes}
        result = types.pop() if len(types) == 1 else DYN
        items = ", ".join(c.expr for c in codes)
        safe = result == INT and all(c.safe for c in codes)
        code = Code(f"_{name}(({items},))", result, safe, computed=result == DOUBLE)
        return self.fold(code) if all(c.const for c in codes) else code
