"""The eval suite: recorded scenarios replayed through the real pipeline, scored.

A scenario (``evals/scenarios/*.yaml``) seeds a memory, drives a timeline of signals and
people's answers through the field on a clock the runner sets, with the offline model or an
OpenAI-compatible one replayed from its cassette, and states what must (and must never)
happen. :func:`run_suite` replays and judges them; ``revfield eval`` prints the report::

    from revfield.evals import Workspace, load_scenarios, run_suite

    scenarios = load_scenarios([Path("evals/scenarios")])
    report = run_suite(scenarios, Workspace.create(Path("/tmp/evals"), Path("policies")))
    assert report.passed, report.to_json()
"""

from revfield.evals._cassette import (
    Cassette,
    CassetteError,
    CassetteMiss,
    CassetteRecorder,
    Interaction,
    Playback,
    replay_model,
    replaying,
)
from revfield.evals._expect import DecisionCheck, Failure, Judgement, describe_action, judge
from revfield.evals._local_server import LocalOpenAIServer
from revfield.evals._report import ScenarioResult, SuiteReport, pass_hat_k, run_suite
from revfield.evals._runner import EvalError, Recording, ScenarioRun, Workspace, run_scenario
from revfield.evals._scenario import Scenario, ScenarioError, load_scenario, load_scenarios

__all__ = [
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteRecorder",
    "DecisionCheck",
    "EvalError",
    "Failure",
    "Interaction",
    "Judgement",
    "LocalOpenAIServer",
    "Playback",
    "Recording",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ScenarioRun",
    "SuiteReport",
    "Workspace",
    "describe_action",
    "judge",
    "load_scenario",
    "load_scenarios",
    "pass_hat_k",
    "replay_model",
    "replaying",
    "run_scenario",
    "run_suite",
]
