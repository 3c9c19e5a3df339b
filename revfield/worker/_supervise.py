"""``revfield worker --concurrency N``: N worker processes under one supervisor.

Each worker is a process of its own (Python runs one thread of Python at a time, and an agent
run is mostly Python), started as ``revfield worker --concurrency 1`` with the same settings.
The supervisor passes SIGTERM and SIGINT on, restarts a worker that died (unless running
``once``), and exits 0 when every worker stopped cleanly (a worker still starting, which the
signal ends before it took any work, stopped cleanly too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

__all__ = ["Supervisor", "command_for", "read_reports"]

log = structlog.get_logger("revfield.worker")

RESTART_AFTER = 1.0
"""Seconds before a worker that died is started again."""


class Supervisor:
    """Runs ``count`` copies of ``command`` (a worker each) until they finish (``once``) or
    until told to stop; :meth:`run` returns the exit code."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        once: bool,
        reports: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.count = count
        self.once = once
        self.reports = reports
        self.env = {**os.environ, **(env or {})}
        self.stop = threading.Event()
        self.forwarded: int | None = None
        """The signal passed on to the workers, once told to stop."""
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.restarts = 0

    def _start(self, slot: int) -> None:
        report = self.reports / f"worker-{slot}-{self.restarts}.json"
        self.children[slot] = subprocess.Popen(
            [*self.command, "--json", str(report)],
            env=self.env,
            stdout=subprocess.DEVNULL,  # the supervisor prints what they all did
        )

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        self.forwarded = signum
        self.stop.set()
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        """Start the workers, keep them running, and pass a stop on to them."""
        old = {s: signal.signal(s, self._signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.count):
                self._start(slot)
            codes: dict[int, int] = {}
            while len(codes) < self.count:
                for slot, child in list(self.children.items()):
                    if slot in codes:
                        continue
                    code = child.poll()
                    if code is None:
                        continue
                    if code != 0 and not self.once and not self.stop.is_set():
                        log.warning("worker died; starting it again", slot=slot, code=code)
                        self.restarts += 1
                        self.stop.wait(RESTART_AFTER)
                        if not self.stop.is_set():
                            self._start(slot)
                            continue
                    if (
                        self.stop.is_set()
                        and self.forwarded is not None
                        and code == -self.forwarded
                    ):
                        # ended by the stop itself before it could take it (still starting:
                        # nothing claimed yet; a started worker finishes its unit, exits 0)
                        code = 0
                    codes[slot] = code
                self.stop.wait(0.1)
            return 0 if all(c == 0 for c in codes.values()) else 1
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)


def read_reports(folder: Path) -> list[dict[str, Any]]:
    """The reports the workers wrote (``--json``), in the order they were started."""
    out = []
    for path in sorted(folder.glob("worker-*.json"), key=lambda p: p.stat().st_mtime):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def command_for(args: Sequence[str]) -> list[str]:
    """The command line that starts one worker with ``args``."""
    return [sys.executable, "-m", "revfield.cli", "worker", *args]
