"""The eval report: every scenario judged, and the scores over the suite.

- **pass rate**: scenarios whose every run passed;
- **decision accuracy**: expected decisions that got the expected verdict and rung;
- **escalation precision and recall**: over the expected decisions, a person seeing the action
  (``review`` or ``escalate``) as the positive class;
- **guardrail violations**: actions carried out by themselves that a person had to see;
- **information conservation** at handover; model calls, tokens and latency;
- **pass^k** as tau-bench defines it: for a scenario run ``n`` times with ``c`` passes,
  C(c, k) / C(n, k), averaged over the scenarios.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from revfield.evals._expect import DecisionCheck, Failure, describe_action, judge
from revfield.evals._runner import EvalError, Recording, ScenarioRun, Workspace, run_scenario
from revfield.evals._scenario import Scenario
from revfield.memory import RunOutcome

__all__ = ["ScenarioResult", "SuiteReport", "pass_hat_k", "run_suite"]

PERSON = ("review", "escalate")


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """tau-bench's pass^k for one task: the chance that ``k`` runs drawn from ``trials``
    (of which ``successes`` passed) all pass, C(c, k) / C(n, k)."""
    if not 0 < k <= trials:
        raise ValueError(f"k must be between 1 and the number of runs ({trials}), got {k}")
    return math.comb(successes, k) / math.comb(trials, k)


@dataclass
class ScenarioResult:
    """One scenario over its runs."""

    name: str
    situation: str
    source: str
    model: str
    runs: int = 0
    passes: int = 0
    failures: list[Failure] = field(default_factory=list)
    """The failures of the first failing run."""
    checks: list[DecisionCheck] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    conservation: float | None = None
    actions: int = 0
    model_calls: int = 0
    model_failures: int = 0
    tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_agents: float = 0.0
    agent_runs: int = 0
    backtest: dict[str, Any] | None = None
    trace: list[str] = field(default_factory=list)
    """What the first run did: each field event and each action, one line each."""

    @property
    def passed(self) -> bool:
        return self.runs > 0 and self.passes == self.runs

    def add(self, run: ScenarioRun) -> None:
        j = judge(run)
        first = self.runs == 0
        self.runs += 1
        self.passes += j.passed
        if not j.passed and not self.failures:
            self.failures = list(j.failures)
        if first:  # scores from the first run (later runs are for pass^k)
            self.checks = list(j.checks)
            self.violations = list(j.violations)
            self.conservation = j.conservation
            o = run.outcome
            self.actions = len(o.actions)
            self.model_calls = o.model_calls
            self.model_failures = o.model_failures
            self.tokens = o.prompt_tokens + o.completion_tokens
            self.latencies_ms = list(o.model_latency_ms)
            self.trace = [f"event {e.kind} on {e.account_id}: {e.detail}" for e in o.events]
            self.trace += [f"action {describe_action(a)}" for a in o.actions]
            if run.backtest is not None:
                self.backtest = run.backtest.to_json()
        self.seconds += run.seconds
        self.seconds_agents += run.seconds_agents
        self.agent_runs += run.agent_runs

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "situation": self.situation,
            "source": self.source,
            "model": self.model,
            "passed": self.passed,
            "runs": self.runs,
            "passes": self.passes,
            "failures": [{"expected": f.expected, "happened": f.happened} for f in self.failures],
            "decisions": [
                {
                    "what": c.what,
                    "expected": c.expected,
                    "actual": c.actual,
                    "expected_rung": c.expected_rung,
                    "actual_rung": c.actual_rung,
                    "ok": c.ok,
                }
                for c in self.checks
            ],
            "guardrail_violations": self.violations,
            "conservation": self.conservation,
            "actions": self.actions,
            "model_calls": self.model_calls,
            "model_failures": self.model_failures,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "backtest": self.backtest,
            "trace": self.trace,
        }


@dataclass
class SuiteReport:
    """The whole suite judged: per-scenario results and the scores over them."""

    results: list[ScenarioResult]
    repeat: int = 1
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def pass_rate(self) -> float:
        return sum(r.passed for r in self.results) / len(self.results) if self.results else 0.0

    def pass_hat(self, k: int) -> float:
        """pass^k averaged over the scenarios."""
        if not self.results:
            return 0.0
        return statistics.fmean(pass_hat_k(r.passes, r.runs, k) for r in self.results)

    @property
    def checks(self) -> list[DecisionCheck]:
        return [c for r in self.results for c in r.checks]

    @property
    def decision_accuracy(self) -> float | None:
        checks = self.checks
        return sum(c.ok for c in checks) / len(checks) if checks else None

    def _confusion(self) -> tuple[int, int, int]:
        tp = fp = fn = 0
        for c in self.checks:
            expected, actual = c.expected in PERSON, c.actual in PERSON
            tp += expected and actual
            fp += actual and not expected
            fn += expected and not actual
        return tp, fp, fn

    @property
    def escalation_precision(self) -> float | None:
        tp, fp, _ = self._confusion()
        return tp / (tp + fp) if tp + fp else None

    @property
    def escalation_recall(self) -> float | None:
        tp, _, fn = self._confusion()
        return tp / (tp + fn) if tp + fn else None

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.results)

    @property
    def conservation(self) -> float | None:
        values = [r.conservation for r in self.results if r.conservation is not None]
        return statistics.fmean(values) if values else None

    @property
    def model_calls(self) -> int:
        return sum(r.model_calls for r in self.results)

    @property
    def model_failures(self) -> int:
        return sum(r.model_failures for r in self.results)

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.results)

    def latency_ms(self, q: float) -> float | None:
        """The ``q`` quantile (0.5, 0.95) of model call latency."""
        values = sorted(v for r in self.results for v in r.latencies_ms)
        if not values:
            return None
        return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]

    @property
    def seconds_agents(self) -> float:
        return sum(r.seconds_agents for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "scenarios": len(self.results),
            "repeat": self.repeat,
            "pass_rate": self.pass_rate,
            "pass_hat_k": {str(k): self.pass_hat(k) for k in range(1, self.repeat + 1)},
            "decision_accuracy": self.decision_accuracy,
            "escalation_precision": self.escalation_precision,
            "escalation_recall": self.escalation_recall,
            "guardrail_violations": self.violations,
            "conservation": self.conservation,
            "model_calls": self.model_calls,
            "model_failures": self.model_failures,
            "tokens": self.tokens,
            "model_latency_ms": {"p50": self.latency_ms(0.5), "p95": self.latency_ms(0.95)},
            "seconds": round(self.seconds, 3),
            "seconds_agents": round(self.seconds_agents, 3),
            "results": [r.to_json() for r in self.results],
        }


def run_suite(
    scenarios: Sequence[Scenario],
    workspace: Workspace,
    *,
    repeat: int = 1,
    recording: Recording | None = None,
    on_run: Callable[[Scenario, int], None] | None = None,
) -> SuiteReport:
    """Run every scenario ``repeat`` times (a fresh database each time) and judge them."""
    import time

    started = time.perf_counter()
    results = []
    for scenario in scenarios:
        result = ScenarioResult(
            scenario.name, scenario.situation, scenario.source, scenario.model.backend
        )
        for n in range(repeat):
            try:
                run = run_scenario(
                    scenario,
                    workspace,
                    run_id=f"{scenario.name}-{n}",
                    recording=recording if n == 0 else None,
                )
            except EvalError as exc:  # this scenario can't run as written; the others can
                run = ScenarioRun(scenario, RunOutcome(), problems=[str(exc)])
            except Exception as exc:  # a bug: fail this scenario, saying what broke
                crash = f"the run crashed: {type(exc).__name__}: {exc}"
                run = ScenarioRun(scenario, RunOutcome(), problems=[crash])
            result.add(run)
            if on_run is not None:
                on_run(scenario, n)
        results.append(result)
    return SuiteReport(results, repeat, time.perf_counter() - started)
