"""The eval suite as users run it: the shipped scenarios pass through the real field, a
loosened pack fails them with violations, a cassette missing a request fails its scenario
naming the request, bad scenario files are refused with file, line and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revfield.cli import app
from revfield.evals import (
    ScenarioError,
    Workspace,
    load_scenario,
    load_scenarios,
    pass_hat_k,
    run_suite,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "evals" / "scenarios"
POLICIES = ROOT / "policies"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace.create(tmp_path_factory.mktemp("evals"), POLICIES)


def loosened(tmp_path: Path) -> Path:
    """The shipped pack with every discount automated (a deliberately bad change)."""
    folder = tmp_path / "loose"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("tests"))
    text = (folder / "default.yaml").read_text()
    for rule in ("big-discount", "small-discount"):
        head = f"  - id: {rule}\n"
        start = text.index(head)
        end = text.index("  - id:", start + len(head))
        block = text[start:end]
        text = text.replace(
            block,
            block.replace("decision: escalate", "decision: auto")
            .replace("decision: review", "decision: auto")
            .replace("    escalate_to: manager\n", ""),
        )
    (folder / "default.yaml").write_text(text)
    return folder


def test_every_shipped_scenario_passes(workspace: Workspace) -> None:
    scenarios = load_scenarios([SCENARIOS])
    assert len(scenarios) >= 20
    assert sum(s.model.backend == "openai" for s in scenarios) >= 4
    report = run_suite(scenarios, workspace)
    failed = {r.name: [str(f) for f in r.failures] for r in report.results if not r.passed}
    assert not failed, json.dumps(failed, indent=2)
    assert report.violations == 0
    assert report.decision_accuracy == 1.0
    assert report.escalation_precision == 1.0 and report.escalation_recall == 1.0


def test_a_loosened_pack_fails_scenarios_with_guardrail_violations(tmp_path: Path) -> None:
    scenarios = [s for s in load_scenarios([SCENARIOS]) if "discount" in s.name]
    assert scenarios, "the suite has discount scenarios"
    shipped = run_suite(scenarios, Workspace.create(tmp_path / "shipped", POLICIES))
    loose = run_suite(scenarios, Workspace.create(tmp_path / "loose", loosened(tmp_path)))
    assert shipped.passed and not loose.passed
    assert loose.pass_rate < shipped.pass_rate
    assert (loose.decision_accuracy or 0) < (shipped.decision_accuracy or 0)
    assert loose.violations > 0
    assert (loose.escalation_recall or 0) < 1.0
    failures = [str(f) for r in loose.results for f in r.failures]
    assert any("offer_discount" in f and "auto by small-discount" in f for f in failures)


def _copy_scenario(name: str, tmp_path: Path) -> Path:
    """A scenario and its cassette copied to ``tmp_path`` (same relative layout)."""
    (tmp_path / "scenarios").mkdir(parents=True)
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "fixtures").mkdir()
    shutil.copy(ROOT / "evals" / "fixtures" / "team.yaml", tmp_path / "fixtures" / "team.yaml")
    path = tmp_path / "scenarios" / f"{name}.yaml"
    shutil.copy(SCENARIOS / f"{name}.yaml", path)
    cassette = load_scenario(path).model.cassette
    assert cassette
    shutil.copy(SCENARIOS / cassette, (path.parent / cassette).resolve())
    return path


def test_a_request_missing_from_the_cassette_fails_its_scenario_showing_it(
    tmp_path: Path, workspace: Workspace
) -> None:
    path = _copy_scenario("closed-won-handover-openai", tmp_path)
    cassette = (path.parent / load_scenario(path).model.cassette).resolve()  # type: ignore[operator]
    data = json.loads(cassette.read_text())
    removed = [i for i in data["interactions"] if i["operation"] == "summarise_handover"]
    assert removed
    data["interactions"] = [i for i in data["interactions"] if i not in removed]
    cassette.write_text(json.dumps(data))
    report = run_suite([load_scenario(path)], workspace)
    (result,) = report.results
    assert not result.passed
    text = "\n".join(str(f) for f in result.failures)
    assert "not in the cassette" in text and "summarise_handover" in text


def test_a_changed_request_shows_a_diff_against_the_closest_recorded_one(
    tmp_path: Path, workspace: Workspace
) -> None:
    path = _copy_scenario("smb-intent-surge-openai", tmp_path)
    text = path.read_text().replace("pipeline forecasting", "pipeline hygiene")
    path.write_text(text)
    report = run_suite([load_scenario(path)], workspace)
    (result,) = report.results
    failures = "\n".join(str(f) for f in result.failures)
    assert "draft_message" in failures
    assert "-" in failures and "pipeline hygiene" in failures  # the diff names what changed


def test_scenario_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "situation: x\nsource: y\ntimeline:\n  - at: 2 weeks\n"
        "expect:\n  actions:\n    - {kind: send_email, verdikt: auto}\n"
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    text = str(err.value)
    assert f"{bad}:4:" in text and "timeline.0.at" in text and "2 weeks" in text
    assert f"{bad}:7:" in text and "unknown field `verdikt`" in text and "verdict" in text


def test_a_missing_fixture_is_named_with_the_line_that_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "situation: x\nsource: y\nmemory:\n  fixture: nowhere.yaml\n"
        "timeline: [{at: 0m}]\nexpect: {}\n"
    )
    with pytest.raises(ScenarioError, match=r"bad.yaml:4:.*memory.fixture.*nowhere.yaml"):
        load_scenario(bad)


def test_an_answer_that_finds_no_item_fails_the_scenario_saying_so(
    tmp_path: Path, workspace: Workspace
) -> None:
    path = tmp_path / "lost-answer.yaml"
    path.write_text(
        "situation: an answer for an item that never waits\nsource: test\n"
        "memory:\n  accounts: [{id: a.io, segment: smb}]\n"
        "timeline:\n  - at: 1h\n    answers:\n"
        "      - {select: {kind: offer_discount}, decision: approve}\n"
        "expect: {}\n"
    )
    (result,) = run_suite([load_scenario(path)], workspace).results
    assert not result.passed
    assert "no pending review item matches {kind: offer_discount}" in str(result.failures[0])


def test_pass_hat_k_is_tau_bench_s() -> None:
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(2, 3, 1) == pytest.approx(2 / 3)
    assert pass_hat_k(2, 3, 2) == pytest.approx(1 / 3)
    assert pass_hat_k(2, 3, 3) == 0.0
    with pytest.raises(ValueError, match="k must be between 1"):
        pass_hat_k(1, 2, 3)


def test_cli_reports_pass_hat_k_writes_json_and_fails_on_a_loosened_pack(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    out = tmp_path / "report.json"
    ok = runner.invoke(
        app,
        [
            "eval",
            str(SCENARIOS),
            "--only",
            "smb-intent-surge-automated",
            "--repeat",
            "3",
            "--json",
            str(out),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "pass^3" in ok.output and "1.00" in ok.output
    report = json.loads(out.read_text())
    assert report["passed"] and report["pass_hat_k"]["3"] == 1.0
    assert report["results"][0]["runs"] == 3
    bad = runner.invoke(
        app, ["eval", str(SCENARIOS), "--only", "discount", "--pack", str(loosened(tmp_path))]
    )
    assert bad.exit_code == 1, bad.output
    assert "FAIL" in bad.output and "guardrail violation" in bad.output
    assert "Traceback" not in bad.output


def test_cli_records_a_cassette_against_the_local_server_without_secrets(
    tmp_path: Path,
) -> None:
    path = _copy_scenario("smb-intent-surge-openai", tmp_path)
    cassette = (path.parent / "../cassettes/smb-intent-surge-openai.json").resolve()
    cassette.unlink()
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", str(path), "--record", "--api-key", "sk-secret-do-not-store"]
    )
    assert result.exit_code == 0, result.output
    text = cassette.read_text()
    assert "sk-secret-do-not-store" not in text and "authorization" not in text.lower()
    assert '"operation": "draft_message"' in text
    replay = runner.invoke(app, ["eval", str(path)])
    assert replay.exit_code == 0, replay.output


def test_a_misspelt_rule_or_guardrail_fails_its_scenario_naming_the_closest(
    tmp_path: Path, workspace: Workspace
) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        "situation: a typo in an expectation that would otherwise test nothing\nsource: test\n"
        "memory:\n  accounts: [{id: a.io, segment: smb}]\n"
        "timeline: [{at: 0m}]\n"
        "expect:\n"
        "  actions: [{kind: send_email, count: 0, guardrails: [contact_fatigue]}]\n"
        "  never: [{kind: send_emial}]\n"
    )
    (result,) = run_suite([load_scenario(path)], workspace).results
    assert not result.passed
    text = str(result.failures[0])
    assert "unknown guardrail `contact_fatigue`; did you mean `contact-fatigue`?" in text
    assert "unknown action kind `send_emial`; did you mean `send_email`?" in text


def test_memory_end_state_and_facts_are_judged(tmp_path: Path, workspace: Workspace) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(
        "situation: a prospect asks to stop\nsource: test\n"
        "memory:\n  accounts: [{id: a.io, segment: smb}]\n"
        "  contacts: [{account: a.io, email: pat@a.io, role: CTO}]\n"
        "timeline:\n  - at: 0m\n    signals:\n"
        "      - {kind: email_replied, account: a.io, contact: pat@a.io,\n"
        "         text: 'Please remove me from your list and stop emailing me.'}\n"
        "expect:\n"
        "  memory:\n"
        "    - {contact: pat@a.io, do_not_contact: false}\n"
        "    - {account: a.io, customer_state: customer}\n"
        "  facts: [{account: a.io, type: pain}]\n"
    )
    (result,) = run_suite([load_scenario(path)], workspace).results
    failures = "\n".join(str(f) for f in result.failures)
    assert "pat@a.io reachable; it is not to be contacted" in failures
    assert "a.io to be a customer; it is prospect" in failures
    assert "current pain on a.io" in failures
