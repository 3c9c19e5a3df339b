"""Codegen, the foundation: :class:`Code`, the Python expression generated for one CEL node
with what the checker knows of it, and :class:`CompilerBase`, the part of the visitor every
kind of node uses — dispatch by grammar rule, errors at a node's position, constants and
constant folding, the size limit, and the true-or-false check.

The node handlers build on it: the functions of CEL's standard extensions (strings, math,
optional values, time accessors) in ``_codegen_library``; calls, methods and macros in
``_codegen_calls``; operators, names, members and literals in ``_codegen``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from lark import Token, Tree

from revfield.policies._cel import _runtime as rt
from revfield.policies._cel._check import an
from revfield.policies._cel._errors import CelError
from revfield.policies._cel._library import HELPERS
from revfield.policies._cel._parse import PASS_THROUGH, Node
from revfield.policies._cel._types import BOOL, CelType

__all__ = ["Code", "CompilerBase", "namespace", "unwrap"]


def namespace(consts: list[Any]) -> dict[str, Any]:
    """The globals of a generated function: the core helpers of ``_runtime``, those of the
    extension library (``_library``), and the constants as ``K``."""
    return rt.namespace(consts) | HELPERS


def unwrap(node: Any) -> Any:
    """``node`` without the grammar rules that only wrap a single child."""
    while isinstance(node, Tree) and node.data in PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    return node


@dataclass
class Code:
    """The Python expression for one CEL node, with its static type."""

    expr: str
    type: CelType
    safe: bool
    """True when evaluating cannot raise (given a context valid under the schema)."""
    const: bool = False
    value: Any = None
    path: tuple[str, ...] | None = None
    computed: bool = False
    """Produced by arithmetic (a double could be NaN); plain fields and literals are not."""


class CompilerBase:
    """What every node handler of the visitor uses. One instance compiles one expression:
    it collects the constants (``K``), the paths read, and the comprehension scopes."""

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
        """Raise :class:`CelError` at ``node``'s position."""
        line, column = 1, 1
        if isinstance(node, Token) and node.line is not None:
            line, column = node.line, node.column or 1
        elif isinstance(node, Tree) and not node.meta.empty:
            line, column = node.meta.line, node.meta.column
        raise CelError(message, self.source, line, column, help)

    def const(self, value: Any, type_: CelType) -> Code:
        """A constant, kept in ``K`` and read from there by the generated code."""
        self.consts.append(value)
        return Code(f"K[{len(self.consts) - 1}]", type_, True, True, value)

    def fold(self, code: Code) -> Code:
        """Evaluate a constant expression now; keep the code if it would raise at run time."""
        try:
            value = eval(compile(code.expr, "<cel>", "eval"), namespace(self.consts), {"c": {}})
        except Exception:
            return code
        return self.const(value, code.type)

    def count(self, node: Any) -> None:
        """Count one more node against the ``max_nodes`` limit."""
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.fail(
                node,
                f"expression is too large (more than {self.max_nodes} parts)",
                "split it into named definitions, or simplify",
            )

    def text(self, node: Any) -> str:
        """The source text of ``node``, for messages."""
        if isinstance(node, Tree) and not node.meta.empty:
            return self.source[node.meta.start_pos : node.meta.end_pos]
        return str(node)

    # -- the walk ----------------------------------------------------------------------------

    def visit(self, node: Any) -> Code:
        """Check and emit ``node`` by its grammar rule: the handler ``_<rule>``."""
        node = unwrap(node)
        self.count(node)
        if isinstance(node, Token):
            self.fail(node, f"unexpected `{node}`")
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            self.fail(node, f"`{self.text(node)}` is not supported in revfield policies")
        code: Code = handler(node)
        return code

    # -- bool checks -----------------------------------------------------------------------

    def want_bool(self, node: Any, code: Code, what: str) -> None:
        """Fail unless ``code`` is a bool (or dyn, checked at run time)."""
        if code.type != BOOL and not code.type.is_dyn:
            self.fail(
                node, f"{what} must be true or false, but `{self.text(node)}` is {an(code.type)}"
            )

    def as_bool(self, code: Code) -> str:
        """``code`` as a Python bool: as is when typed bool, else through ``_bool``."""
        return code.expr if code.type == BOOL else f"_bool({code.expr})"
