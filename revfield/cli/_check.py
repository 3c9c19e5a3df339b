"""``revfield check``: hold the memory against the invariants a team deployment promises
(nothing lost, nothing doubled, no guardrail passed twice, every state change audited) —
what a soak of many workers runs at its end."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from revfield.cli._app import app, console, fail, state
from revfield.cli._field import configured_pack

if TYPE_CHECKING:  # the worker package, imported by the command itself
    from revfield.worker import InvariantReport

SHOWN = 20
"""Violations printed per invariant (``--json`` gives them all)."""


def read_effects(path: Path) -> Counter[str]:
    """Idempotency key → how many lines of the JSON-lines file ``path`` carry it: what the
    receiver applied (the ``log`` executor's file has this shape). A line that is not a JSON
    object with an ``idempotency_key`` is an error naming the line."""
    if not path.is_file():
        fail(f"--effects {path}: no such file\n  help: name the JSON-lines file of applied effects")
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                key = json.loads(line)["idempotency_key"]
            except (ValueError, KeyError, TypeError):
                fail(
                    f"--effects {path}, line {number}: not a JSON object with an `idempotency_key`"
                )
            if not isinstance(key, str):
                fail(f"--effects {path}, line {number}: `idempotency_key` is not text")
            counts[key] += 1
    return counts


@app.command()
def check(
    effects: Annotated[
        Path | None,
        typer.Option(
            "--effects",
            help="JSON-lines file of the effects the receiver applied (one line per "
            "application, each with its idempotency_key), like the log executor's file.",
            metavar="FILE",
        ),
    ] = None,
    not_drained: Annotated[
        bool,
        typer.Option(
            "--not-drained", help="Work is still under way: skip the checks that need it done."
        ),
    ] = False,
    signal_grace: Annotated[
        float,
        typer.Option(
            "--signal-grace",
            min=0,
            help="Seconds a touch signal must have arrived before a decision to count "
            "against its cap (signals ingested while workers decide).",
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the invariants: every accepted signal stored and detected once, every field event
    run once, every automated or approved action executed exactly once, every review answered
    at most once, no fatigue cap or motion budget passed by automation, and the audit trail
    complete. Exits 1 if any is broken."""
    from revfield.worker import check_invariants

    st = state()
    store = st.store()
    pack = configured_pack(st)
    applied = read_effects(effects) if effects is not None else None
    report = check_invariants(
        store,
        pack,
        effects=applied,
        drained=not not_drained,
        signal_grace=timedelta(seconds=signal_grace),
    )
    if as_json:
        typer.echo(json.dumps(_as_json(report), indent=2))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


def _as_json(report: InvariantReport) -> dict[str, object]:
    return {
        "ok": report.ok,
        "invariants": [
            {"id": i, "checked": report.checked.get(i, 0), "violations": len(report.of(i))}
            for i in report.checked
        ],
        "violations": [{"invariant": v.invariant, "message": v.message} for v in report.violations],
        "counts": report.counts,
    }


def _print(report: InvariantReport) -> None:
    table = Table(title="invariants", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("invariant")
    table.add_column("checked", justify="right")
    table.add_column("violations", justify="right")
    for inv in report.checked:
        n = len(report.of(inv))
        table.add_row(
            inv,
            f"{report.checked.get(inv, 0):,}",
            Text(str(n), style="bold red" if n else "green"),
        )
    console.print(table)
    for inv in report.checked:
        found = report.of(inv)
        for v in found[:SHOWN]:
            console.print(Text.assemble((v.invariant, "bold red"), ": ", v.message))
        if len(found) > SHOWN:
            console.print(f"{inv}: … and {len(found) - SHOWN} more (--json lists them all)")
    counts = ", ".join(f"{name} {n:,}" for name, n in report.counts.items())
    console.print(Text(counts, style="dim"))
    console.print(
        Text("all invariants hold", style="bold green")
        if report.ok
        else Text(f"{len(report.violations)} violation(s)", style="bold red")
    )
