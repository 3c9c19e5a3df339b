"""``revfield run``: process pending work once (detection, routing)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revfield.agents.detection import DetectionReport, pending_signals, run_detection
from revfield.cli._app import app, console, fail, state
from revfield.llm import ModelError, make_model
from revfield.policies import PackError, load_pack


@app.command()
def run(
    limit: Annotated[
        int | None, typer.Option(help="Process at most this many signals.", min=1)
    ] = None,
    governance: Annotated[
        bool, typer.Option(help="Also raise inactivity and governance deviations.")
    ] = True,
    batch_size: Annotated[int, typer.Option(help="Signals per transaction.", min=1)] = 5000,
) -> None:
    """Process pending signals once: detection rules in bulk, free text through the model,
    facts with provenance, field events routed by customer state."""
    st = state()
    store = st.store()
    try:
        pack = load_pack(st.settings.policies)
    except PackError as exc:
        fail(f"the policy pack at {st.settings.policies} was refused\n{exc}")
    try:
        model = make_model(st.settings)
    except ModelError as exc:
        fail(str(exc))
    total = pending_signals(store)
    if limit is not None:
        total = min(total, limit)
    with Progress(TextColumn("[bold]detect[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("signals"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task("signals", total=total)
        report = run_detection(store, pack, model, st.clock, batch_size=batch_size, limit=limit,
                               governance=governance, on_progress=lambda n: bar.update(task, completed=n))  # fmt: skip
    model.close()
    console.print(render_detection(report, model.backend))


def render_detection(report: DetectionReport, backend: str) -> Group:
    head = Table(box=box.SIMPLE_HEAD, show_header=False, title="detection", title_justify="left")
    head.add_column()
    head.add_column(justify="right")
    head.add_column(style="dim")
    head.add_row(
        "signals processed",
        f"{report.signals:,}",
        f"{report.rate:,.0f}/s in {report.seconds:.1f} s",
    )
    head.add_row("read by the model", f"{report.text_signals:,}", f"{backend}: {report.model_calls:,} calls, "
                 f"{report.tokens:,} tokens, {report.model_faults} faults (escalated)")  # fmt: skip
    head.add_row("facts written", f"{report.facts:,}", "each with its source signal")
    head.add_row(
        "field events",
        f"{report.event_count:,}",
        f"{report.duplicates:,} repeats within the cooldown not raised",
    )
    for effect, n in sorted(report.effects.items()):
        head.add_row(f"memory updated: {effect.replace('_', ' ')}", f"{n:,}", "")
    events = Table(box=box.SIMPLE_HEAD, title="field events by kind", title_justify="left")
    events.add_column("kind")
    events.add_column("events", justify="right")
    events.add_column("", style="cyan")
    top = max(report.events.values(), default=1)
    for kind, n in report.events.most_common():
        events.add_row(kind, f"{n:,}", "█" * max(1, round(30 * n / top)))
    routed = Table(box=box.SIMPLE_HEAD, title="routed by customer state", title_justify="left")
    routed.add_column("agent")
    routed.add_column("events", justify="right")
    for agent, n in report.routed.most_common():
        routed.add_row(agent if agent != "none" else "no agent (memory updated only)", f"{n:,}")
    return Group(head, events, routed) if report.events else Group(head)
