"""Parse: CEL text to a Lark parse tree (cel-python's grammar, with CEL's optional-selection
syntax added), within the size and nesting limits, with a parse failure turned into a
:class:`CelError` at its line and column.

cel-python's grammar predates CEL's optional values, so it has no ``x.?field`` or
``x[?index]``. We build our parser from its grammar file with two rules added —
``member_dot_opt: member "." "?" IDENT`` and ``member_index_opt: member "[" "?" expr "]"``, as
in cel-go's ANTLR grammar — and otherwise the same options as cel-python's own parser. The
additions cannot change how anything else parses: after ``.`` the grammar only allowed a name,
and an expression never starts with ``?``.

Also the facts about that grammar's tree that the code generator walks by: the rules that
only wrap a single child (:data:`PASS_THROUGH`) and the relation rules' operators (:data:`OPS`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token
from lark.exceptions import LexError, ParseError, UnexpectedCharacters, UnexpectedToken

from revfield.errors import RevfieldError
from revfield.policies._cel._errors import CelError

__all__ = ["OPS", "PASS_THROUGH", "CelSyntaxError", "Node", "parse", "parse_tree"]

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

Node = Any  # a lark Tree of the CEL grammar; its children are Trees or Tokens

_MEMBER = "member         : member_dot | member_dot_arg | member_index | member_object | primary"
_OPTIONAL_RULES = """
member_dot_opt   : member "." "?" IDENT
member_index_opt : member "[" "?" expr "]"
"""


class CelSyntaxError(RevfieldError, ValueError):
    """CEL text that does not parse, with the line and column the parser stopped at (the
    parser's own words; :func:`parse` turns it into a :class:`CelError` with a hint)."""

    def __init__(self, *args: Any, line: int | None = None, column: int | None = None) -> None:
        super().__init__(*args)
        self.line = line
        self.column = column


def _grammar() -> str:
    """cel-python's grammar with the optional-selection rules added. Its file is read from
    the installed package without importing it: importing ``celpy`` loads its evaluator and
    pendulum, which nothing here uses (about 40 ms of every start that loads a pack)."""
    spec = importlib.util.find_spec("celpy")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a dependency
        raise RuntimeError("cel-python is not installed: its grammar is needed to parse CEL")
    folder = Path(next(iter(spec.submodule_search_locations)))
    text = (folder / "cel.lark").read_text(encoding="utf-8")
    if _MEMBER not in text:  # pragma: no cover - cel-python is pinned to a minor version
        raise RuntimeError("cel-python's grammar changed: the `member` rule is not as expected")
    text = text.replace(_MEMBER, _MEMBER + " | member_dot_opt | member_index_opt")
    return text + _OPTIONAL_RULES


def _bool_literal(token: Token) -> Token:
    """``true`` and ``false`` lex as names; make them literals (as cel-python does, but
    keeping their position, so an error at one points at it)."""
    if token.value in ("true", "false"):
        return Token.new_borrow_pos("BOOL_LIT", token.value, token)
    return token


@functools.cache
def _parser() -> Lark:
    """The CEL parser, built on first use. Building its LALR tables takes about 0.2 s, so
    they are kept in the user's cache folder (:func:`cache_file`) and read from there after. A
    file that does not load is replaced; a new one is written aside and moved into place, so
    another process never reads half of one."""
    grammar = _grammar()
    kept = cache_file(grammar)
    if kept is not None and kept.exists():
        try:
            with kept.open("rb") as f:
                return Lark.load(f)
        except Exception:  # damaged, or written by another lark: build it again below
            pass
    parser = _build(grammar)
    if kept is not None:
        aside = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
        try:
            with aside.open("wb") as f:
                parser.save(f)
            os.replace(aside, kept)
        except OSError:  # a full disk: parse without keeping it
            aside.unlink(missing_ok=True)
    return parser


def _build(grammar: str) -> Lark:
    return Lark(
        grammar,
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": _bool_literal},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
    )


def cache_file(grammar: str) -> Path | None:
    """Where the parser built from ``grammar`` is kept: ``$XDG_CACHE_HOME/revfield`` (else
    ``~/.cache/revfield``), named by the grammar, Lark's version and Python's, so a change to
    any of them builds anew. None when that folder cannot be made, or is not the user's own
    and closed to others: the file is a pickle, and nobody else may be able to write it."""
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "revfield"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except (OSError, RuntimeError):  # no home, a read-only disk
        return None
    owner = os.getuid() if hasattr(os, "getuid") else info.st_uid
    if info.st_uid != owner or info.st_mode & 0o022 or not os.access(folder, os.W_OK):
        return None
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    python = f"{sys.version_info.major}{sys.version_info.minor}"
    return folder / f"cel-parser-{digest}-lark{lark.__version__}-py{python}.pickle"


def parse_tree(source: str) -> Node:
    """The parse tree of ``source``, or :class:`CelSyntaxError` (no limits; the
    policy linter uses it to read conditions that already compiled)."""
    try:
        return _parser().parse(source)
    except (UnexpectedToken, UnexpectedCharacters) as ex:
        raise CelSyntaxError(
            ex.get_context(source), *ex.args, line=ex.line, column=ex.column
        ) from ex
    except (LexError, ParseError) as ex:
        raise CelSyntaxError(str(ex.args[0]).splitlines()[0], *ex.args) from ex


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
        tree = parse_tree(source)
    except CelSyntaxError as exc:
        message, line, column = _syntax_error(exc, source)
        raise CelError(
            f"syntax error: {message}", source, line, column, _syntax_help(source, line, column)
        ) from None
    return tree


def _nesting(source: str) -> tuple[int, int]:
    """Deepest bracket nesting outside string literals (raw and triple-quoted ones too), and
    where it is."""
    depth = deepest = at = 0
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "\"'":
            i = _string_end(source, i)
            continue
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, i
        elif ch in ")]}":
            depth -= 1
        i += 1
    return deepest, at


def _string_end(source: str, i: int) -> int:
    """Where the string literal opening at ``i`` ends (past its closing quote)."""
    raw = i > 0 and source[i - 1] in "rR"
    quote = source[i : i + 3] if source[i : i + 3] in ('"""', "'''") else source[i]
    i += len(quote)
    while i < len(source):
        if source.startswith(quote, i):
            return i + len(quote)
        i += 2 if source[i] == "\\" and not raw else 1
    return i


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
    "QMARK": "?",
    "$END": "the end",
}


def _syntax_help(source: str, line: int, column: int) -> str:
    """A hint for a mistake the message alone doesn't explain."""
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    before = text[: column - 1].rstrip()
    if text[column - 1 : column] == "?" and before.endswith(("[", "{", ",")):
        return (
            "optional entries in list and map literals ([?x], {?k: v}) are not supported; "
            "use `.orValue(default)` instead"
        )
    if re.search(r"[\w\])]\?\.[A-Za-z_]", source):
        return "an optional field is written `x.?field`, not `x?.field`"
    return ""


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
