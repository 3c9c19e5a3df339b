"""``revfield eval``: replay the recorded scenarios through the field, score them, report."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from revfield.cli._app import app, console, fail, pack_help, state
from revfield.cli._demo import bundled_policies
from revfield.errors import RevfieldError

if TYPE_CHECKING:  # the eval suite (the whole field, LangGraph, the OpenAI SDK) loads to run
    from revfield.evals import Recording, Scenario, SuiteReport, Workspace


def bundled_scenarios() -> Path:
    """The scenarios shipped with revfield (a source checkout's ``evals/scenarios``)."""
    return Path(__file__).resolve().parents[2] / "evals" / "scenarios"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@app.command("eval")
def eval_(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Scenario files or folders (default: evals/scenarios).", show_default=False
        ),
    ] = None,
    pack: Annotated[
        Path | None,
        typer.Option(
            help="The policy pack under test (default: REVFIELD_POLICIES, else the shipped one).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    repeat: Annotated[
        int, typer.Option(help="Run each scenario K times and report pass^k.", min=1, max=50)
    ] = 1,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only scenarios whose name contains this (repeatable).", metavar="NAME"
        ),
    ] = None,
    json_out: Annotated[
        str | None,
        typer.Option(
            "--json", help="Write the whole report as JSON to FILE (- for stdout).", metavar="FILE"
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            help="Record the cassettes of `backend: openai` scenarios against a live endpoint "
            "(--base-url; without it, revfield's local OpenAI-compatible server)."
        ),
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint to record against.", metavar="URL"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="API key for --record (default: OPENAI_API_KEY); never written to a cassette.",
            envvar="OPENAI_API_KEY",
            show_envvar=False,
        ),
    ] = None,
    model: Annotated[str, typer.Option(help="Model name for --record.")] = "gpt-4o-mini",
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Keep each scenario's database in this folder to look at.", metavar="DIR"
        ),
    ] = None,
    show: Annotated[
        bool,
        typer.Option(
            help="Print every action each scenario's run proposed (to write expectations)."
        ),
    ] = False,
) -> None:
    """Replay the recorded scenarios through the real field (a fresh database each, the clock
    set by the runner, people's answers scripted, the model offline or from its cassette),
    check every expectation and print the report: pass rate, decision accuracy, escalation
    precision and recall, guardrail violations, information conservation, model calls.
    Exits 1 when a scenario fails."""
    from revfield.evals import Recording, Workspace

    scenarios = _scenarios(paths, only)
    pack_dir = _pack_dir(pack)
    if record and not any(s.model.backend == "openai" for s in scenarios):
        fail("--record: none of these scenarios uses `model: {backend: openai}`")
    recording = None
    if record:
        scenarios = [s for s in scenarios if s.model.backend == "openai"]
        recording = Recording(base_url=base_url, api_key=api_key or "sk-local", model=model)
    with tempfile.TemporaryDirectory(prefix="revfield-eval-") as tmp:
        root = keep or Path(tmp)
        try:
            workspace = Workspace.create(root, pack_dir)
            report = _run(scenarios, workspace, repeat, recording)
        except RevfieldError as exc:
            fail(str(exc))
    if json_out == "-":
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print(report, show)
        if json_out:
            Path(json_out).write_text(
                json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
            )
            console.print(Text(f"report written to {json_out}", style="dim"))
    if record:
        console.print(f"recorded {len(scenarios)} cassette(s) (keys and Authorization removed)")
    if keep:
        console.print(Text(f"databases kept in {keep} (one per scenario run)", style="dim"))
    if not report.passed:
        raise typer.Exit(1)


def _scenarios(paths: list[Path] | None, only: list[str] | None) -> list[Scenario]:
    from revfield.evals import ScenarioError, load_scenarios

    if not paths:
        local = Path("evals/scenarios")
        paths = [local if local.is_dir() else bundled_scenarios()]
    missing = [p for p in paths if not p.exists()]
    if missing:
        fail(f"no scenarios at {', '.join(map(str, missing))}")
    try:
        scenarios = load_scenarios(paths)
    except ScenarioError as exc:
        fail(f"{len(exc.problems)} problem(s) in the scenarios; nothing was run\n{exc}")
    if only:
        scenarios = [s for s in scenarios if any(o in s.name for o in only)]
    if not scenarios:
        fail("no scenario to run" + (f" matches {', '.join(only)}" if only else ""))
    return scenarios


def _pack_dir(pack: Path | None) -> Path:
    settings = state().settings
    if pack is not None:
        if not pack.exists():
            fail(f"the policy pack {pack} does not exist")
        return pack
    if settings.policies.exists():
        return settings.policies
    if "policies" in settings.model_fields_set:
        fail(
            f"the policy pack {settings.policies} does not exist"
            + pack_help(settings.policies, "--pack PATH")
        )
    return bundled_policies()


def _run(
    scenarios: list[Scenario], workspace: Workspace, repeat: int, recording: Recording | None
) -> SuiteReport:
    from revfield.evals import run_suite

    with Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=len(scenarios) * repeat)

        def advance(scenario: Scenario, _n: int) -> None:
            bar.update(task, advance=1, description=scenario.name)

        return run_suite(scenarios, workspace, repeat=repeat, recording=recording, on_run=advance)


def _print(report: SuiteReport, show: bool) -> None:
    t = Table(title="scenarios", box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("scenario", overflow="fold", ratio=1)
    t.add_column("model", no_wrap=True)
    t.add_column("result", no_wrap=True)
    t.add_column("verdicts", justify="right", no_wrap=True)
    t.add_column("actions", justify="right", no_wrap=True)
    t.add_column("calls", justify="right", no_wrap=True)
    t.add_column("s", justify="right", no_wrap=True)
    for r in report.results:
        ok = sum(c.ok for c in r.checks)
        result = Text("pass", style="green") if r.passed else Text("FAIL", style="bold red")
        if report.repeat > 1:
            result.append(f" {r.passes}/{r.runs}", style="dim")
        t.add_row(
            r.name,
            r.model,
            result,
            f"{ok}/{len(r.checks)}" if r.checks else "—",
            str(r.actions),
            f"{r.model_calls}" + (f" ({r.model_failures} failed)" if r.model_failures else ""),
            f"{r.seconds:.1f}",
        )
    console.print(t)
    for r in report.results:
        if not r.passed:
            console.print(
                Text.assemble(
                    ("✗ ", "bold red"), (r.name, "bold"), f" — {r.situation.strip()[:100]}"
                )
            )
            for f in r.failures:
                console.print(
                    Text.assemble("    expected ", (f.expected, "bold"), "\n      ", f.happened)
                )
        if r.violations:
            for v in r.violations:
                console.print(Text.assemble(("    guardrail violation: ", "bold red"), v))
    if show:
        _print_actions(report)
    s = Table(title="scores", box=box.SIMPLE_HEAD, title_justify="left", show_header=False)
    s.add_column()
    s.add_column(justify="right")
    s.add_column(style="dim")
    passed = sum(r.passed for r in report.results)
    s.add_row("pass rate", _pct(report.pass_rate), f"{passed} of {len(report.results)} scenarios")
    if report.repeat > 1:
        s.add_row(
            f"pass^{report.repeat}",
            f"{report.pass_hat(report.repeat):.2f}",
            f"{report.repeat} runs each (tau-bench's pass^k)",
        )
    checks = report.checks
    s.add_row(
        "decision accuracy",
        _pct(report.decision_accuracy),
        f"{sum(c.ok for c in checks)} of {len(checks)} expected verdicts and rungs",
    )
    s.add_row(
        "escalation precision",
        _pct(report.escalation_precision),
        "sent to a person, and should have been",
    )
    s.add_row(
        "escalation recall", _pct(report.escalation_recall), "should have gone to a person, and did"
    )
    s.add_row(
        "guardrail violations",
        Text(str(report.violations), style="bold red" if report.violations else "green"),
        "carried out alone though a person had to decide",
    )
    s.add_row(
        "information conserved at handover",
        _pct(report.conservation),
        "acquisition facts the briefs carried",
    )
    p50, p95 = report.latency_ms(0.5), report.latency_ms(0.95)
    latency = f"p50 {p50:.1f} ms, p95 {p95:.1f} ms" if p50 is not None and p95 is not None else ""
    s.add_row(
        "model calls",
        f"{report.model_calls:,}",
        f"{report.model_failures} failed, {report.tokens:,} tokens; {latency}",
    )
    s.add_row("time", f"{report.seconds:.1f} s", f"agent runs {report.seconds_agents:.1f} s")
    console.print(s)


def _print_actions(report: SuiteReport) -> None:
    for r in report.results:
        console.print(Text(f"{r.name}", style="bold"))
        for line in r.trace or ["(nothing happened)"]:
            console.print(Text(f"  {line}"))
