"""Load errors of a policy pack: every problem with file, line, column and rule id."""

from __future__ import annotations

from dataclasses import dataclass

from revfield._yaml import Pos
from revfield.errors import RevfieldError

__all__ = ["PackError", "PackProblem"]


@dataclass(frozen=True)
class PackProblem:
    """One reason a policy pack (or its tests) was refused, pointing at the line RevOps wrote:
    file, line, column, the rule it concerns, what is wrong and, when there is one, the fix."""

    pos: Pos
    """Where: file, line and column."""
    message: str
    rule_id: str | None = None
    """The id of what it concerns (see ``kind``), if anything in particular."""
    detail: str = ""
    """Further lines: the expression with a caret, and a help line."""
    kind: str = "rule"
    """What ``rule_id`` names: a rule, a capability, a guardrail, a criterion."""

    def render(self) -> str:
        """``file:line:column: rule `id`: message``, then the detail lines."""
        who = f"{self.kind} `{self.rule_id}`: " if self.rule_id else ""
        head = f"{self.pos.file}:{self.pos.line}:{self.pos.column}: {who}{self.message}"
        return f"{head}\n{self.detail}" if self.detail else head


class PackError(RevfieldError):
    """The pack was refused; nothing of it is in force. ``problems`` lists every reason."""

    def __init__(self, problems: list[PackProblem]) -> None:
        self.problems = problems
        """Every problem found, not only the first."""
        super().__init__("\n".join(p.render() for p in problems))
