"""CEL for revfield policies: parse (cel-python's grammar), check against a typed schema, and
compile to Python functions. See ``_compile`` for how and why."""

from revfield.policies._cel._compile import FUNCTIONS, METHODS, CompiledExpr, compile_cel
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
    "MapType",
    "ObjectType",
    "compile_cel",
]
