"""Answering a review as a user does, one ``revfield`` process per command (so each ends the
way a console command ends): the answer is recorded once, the paused run resumes, and the
outbox delivers what was approved exactly once, however often the answer is given."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.memory import Store
from revfield.memory.models import ActionRecord, AuditEntry, Review, table_of
from tests.test_cli_submit import (  # the same submission, here from a real process
    DISCOUNT,
    acme_with_an_objection,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """acme.io (ana's prospect; her manager is mia) with a contact and an objection; the
    environment of a shell whose settings name that database, the pack and an outbox log."""
    acme_with_an_objection(db_url)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REVFIELD_", "OPENAI_"))}
    return {
        **clean,
        "REVFIELD_DATABASE_URL": db_url,
        "REVFIELD_POLICIES": str(POLICIES),
        "REVFIELD_OUTBOX_LOG": str(tmp_path / "outbox.jsonl"),
    }


def _revfield(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revfield.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _count(db_url: str, query: sa.Select[tuple[int]]) -> int:
    store = Store.from_url(db_url)
    with store.read() as s:
        n = s.execute(query).scalar_one()
    store.dispose()
    return int(n)


def test_an_approval_is_recorded_once_resumes_the_run_and_delivers_once(
    db_url: str, env: dict[str, str], tmp_path: Path
):
    sent = _revfield(env, tmp_path, "submit", json.dumps(DISCOUNT), "--as", "ana")
    assert sent.returncode == 0, sent.stderr
    assert "review #1" in sent.stdout
    waiting = _revfield(env, tmp_path, "inbox", "--json")
    assert [i["review_id"] for i in json.loads(waiting.stdout)] == [1]

    approved = _revfield(env, tmp_path, "approve", "1", "--as", "mia", "--edit", "discount_pct=12")
    assert approved.returncode == 0, approved.stderr
    assert "review #1 (action #1): approved" in approved.stdout
    assert "outbox: 1 executed" in approved.stdout
    again = _revfield(env, tmp_path, "approve", "1", "--as", "mia")
    assert again.returncode == 1
    assert again.stderr.startswith("error:") and "Traceback" not in again.stderr

    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert json.loads(line)["action"]["discount_pct"] == 12
    assert json.loads(_revfield(env, tmp_path, "inbox", "--json").stdout) == []
    reviews = table_of(Review)
    answered = sa.select(sa.func.count()).where(reviews.c.answered_by == "mia")
    assert _count(db_url, answered.select_from(reviews)) == 1
    audit = table_of(AuditEntry)
    approvals = sa.select(sa.func.count()).select_from(audit)
    approvals = approvals.where(audit.c.event == "review_approved", audit.c.review_id == 1)
    assert _count(db_url, approvals) == 1
    actions = table_of(ActionRecord)
    executed = sa.select(actions.c.status).where(actions.c.id == 1)
    store = Store.from_url(db_url)
    with store.read() as s:
        assert s.execute(executed).scalar_one() == "executed"
    store.dispose()


def test_a_rejection_ends_the_run_and_nothing_is_delivered(
    db_url: str, env: dict[str, str], tmp_path: Path
):
    assert _revfield(env, tmp_path, "submit", json.dumps(DISCOUNT), "--as", "ana").returncode == 0
    rejected = _revfield(env, tmp_path, "reject", "1", "--as", "mia", "--reason", "not now")
    assert rejected.returncode == 0, rejected.stderr
    assert "review #1 (action #1): rejected" in rejected.stdout
    assert (
        not (tmp_path / "outbox.jsonl").exists()
        or not (tmp_path / "outbox.jsonl").read_text().strip()
    )
    assert json.loads(_revfield(env, tmp_path, "inbox", "--json").stdout) == []


def test_an_answer_stands_when_the_run_cannot_resume_and_the_next_run_carries_it_out(
    db_url: str, env: dict[str, str], tmp_path: Path
):
    """The answer is taken before the field loads: with a pack that no longer compiles, the
    approval is recorded and said so, nothing goes out, and the next `revfield run` (with the
    pack fixed) resumes the run and delivers it once."""
    assert _revfield(env, tmp_path, "submit", json.dumps(DISCOUNT), "--as", "ana").returncode == 0
    broken = tmp_path / "broken-pack"
    shutil.copytree(POLICIES, broken)
    (broken / "zz.yaml").write_text(
        "rules:\n  - id: half-written\n    when: action.kind ==\n    decision: auto\n"
        "    reason: unfinished\n",
        encoding="utf-8",
    )
    approved = _revfield(
        {**env, "REVFIELD_POLICIES": str(broken)}, tmp_path, "approve", "1", "--as", "mia"
    )
    assert approved.returncode == 1
    assert "review #1 (action #1): approved" in approved.stdout
    assert approved.stderr.startswith("error:") and "half-written" in approved.stderr
    assert "the answer is recorded" in approved.stderr and "Traceback" not in approved.stderr
    outbox = tmp_path / "outbox.jsonl"
    assert not outbox.exists() or not outbox.read_text().strip()
    assert json.loads(_revfield(env, tmp_path, "inbox", "--json").stdout) == []

    ran = _revfield(env, tmp_path, "run")
    assert ran.returncode == 0, ran.stderr
    (line,) = outbox.read_text().splitlines()
    assert json.loads(line)["action_id"] == 1
    assert _revfield(env, tmp_path, "run").returncode == 0
    assert len(outbox.read_text().splitlines()) == 1  # once
