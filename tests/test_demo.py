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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from revfield.cli import app
from revfield.demo.book import DAYS, START, generate_book

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


def test_the_book_has_pricing_objections_and_subscriptions_coming_up_for_renewal():
    book = generate_book(7)
    ends = [
        datetime.fromisoformat(s["payload"]["end_date"]).replace(tzinfo=UTC)
        for s in book.signals
        if s["kind"] == "subscription_change"
    ]
    assert sum(START < end <= START + timedelta(days=DAYS + 60) for end in ends) >= 10
    priced = [
        s
        for s in book.signals
        if s["kind"] == "email_replied" and re.search(r"(?i)pric|expensive|budget", s["text"])
    ]
    assert len(priced) >= 10


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
        "discounts offered",
        "renewals raised",
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


def test_the_summary_shows_discounts_reviewed_escalated_and_blocked_and_renewals(demo_dir):
    """The deal desk's offers, decided by the default pack's discount rules: the owner's up to
    15%, the manager's above, never above 30% — each verdict at least once."""
    text = " ".join(demo_dir[1].split())
    offered = re.search(
        r"discounts offered (\d+) the deal desk's: review (\d+), escalate (\d+), block (\d+) ",
        text,
    )
    assert offered, demo_dir[1]
    total, review, escalate, block = (int(g) for g in offered.groups())
    assert review > 0 and escalate > 0 and block > 0 and total == review + escalate + block
    renewals = re.search(r"renewals raised (\d+) (\d+) of them with a churn risk open", text)
    assert renewals and int(renewals.group(1)) > 0 and int(renewals.group(2)) > 0
    with contextlib.closing(sqlite3.connect(demo_dir[0] / "revfield.db")) as db:
        blocked = db.execute(
            "SELECT json_extract(a.proposal, '$.discount_pct') FROM actions a"
            " JOIN decisions d ON d.action_id = a.id"
            " WHERE a.kind = 'offer_discount' AND d.verdict = 'block'"
        ).fetchall()
        agents = dict(
            db.execute(
                "SELECT kind, group_concat(DISTINCT agent) FROM field_events"
                " WHERE kind IN ('pricing_objection', 'renewal_due', 'renewal_at_risk')"
                " GROUP BY kind"
            )
        )
    assert blocked and all(pct > 30 for (pct,) in blocked)
    assert agents == {
        "pricing_objection": "deal_desk",
        "renewal_due": "expansion_retention",
        "renewal_at_risk": "deal_desk",
    }


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
def test_an_inbox_past_the_cap_says_how_many_at_least(demo_dir, monkeypatch):
    import revfield.memory._reviews as reviews

    waiting = len(json.loads(_then(demo_dir, "inbox", "--json", "--limit", "500").stdout))
    shown = _then(demo_dir, "inbox", "--limit", "2")
    assert waiting > 3 and f"inbox: {waiting} waiting" in shown.stdout
    assert f"… and {waiting - 2} more (--limit)" in shown.stdout
    monkeypatch.setattr(reviews, "COUNT_CAP", 3)
    capped = _then(demo_dir, "inbox", "--limit", "2")
    assert "inbox: 3+ waiting" in capped.stdout and "… and 1+ more (--limit)" in capped.stdout


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


def _revfield(argv: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """``revfield ARGV`` through the console script's entry point, in this process."""
    from revfield.cli import main

    monkeypatch.setattr(sys, "argv", ["revfield", *argv])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


@pytest.fixture
def small_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo in a new folder with no settings, on a book of seven accounts and one day."""
    import revfield.cli._demo as demo_command

    for name in list(os.environ):
        if name.startswith(("REVFIELD_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        demo_command, "generate_book", lambda seed: generate_book(seed, prospects=4, customers=3)
    )
    return tmp_path


@pytest.mark.parametrize("setting", ["env", "--db"])
def test_the_demo_keeps_its_memory_where_the_database_setting_says(
    small_demo, setting, capsys, monkeypatch
):
    url = f"sqlite:///{small_demo / 'mine.db'}"
    if setting == "env":
        monkeypatch.setenv("REVFIELD_DATABASE_URL", url)
    argv = ["--db", url] if setting == "--db" else []
    code, out, err = _revfield([*argv, "demo", "--days", "1"], capsys, monkeypatch)
    assert code == 0, err
    from revfield.cli._demo import DEMO_APPLICATION_ID
    from revfield.memory import Store

    assert Store.application_id_of(small_demo / "mine.db") == DEMO_APPLICATION_ID
    assert not (small_demo / "revfield.db").exists()
    assert "the memory is in" in out and "mine.db" in out


def test_the_demo_path_option_wins_over_the_database_setting(small_demo, capsys, monkeypatch):
    monkeypatch.setenv("REVFIELD_DATABASE_URL", f"sqlite:///{small_demo / 'mine.db'}")
    code, _out, err = _revfield(["demo", "--days", "1", "--path", "d.db"], capsys, monkeypatch)
    assert code == 0, err
    assert (small_demo / "d.db").is_file() and not (small_demo / "mine.db").exists()


@pytest.mark.parametrize("url", ["sqlite://"])  # PostgreSQL: tests/demo/test_demo_postgres.py
def test_the_demo_refuses_a_database_setting_it_cannot_use_rather_than_ignore_it(
    small_demo, url, capsys, monkeypatch
):
    monkeypatch.setenv("REVFIELD_DATABASE_URL", url)
    code, _out, err = _revfield(["demo", "--days", "1"], capsys, monkeypatch)
    assert code == 1 and list(small_demo.iterdir()) == []
    assert err.splitlines() == [
        f"error: the demo keeps its memory in an embedded SQLite file, and `{url}` (from "
        "--db, REVFIELD_DATABASE_URL or revfield.toml) is not one",
        "  help: pass --path FILE, or --db sqlite:///FILE, for the demo's database",
    ]


def test_the_demo_refuses_a_policy_pack_that_is_named_but_not_there(
    small_demo, capsys, monkeypatch
):
    monkeypatch.setenv("REVFIELD_POLICIES", str(small_demo / "pack"))
    code, _out, err = _revfield(["demo", "--days", "1"], capsys, monkeypatch)
    assert code == 1 and list(small_demo.iterdir()) == []
    assert f"the policy pack {small_demo / 'pack'} does not exist" in err
    assert "help: set REVFIELD_POLICIES to the pack's folder" in err


def test_the_demo_help_counts_the_book_it_generates(capsys, monkeypatch):
    book = generate_book()
    prospects = sum(a["customer_state"] == "prospect" for a in book.accounts)
    code, out, _err = _revfield(["demo", "--help"], capsys, monkeypatch)
    text = " ".join(out.split())
    assert code == 0
    assert (
        f"({len(book.accounts)} accounts: {prospects} prospects, "
        f"{len(book.accounts) - prospects} customers, with the default seed)" in text
    )
