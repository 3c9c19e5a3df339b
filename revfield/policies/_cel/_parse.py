"""Parse: CEL text to a Lark parse tree (cel-python's grammar), within the size and nesting
limits, with a parse failure turned into a :class:`CelError` at its line and column.

Also the facts about that grammar's tree that the code generator walks by: the rules that
only wrap a single child (:data:`PASS_THROUGH`) and the relation rules' operators (:data:`OPS`).
"""

from __future__ import annotations

from typing import Any

import celpy.celparser as celparser
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from revfield.policies._cel._errors import CelError

__all__ = ["OPS", "PASS_THROUGH", "Node", "parse"]

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
"""Grammar rules that, with a single child, only wrap it."""
OPS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}
"""The relation rules and the operator each stands for."""

_PARSER = celparser.CELParser()
Node = Any  # a lark Tree of the CEL grammar; its children are Trees or Tokens


def parse(source: str, *, max_length: int, max_depth: int) -> Node:
    """The parse tree of ``source``; raises :class:`CelError` (with the position) when it is
    over ``max_length`` characters, nests brackets deeper than ``max_depth``, is empty, or
    does not parse."""
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
    return tree


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
