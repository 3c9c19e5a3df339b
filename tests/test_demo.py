"""The demo as a new user meets it: `revfield demo` from an empty folder, offline, then the
inbox it leaves behind, an approval that executes, and the chain on the account."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from revfield.cli import app
from revfield.demo.book import generate_book

ROOT = Path(__file__).resolve().parents[1]
BARE_ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}  # no settings, no key


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revfield.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=BARE_ENV,
    )


def test_the_book_is_deterministic_and_large_enough():
    a, b = generate_book(7), generate_book(7)
    assert a.signals == b.signals and a.accounts == b.accounts
    assert len(a.accounts) >= 200
    kinds = {s["kind"] for s in a.signals}
    assert {
        "call_transcript",
        "crm_stage_change",
        "product_usage",
        "support_ticket",
        "email_replied",
    } <= kinds
    won = [s for s in a.signals if s["kind"] == "crm_stage_change"]
    assert won and all(s["payload"]["to_stage"] == "closed_won" for s in won)
    assert generate_book(8).signals != a.signals


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("demo")  # an empty folder: no ./policies, no revfield.toml
    proc = _cli(cwd, "demo")
    assert proc.returncode == 0, proc.stderr
    return cwd, proc.stdout


@pytest.fixture
def plain_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's rich consoles are made at import, in this process's terminal and environment;
    make them write as they did into the subprocess's pipe: no colour, width from COLUMNS."""
    consoles = {
        id(v): v
        for name, module in list(sys.modules.items())
        if name.startswith("revfield.")
        for v in list(vars(module).values())
        if isinstance(v, Console)
    }
    assert consoles, "found no rich Console in the revfield.* modules"
    for c in consoles.values():
        monkeypatch.setattr(c, "_color_system", None)
        monkeypatch.setattr(c, "_width", None)


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """A later command, in this process (starting one costs seconds), as it would run in a
    subprocess: in ``cwd``, with only ``BARE_ENV`` and ``env`` set, all else unset meanwhile."""
    only = {**dict.fromkeys(os.environ), **BARE_ENV, **(env or {})}
    with contextlib.chdir(cwd):
        return CliRunner().invoke(app, list(args), env=only, catch_exceptions=False)


def _then(demo_dir: tuple[Path, str], *args: str) -> Result:
    """A later command in the demo's folder, with what the demo's closing lines say to set."""
    cwd, out = demo_dir
    return _run(cwd, *args, env=dict(re.findall(r"^\s*export (\w+)=(\S+)$", out, re.MULTILINE)))


@pytest.mark.usefixtures("plain_consoles")
def test_the_demo_says_which_pack_later_commands_need(demo_dir):
    exports = re.findall(r"^\s*export (\w+)=(\S+)$", demo_dir[1], re.MULTILINE)
    assert exports == [("REVFIELD_POLICIES", str(ROOT / "policies"))]
    answered = _run(demo_dir[0], "approve", "1")  # without it, the refusal names the missing pack
    assert answered.exit_code == 1 and "policies" in answered.stderr


def _figure(out: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\S+)", out, re.MULTILINE)
    assert match, f"no line `{label}` in the summary:\n{out}"
    return match.group(1)


@pytest.mark.parametrize(
    "label",
    [
        "field events",
        "actions proposed by the agents",
        "decided auto",
        "decided review",
        "decided escalate",
        "decided block",
        "guardrail trips",
        "information conserved at handover",
        "governance deviations",
        "ICP adherence",
        "people answered",
        "executed through the outbox",
        "waiting in the inbox",
    ],
)
def test_every_summary_line_has_a_non_zero_figure(demo_dir, label):
    value = _figure(demo_dir[1], label)
    assert re.sub(r"[,%]", "", value) not in ("0", ""), f"{label}: {value}"


@pytest.mark.usefixtures("plain_consoles")
def test_the_inbox_lists_pending_reviews_with_their_reasons_and_an_approval_executes(demo_dir):
    cwd, _ = demo_dir
    listed = _then(demo_dir, "inbox", "--json")
    assert listed.exit_code == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert items and all(i["reason"] for i in items)
    item = next(i for i in items if i["verdict"] == "review")
    shown = _then(demo_dir, "inbox")
    assert str(item["review_id"]) in shown.stdout and "why it waits" in shown.stdout
    before = len((cwd / "revfield-outbox.jsonl").read_text().splitlines())
    approved = _then(demo_dir, "approve", str(item["review_id"]))
    assert approved.exit_code == 0, approved.stderr
    went = [
        json.loads(x) for x in (cwd / "revfield-outbox.jsonl").read_text().splitlines()[before:]
    ]
    assert "approved" in approved.stdout and f"outbox: {len(went)} executed" in approved.stdout
    assert went[0]["action_id"] == item["action_id"]  # it went out (then anything waiting for it)
    assert all(w["trace"]["field_event_id"] == went[0]["trace"]["field_event_id"] for w in went)
    again = _then(demo_dir, "approve", str(item["review_id"]))
    assert again.exit_code == 1 and "already approved" in again.stderr
    chain = _then(demo_dir, "account", "show", item["account_id"], "--json", "--actions", "50")
    action = next(a for a in json.loads(chain.stdout)["actions"] if a["id"] == item["action_id"])
    assert action["status"] == "executed" and action["event"] and action["signal_ids"]
    assert action["decisions"][0]["policy_version"].startswith("sha256:")
    assert action["reviews"][-1]["status"] == "approved" and action["outbox"]["status"] == "sent"
    rendered = _then(demo_dir, "account", "show", item["account_id"])
    assert (
        "actions and why" in rendered.stdout
        and f"review #{item['review_id']}: approved" in rendered.stdout
    )


@pytest.mark.usefixtures("plain_consoles")
def test_a_seller_sees_only_their_items_and_can_reject_with_a_reason(demo_dir):
    everything = json.loads(_then(demo_dir, "inbox", "--json").stdout)
    owner = next(
        i["assignee_id"] for i in everything if i["assignee_role"] == "owner" and i["assignee_id"]
    )
    mine = json.loads(_then(demo_dir, "inbox", "--as", owner, "--json").stdout)
    assert mine and {i["owner_id"] for i in mine} == {owner}
    rejected = _then(
        demo_dir, "reject", str(mine[0]["review_id"]), "--reason", "wrong moment", "--as", owner
    )
    assert rejected.exit_code == 0 and "rejected — reason: wrong moment" in rejected.stdout
    unknown = _then(demo_dir, "inbox", "--as", "nobody")
    assert unknown.exit_code == 1 and "no user `nobody`" in unknown.stderr
    no_reason = _then(demo_dir, "reject", str(mine[-1]["review_id"]))
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr


def test_every_model_call_of_the_demo_is_recorded_drafts_and_handovers_too(demo_dir):
    """Detection's calls and the agents' alike: each drafted email and handover brief has
    its call in ``model_calls``, about the account it was for."""
    with contextlib.closing(sqlite3.connect(demo_dir[0] / "revfield.db")) as db:
        calls = dict(db.execute("SELECT operation, count(*) FROM model_calls GROUP BY 1"))
        actions = dict(db.execute("SELECT kind, count(*) FROM actions GROUP BY 1"))
        unattributed = db.execute(
            "SELECT count(*) FROM model_calls WHERE account_id IS NULL"
        ).fetchone()[0]
    assert calls["draft_message"] == actions["send_email"] > 0
    assert calls["summarise_handover"] == actions["handover_brief"] > 0
    assert calls["extract_facts"] > 0 and calls["classify_reply"] > 0
    assert unattributed == 0
