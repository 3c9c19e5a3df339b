"""The eval suite's wall time as a user meets it (``revfield eval``, every shipped scenario,
a fresh database each), beside the time the same scenarios' agent runs take alone (the
floor: the work the suite exists to check)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._report import Figure, console

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def bench_evals() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "revfield.cli", "eval", "--json", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if not out.exists():
            console.print(done.stdout[-2000:], done.stderr[-2000:])
            raise RuntimeError("revfield eval wrote no report")
        report = json.loads(out.read_text())
    agents = float(report["seconds_agents"])
    n = int(report["scenarios"])
    return [
        Figure(
            f"eval suite, {n} scenarios",
            seconds,
            "s",
            f"≤ {TARGET_S:.0f} s, every scenario passing",
            seconds <= TARGET_S and bool(report["passed"]),
            "the same scenarios' agent runs alone",
            agents,
            agents / seconds if seconds else None,
            note=(
                f"pass rate {report['pass_rate']:.0%}; in-process suite "
                f"{report['seconds']:.1f} s (the rest is starting the CLI); "
                f"{report['model_calls']} model calls"
            ),
        )
    ]
