"""``revfield run``: process pending work once (detection, routing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revfield.cli._app import State, app, console, fail, state
from revfield.cli._field import open_field
from revfield.cli._render import counts_chart

if TYPE_CHECKING:  # imported by the command itself: the field loads LangGraph
    from revfield.field import AgentReport, DetectionReport
    from revfield.memory import FieldSummary
    from revfield.outbox import Notifier, NotifyReport, OutboxReport


@app.command()
def run(
    limit: Annotated[
        int | None, typer.Option(help="Process at most this many signals.", min=1)
    ] = None,
    governance: Annotated[
        bool, typer.Option(help="Also raise inactivity and governance deviations.")
    ] = True,
    agents: Annotated[
        bool, typer.Option(help="Run the agents on the field events (then deliver the outbox).")
    ] = True,
    batch_size: Annotated[int, typer.Option(help="Signals per transaction.", min=1)] = 5000,
) -> None:
    """Process pending work once: detection (rules in bulk, free text through the model, facts
    with provenance, field events routed by customer state), then one agent run per field
    event, decisions by the policy pack, review items for people, and the outbox."""
    from revfield.field import pending_signals, run_detection
    from revfield.memory import field_summary, high_water
    from revfield.outbox import deliver_notifications

    st = state()
    with open_field(st) as fld, _notifying(st, agents) as notifier:
        store, pack, model = fld.store, fld.pack, fld.model
        with store.read() as session:
            before = high_water(session)
        total = pending_signals(store)
        if limit is not None:
            total = min(total, limit)
        with Progress(
            TextColumn("[bold]detect[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("signals"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("signals", total=total)
            report = run_detection(
                store,
                pack,
                model,
                st.clock,
                batch_size=batch_size,
                limit=limit,
                governance=governance,
                on_progress=lambda n: bar.update(task, completed=n),
            )
        console.print(render_detection(report, model.backend))
        if not agents or notifier is None:
            return
        resumed = fld.resume_answered()
        moved = fld.climb_ladder()
        # these climbs' notifications, and any an earlier pass left undelivered
        notified = deliver_notifications(store, notifier, st.clock)
        events = fld.pending_events()
        with Progress(
            TextColumn("[bold]agents[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("runs", total=len(events))
            runs = fld.run_agents(on_progress=lambda n: bar.update(task, completed=n))
        delivered = fld.deliver()
        with store.read() as session:
            summary = field_summary(session, before)
    console.print(
        render_agents(
            runs, summary, delivered, resumed=resumed, moved=len(moved), notified=notified
        )
    )


@contextmanager
def _notifying(st: State, wanted: bool) -> Iterator[Notifier | None]:
    """The configured ``notify`` executor while the block runs (the ``log`` one writes
    beside the database; None when not ``wanted``), or one ``error:`` line saying what is
    missing."""
    if not wanted:
        yield None
        return
    from revfield.outbox import load_notifier

    try:
        notifier = load_notifier(
            st.settings.notify_executor,
            st.settings,
            log=st.store().beside("notifications.jsonl"),
        )
    except ValueError as exc:
        fail(f"notify executor: {exc}")
    try:
        yield notifier
    finally:
        notifier.close()


def render_agents(
    runs: AgentReport,
    summary: FieldSummary,
    delivered: OutboxReport,
    *,
    resumed: int = 0,
    moved: int = 0,
    notified: NotifyReport | None = None,
) -> Group:
    head = Table(box=box.SIMPLE_HEAD, show_header=False, title="agents", title_justify="left")
    head.add_column()
    head.add_column(justify="right")
    head.add_column(style="dim")
    per_agent = ", ".join(f"{a} {n}" for a, n in runs.by_agent.most_common())
    head.add_row(
        "agent runs", f"{runs.runs:,}", f"{runs.rate:,.0f}/s; {per_agent}" if runs.runs else ""
    )
    head.add_row("paused for a person", f"{runs.paused:,}", "durably: they survive a restart")
    if resumed:
        head.add_row("resumed from an earlier answer", f"{resumed:,}", "")
    if moved:
        head.add_row("moved up the review ladder", f"{moved:,}", "deadline passed")
    if notified is not None and (notified.sent or notified.failed):
        head.add_row(
            "escalations notified",
            f"{notified.sent:,}",
            f"{notified.failed} failed, tried again next run" if notified.failed else "",
        )
    head.add_row("actions proposed", f"{summary.actions:,}", "")
    for verdict in ("auto", "review", "escalate", "block"):
        head.add_row(f"  decided {verdict}", f"{summary.verdicts.get(verdict, 0):,}", "")
    head.add_row(
        "guardrail trips",
        f"{sum(summary.guardrail_trips.values()):,}",
        ", ".join(f"{g} {n}" for g, n in summary.guardrail_trips.most_common()),
    )
    notes = [
        f"{delivered.failed} failed" if delivered.failed else "",
        f"{delivered.retried} to retry" if delivered.retried else "",
        f"{len(delivered.cancelled)} cancelled: what they waited for won't go out"
        if delivered.cancelled
        else "",
    ]
    head.add_row(
        "executed through the outbox", f"{delivered.sent:,}", ", ".join(n for n in notes if n)
    )
    head.add_row("waiting in the inbox", f"{summary.pending_reviews:,}", "revfield inbox")
    return Group(head)


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
    head.add_row(
        "read by the model",
        f"{report.text_signals:,}",
        f"{backend}: {report.model_calls:,} calls, "
        f"{report.tokens:,} tokens, {report.model_faults} faults (escalated)",
    )
    head.add_row("facts written", f"{report.facts:,}", "each with its source signal")
    head.add_row(
        "field events",
        f"{report.event_count:,}",
        f"{report.duplicates:,} repeats within the cooldown not raised",
    )
    for effect, n in sorted(report.effects.items()):
        head.add_row(f"memory updated: {effect.replace('_', ' ')}", f"{n:,}", "")
    events = counts_chart("field events by kind", report.events)
    routed = Table(box=box.SIMPLE_HEAD, title="routed by customer state", title_justify="left")
    routed.add_column("agent")
    routed.add_column("events", justify="right")
    for agent, n in report.routed.most_common():
        routed.add_row(agent if agent != "none" else "no agent (memory updated only)", f"{n:,}")
    return Group(head, events, routed) if report.events else Group(head)
