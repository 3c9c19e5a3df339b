"""Benchmark results: each figure beside its floor, measured in the same run."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results.json"
console = Console()


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    """The issue's requirement, in words (``≥ 20,000 rows/s``)."""
    met: bool
    floor_name: str = ""
    floor_value: float | None = None
    ratio: float | None = None
    """value ÷ floor for rates, floor ÷ value for times: 1.0 means as fast as the floor."""
    note: str = ""


def show(figures: list[Figure]) -> None:
    table = Table(title="revfield benchmarks", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("figure", "measured", "target", "floor (same run)", "vs floor", ""):
        table.add_column(col, justify="right" if col in ("measured", "vs floor") else "left")
    for f in figures:
        floor = (
            f"{f.floor_value:,.2f} {f.unit} — {f.floor_name}" if f.floor_value is not None else "—"
        )
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "—"
        table.add_row(
            f.name,
            f"{f.value:,.2f} {f.unit}",
            f.target,
            floor,
            ratio,
            "[green]met[/]" if f.met else "[bold red]MISSED[/]",
        )
    console.print(table)
    for f in figures:
        if f.note:
            console.print(f"[dim]{f.name}: {f.note}[/]")


def save(figures: list[Figure]) -> None:
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figs = {f.name: asdict(f) for f in figures}
    existing.setdefault("figures", {}).update(figs)
    existing["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }
    existing["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    console.print(f"written to {RESULTS}")
