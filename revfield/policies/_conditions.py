"""The one place the policy engine meets CEL: the context schema as CEL types, and compiling
a condition (definitions are extra boolean variables)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from revfield.errors import RevfieldError
from revfield.policies._cel import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelError,
    CelEvalError,
    CelType,
    ListType,
    MapType,
    ObjectType,
    compile_cel,
)
from revfield.policies._context import SCHEMA, FieldSpec

__all__ = [
    "FAILURES",
    "VARIABLES",
    "CompileProblem",
    "Condition",
    "EvalError",
    "compile_condition",
    "failure_message",
    "holds",
]

EvalError = CelEvalError

_PRIMITIVES: dict[str, CelType] = {
    "bool": BOOL,
    "int": INT,
    "double": DOUBLE,
    "string": STRING,
    "timestamp": TIMESTAMP,
    "list<string>": ListType(STRING),
    "map<dyn>": MapType(STRING, DYN),
}


def _cel_type(name: str, spec: FieldSpec) -> CelType:
    if spec.fields is not None:
        return ObjectType(name, {k: _cel_type(f"{name}.{k}", v) for k, v in spec.fields.items()})
    return _PRIMITIVES[spec.type]


VARIABLES: dict[str, CelType] = {name: _cel_type(name, spec) for name, spec in SCHEMA.items()}


class Condition(Protocol):
    @property
    def source(self) -> str: ...

    @property
    def references(self) -> frozenset[str]: ...

    def evaluate(self, ctx: Mapping[str, Any], /) -> Any: ...


class CompileProblem(RevfieldError):
    def __init__(self, error: CelError) -> None:
        super().__init__(error.message)
        self.message = error.message
        self.line = error.line
        self.column = error.column
        self.help = error.help
        self._error = error

    def render(self, indent: str = "  ") -> str:
        return self._error.render(indent)


def compile_condition(source: str, *, definitions: Mapping[str, str] | None = None) -> Condition:
    """Compile a boolean condition over the decision context (and the pack's definitions)."""
    variables = dict(VARIABLES)
    for name in definitions or ():
        variables[name] = BOOL
    try:
        return compile_cel(source.strip(), variables, expect=BOOL)
    except CelError as exc:
        raise CompileProblem(exc) from None


# Whatever goes wrong while evaluating a condition counts as an error of that rule (fail
# closed), including a context that does not match the schema.
FAILURES = (EvalError, KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError)


def holds(condition: Condition, env: Mapping[str, Any]) -> bool | str:
    """Whether ``condition`` holds on ``env``: True, False, or why it could not be evaluated
    (a result that is not a boolean is such a reason too)."""
    try:
        value = condition.evaluate(env)
    except FAILURES as exc:
        return failure_message(exc)
    if value is True or value is False:
        return value
    return f"condition gave {value!r}, not true or false"


def failure_message(exc: BaseException) -> str:
    """Why a condition failed, in a line."""
    if isinstance(exc, KeyError):
        return f"the context has no {exc}"
    return str(exc) or type(exc).__name__
