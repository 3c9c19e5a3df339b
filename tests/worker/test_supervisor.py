"""The supervisor of ``revfield worker --concurrency N``: a stop passed on to workers that are
still starting (the signal ends them before they took any work) is a clean stop."""

from __future__ import annotations

import os
import signal
import sys
import threading

from revfield.worker import Supervisor

STARTING = [sys.executable, "-c", "import time; time.sleep(120)"]
"""A worker still importing: the default SIGTERM action ends it."""
FAILING = [sys.executable, "-c", "import sys; sys.exit(3)"]


def _stop_once_started(sup: Supervisor) -> threading.Thread:
    def run() -> None:
        while len(sup.children) < sup.count and not sup.stop.is_set():
            sup.stop.wait(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # as the service manager stops the group

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_stop_while_workers_are_starting_exits_0(tmp_path):
    sup = Supervisor(STARTING, 2, once=False, reports=tmp_path, env={})
    thread = _stop_once_started(sup)
    assert sup.run() == 0
    thread.join(timeout=10)
    assert all(child.returncode == -signal.SIGTERM for child in sup.children.values())


def test_a_worker_that_fails_is_not_a_clean_stop(tmp_path):
    sup = Supervisor(FAILING, 2, once=True, reports=tmp_path, env={})
    assert sup.run() == 1
