"""CEL for revfield policies, compiled to Python functions checked against a typed schema.

The phases, one module each: parse → check → codegen → runtime.

- ``_parse``: text to a parse tree (cel-python's Lark grammar), the size and nesting limits,
  syntax errors with their position.
- ``_check``: the type rules (what can be compared, ordered, added…) and the functions and
  methods a condition may call.
- ``_codegen``: :func:`compile_cel`; a visitor walks the tree once, checks each node with
  ``_check`` and emits Python for it (``_codegen_base``, ``_codegen_calls``: its other parts).
- ``_runtime``: CEL semantics at evaluation time; the generated function's globals.

``_types`` has the static types, ``_errors`` the errors (:class:`CelError` when compiling,
:class:`CelEvalError` when evaluating), ``_literals`` CEL's string escapes, ``_time``
timestamps and durations, ``_library`` the run time of CEL's standard extensions (strings,
math, optional values, time accessors; checked and emitted by ``_codegen_library``). See
``_codegen`` for how and why.
"""

from revfield.policies._cel._check import FUNCTIONS, METHODS
from revfield.policies._cel._codegen import CompiledExpr, compile_cel
from revfield.policies._cel._errors import CelError, CelEvalError
from revfield.policies._cel._literals import LiteralError, decode_string
from revfield.policies._cel._parse import parse_tree
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

__all__ = [
    "BOOL",
    "DOUBLE",
    "DURATION",
    "DYN",
    "FUNCTIONS",
    "INT",
    "METHODS",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "CelError",
    "CelEvalError",
    "CelType",
    "CompiledExpr",
    "ListType",
    "LiteralError",
    "MapType",
    "ObjectType",
    "OptionalType",
    "compile_cel",
    "decode_string",
    "parse_tree",
]
