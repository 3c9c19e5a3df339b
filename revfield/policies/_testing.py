"""Policy tests, like ``opa test``: given a context, expect a decision and rule ids.

A test file (``policies/tests/*.yaml``) is a list of cases::

    - name: opted-out contacts are never emailed
      context:
        action: {kind: send_email, motion: acquisition}
        contact: {do_not_contact: true}
      expect:
        decision: block
        rules: [opted-out]          # exactly these matched (optional)
        rules_include: [opted-out]  # at least these matched (optional)
        guardrails: [contact-fatigue] # these guardrails held (optional)

Unnamed context fields take neutral defaults (no contact, no deal, nothing counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from revfield._yaml import Pos, YamlError, read_yaml
from revfield.policies._context import ContextError, merge_context
from revfield.policies._errors import PackError, PackProblem
from revfield.policies._evaluate import Decision, decide
from revfield.policies._load import CompiledPack

__all__ = ["CaseResult", "TestReport", "run_policy_tests"]


class _Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["auto", "review", "escalate", "block"]
    rules: list[str] | None = None
    rules_include: list[str] = Field(default_factory=list)
    guardrails: list[str] | None = None
    missing_criteria: list[str] | None = None


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    context: dict[str, Any] = Field(default_factory=dict)
    expect: _Expect


@dataclass
class CaseResult:
    file: str
    line: int
    name: str
    passed: bool
    diff: list[str] = field(default_factory=list)
    decision: Decision | None = None


@dataclass
class TestReport:
    """The outcome of a pack's policy tests (``revfield policy test``): every case, passed or
    with a diff, and which rules no case exercised."""

    results: list[CaseResult]
    covered: set[str]
    """Rule ids that matched in at least one case."""
    uncovered: list[str]
    """Rule ids no case matched, in pack order."""

    @property
    def failed(self) -> list[CaseResult]:
        """The cases whose decision differs from what they expect."""
        return [r for r in self.results if not r.passed]


def run_policy_tests(pack: CompiledPack, tests_dir: Path) -> TestReport:
    """Run the policy tests in ``tests_dir`` (``*.yaml``: cases of a context and the expected
    decision, rules, guardrails and missing criteria) against ``pack``. A folder without tests,
    or a test file that can't be read, raises :class:`PackError` listing every problem."""
    files = sorted(tests_dir.glob("*.yaml")) + sorted(tests_dir.glob("*.yml"))
    if not files:
        raise PackError([PackProblem(Pos(str(tests_dir), 1, 1), "no policy tests (*.yaml) found")])
    results: list[CaseResult] = []
    covered: set[str] = set()
    problems: list[PackProblem] = []
    for file in files:
        try:
            doc = read_yaml(file)
        except YamlError as exc:
            problems.append(PackProblem(exc.pos, exc.message))
            continue
        if not isinstance(doc.data, list):
            problems.append(PackProblem(doc.values[()], "a policy test file is a list of cases"))
            continue
        for i, raw in enumerate(doc.data):
            pos = doc.values[(i,)]
            try:
                case = _Case.model_validate(raw)
                ctx = merge_context(case.context)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                problems.append(PackProblem(pos, f"test case {i + 1}: `{where}`: {err['msg']}"))
                continue
            except ContextError as exc:
                problems.append(
                    PackProblem(pos, f"test `{raw.get('name', i + 1)}`: context: {exc}")
                )
                continue
            decision = decide(pack, ctx)
            covered.update(decision.matched)
            results.append(_judge(str(file), pos.line, case, decision))
    if problems:
        raise PackError(problems)
    uncovered = [r.id for r in pack.rules if r.id not in covered]
    return TestReport(results, covered, uncovered)


def _judge(file: str, line: int, case: _Case, decision: Decision) -> CaseResult:
    want = case.expect
    diff: list[str] = []
    if decision.verdict.label != want.decision:
        diff.append(
            f"decision: expected {want.decision}, got {decision.verdict.label}  "
            f"({decision.explanation})"
        )
    got = set(decision.matched)
    if want.rules is not None and got != set(want.rules):
        missing, extra = sorted(set(want.rules) - got), sorted(got - set(want.rules))
        diff.append(
            "rules: "
            + "; ".join(
                part
                for part in (
                    f"- expected but did not match: {', '.join(missing)}" if missing else "",
                    f"+ matched but not expected: {', '.join(extra)}" if extra else "",
                )
                if part
            )
        )
    absent = sorted(set(want.rules_include) - got)
    if absent:
        diff.append(
            f"rules_include: did not match: {', '.join(absent)} "
            f"(matched: {', '.join(sorted(got)) or 'none'})"
        )
    held = {g.id for g in decision.guardrails}
    if want.guardrails is not None and held != set(want.guardrails):
        diff.append(f"guardrails: expected {sorted(want.guardrails)}, held {sorted(held)}")
    if (
        want.missing_criteria is not None
        and list(decision.missing_criteria) != want.missing_criteria
    ):
        diff.append(
            f"missing_criteria: expected {want.missing_criteria}, "
            f"got {list(decision.missing_criteria)}"
        )
    return CaseResult(file, line, case.name, not diff, diff, decision)
