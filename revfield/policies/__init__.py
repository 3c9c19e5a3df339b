"""The policy layer RevOps writes: rules, guardrails, governance — and the tools to test them.

from revfield.policies import load_pack, decide, merge_context

pack = load_pack("policies")
decision = decide(pack, merge_context({"action": {"kind": "send_email", "motion": "acquisition"}}))
decision.verdict, decision.matched, decision.explanation
"""

from revfield.domain import Verdict
from revfield.policies._backtest import (
    BacktestExample,
    BacktestReport,
    RuleGroup,
    backtest,
    backtest_packs,
)
from revfield.policies._build import build_context
from revfield.policies._context import SCHEMA, ContextError, default_context, merge_context
from revfield.policies._diff import DiffReport, diff_packs
from revfield.policies._errors import PackError, PackProblem
from revfield.policies._evaluate import (
    Decision,
    GuardrailEffect,
    RuleError,
    RuleOutcome,
    decide,
    explain,
)
from revfield.policies._governance import Deviation, GovernanceReport, deviations, governance_report
from revfield.policies._lint import LintFinding, lint_pack
from revfield.policies._load import CompiledPack, CompiledRule, load_pack
from revfield.policies._record import decision_row, record_decision
from revfield.policies._spend import RunSlots, decide_within_budget
from revfield.policies._testing import TestReport, run_policy_tests
from revfield.policies._watch import PackWatcher

__all__ = [
    "SCHEMA",
    "BacktestExample",
    "BacktestReport",
    "CompiledPack",
    "CompiledRule",
    "ContextError",
    "Decision",
    "Deviation",
    "DiffReport",
    "GovernanceReport",
    "GuardrailEffect",
    "LintFinding",
    "PackError",
    "PackProblem",
    "PackWatcher",
    "RuleError",
    "RuleGroup",
    "RuleOutcome",
    "RunSlots",
    "TestReport",
    "Verdict",
    "backtest",
    "backtest_packs",
    "build_context",
    "decide",
    "decide_within_budget",
    "decision_row",
    "default_context",
    "deviations",
    "diff_packs",
    "explain",
    "governance_report",
    "lint_pack",
    "load_pack",
    "merge_context",
    "record_decision",
    "run_policy_tests",
]
