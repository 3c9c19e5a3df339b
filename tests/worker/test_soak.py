"""The soak (see ``soak.py``): workers on PostgreSQL, faults injected, workers killed and
started again, connections cut; then the invariant checker finds nothing wrong. CI runs the
short one; ``make soak`` (``SOAK=long``) the long one, with a real PostgreSQL restart."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import PG_URL
from tests.worker.soak import SoakPlan, run_soak

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="REVFIELD_TEST_DATABASE_URL is not set (CI sets it)"),
]

SHORT = SoakPlan(scale=0.6, workers=3, chunks=8, kills=2, cuts=1, seed=11)
LONG = SoakPlan(
    scale=4.0,
    workers=4,
    chunks=40,
    kills=10,
    cuts=3,
    restart_postgres=os.geteuid() == 0 and os.path.isdir("/etc/postgresql"),
    fault_rate=0.08,
    seed=23,
)


def test_soak_nothing_lost_nothing_doubled(tmp_path):
    plan = LONG if os.environ.get("SOAK") == "long" else SHORT
    assert PG_URL
    result = run_soak(plan, PG_URL, tmp_path)
    summary = {**result.report.counts, **result.counts, "seconds": round(result.seconds, 1)}
    print("\nsoak:", json.dumps(summary, sort_keys=True))
    (tmp_path / "soak.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    assert result.report.ok, "\n".join(map(str, result.report.violations[:30]))
    assert result.exit_codes and all(code == 0 for code in result.exit_codes), (
        f"SIGTERM must end every worker with 0: {result.exit_codes}"
    )
    # the faults really happened, and the field still did its work
    assert result.counts["kills"] == plan.kills
    assert result.counts["connections_cut"] >= 1
    assert sum(v for k, v in result.counts.items() if k.startswith("model_fault_")) > 0
    assert result.counts["chunks_resent"] > 0 and result.counts["signals_duplicate"] > 0
    assert result.report.counts.get("executed", 0) > 50
