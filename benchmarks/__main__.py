"""``python -m benchmarks [NAME…]``: run the benchmarks, print a table, write results.json."""

from __future__ import annotations

import sys

from benchmarks import (
    bench_agents,
    bench_cli,
    bench_detection,
    bench_evals,
    bench_governed,
    bench_memory,
    bench_policy,
    bench_scale,
    bench_service,
    bench_workers,
)
from benchmarks._report import Figure, console, save, show

SUITES = {
    "ingest": bench_memory.bench_ingest,
    "context": bench_memory.bench_context,
    "policy": bench_policy.bench_policy,
    "detection": bench_detection.bench_detection,
    "agents": bench_agents.bench_agents,
    "governed": bench_governed.bench_governed,
    "evals": bench_evals.bench_evals,
    "service": bench_service.bench_service,
    "workers": bench_workers.bench_workers,
    "scale": bench_scale.bench_scale,
    "cli": bench_cli.bench_cli,
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SUITES)
    unknown = [w for w in wanted if w not in SUITES]
    if unknown:
        console.print(f"[red]unknown benchmark {', '.join(unknown)}; one of {', '.join(SUITES)}[/]")
        return 2
    figures: list[Figure] = []
    for name in wanted:
        console.print(f"[bold]{name}[/] …")
        figures.extend(SUITES[name]())
    show(figures)
    save(figures)
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
