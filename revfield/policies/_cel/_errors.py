"""Errors: :class:`CelError` at compile time (with a caret), :class:`CelEvalError` at run time."""

from __future__ import annotations

from revfield.errors import RevfieldError

__all__ = ["CelError", "CelEvalError"]


class CelError(RevfieldError, ValueError):
    """An expression that can't be compiled: syntax, an unknown name, a type error, a limit."""

    def __init__(
        self, message: str, source: str, line: int = 1, column: int = 1, help: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        """1-based line within the expression."""
        self.column = column
        """1-based column within that line."""
        self.help = help

    def render(self, indent: str = "  ") -> str:
        """The expression line with a caret under the problem, then the help line."""
        lines = self.source.splitlines() or [""]
        text = lines[min(self.line, len(lines)) - 1]
        out = [f"{indent}{text}", f"{indent}{' ' * (self.column - 1)}^"]
        if self.help:
            out.append(f"{indent}help: {self.help}")
        return "\n".join(out)

    def __str__(self) -> str:
        return f"{self.message}\n{self.render()}"


class CelEvalError(RevfieldError):
    """An expression failed while evaluating (division by zero, a missing key, overflow…)."""
