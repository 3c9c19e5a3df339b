"""The command line as a user meets it: output, exit codes, and errors that say what to do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revfield.cli import app
from tests.factories import signal, write_jsonl

runner = CliRunner()
PACK = Path(__file__).resolve().parents[1] / "policies"


def cli(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, *args], catch_exceptions=False)


def test_init_creates_then_reports_up_to_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first = cli(url, "init")
    assert first.exit_code == 0 and "schema none →" in first.output
    again = cli(url, "init")
    assert again.exit_code == 0 and "up to date" in again.output


def test_commands_on_an_uninitialised_database_say_to_run_init(tmp_path):
    result = cli(f"sqlite:///{tmp_path / 'r.db'}", "account", "list")
    assert result.exit_code == 1
    assert "revfield init" in result.output


def test_ingest_prints_the_summary_and_bad_rows_do_not_fail_the_run(db_url, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "s.jsonl", [signal(1), signal(2, kind="web_vist"), signal(1)])
    monkeypatch.chdir(tmp_path)  # a short path: a long one wraps in the 80-column panel
    result = cli(db_url, "ingest", "s.jsonl")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "accepted 1" in out and "duplicates 1" in out and "dead-lettered 1" in out
    assert "s.jsonl:2" in out and "did you mean `web_visit`" in out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "no such file"),
        ("signals.txt", "x", "unknown file type `.txt`"),
        ("empty.jsonl", "", "file is empty"),
        ("nohead.csv", "source,kind\n", "missing required columns `external_id`, `occurred_at`"),
    ],
)
def test_ingest_exits_non_zero_only_when_the_file_cannot_be_read(
    db_url, tmp_path, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = cli(db_url, "ingest", str(path))
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_dead_letters_lists_file_line_field_and_reason(db_url, tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [signal(1), signal(2, occurred_at="2026-11-02T09:00:00")]
    )
    cli(db_url, "ingest", str(path))
    result = cli(db_url, "dead-letters")
    out = " ".join(result.output.split())
    assert "s.jsonl:2" in out and "occurred_at" in out and "has no time zone" in out


def test_account_show_renders_and_json_is_an_account_context(db_url, tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [signal(1, text="We need a forecast the board trusts")]
    )
    cli(db_url, "ingest", str(path))
    shown = cli(db_url, "account", "show", "acme.com")
    assert shown.exit_code == 0 and "We need a forecast" in shown.output
    as_json = json.loads(cli(db_url, "account", "show", "acme.com", "--json").output)
    assert as_json["account"]["id"] == "acme.com" and as_json["signal_count"] == 1
    missing = cli(db_url, "account", "show", "acme")
    assert missing.exit_code == 1 and "did you mean `acme.com`" in missing.output


def test_text_that_looks_like_markup_is_printed_as_written(db_url, tmp_path):
    """Signal text, names and file names are untrusted: a `[/bold]` in them prints as
    written in every table, panel and error, and never breaks the command."""
    path = write_jsonl(
        tmp_path / "s[red].jsonl",
        [
            signal(1, text="We [/bold] need [red]SSO[/] [link=http://evil]now[/link]"),
            signal(2, kind="bogus[/i]"),
        ],
    )
    ingested = cli(db_url, "ingest", str(path))
    assert ingested.exit_code == 0 and "s[red].jsonl" in ingested.output, ingested.output
    shown = cli(db_url, "account", "show", "acme.com")
    assert shown.exit_code == 0, shown.output
    assert "We [/bold] need [red]SSO[/]" in shown.output
    letters = cli(db_url, "dead-letters")
    assert letters.exit_code == 0 and "bogus[/i]" in " ".join(letters.output.split())
    missing = cli(db_url, "ingest", str(tmp_path / "gone[bold].jsonl"))
    assert missing.exit_code == 1 and "gone[bold].jsonl: no such file" in missing.output


def test_account_list_filters(db_url, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [signal(1), signal(2, account_domain="other.org")])
    cli(db_url, "ingest", str(path))
    result = cli(db_url, "account", "list", "--search", "other")
    assert "other.org" in result.output and "acme.com" not in result.output


def test_import_crm_twice_reports_no_new_rows(db_url, shared_data):
    directory = str(shared_data / "maven-crm-sales-opportunities")
    first = cli(db_url, "import-crm", "maven", directory)
    assert first.exit_code == 0 and "new rows" in first.output
    second = " ".join(cli(db_url, "import-crm", "maven", directory).output.split())
    assert "0 new rows — the memory already holds this export" in second
    shown = cli(db_url, "account", "show", "Acme Corporation")
    assert "recently closed deals" in shown.output and "crm_stage_change" in shown.output


def test_import_crm_unknown_kind_is_a_clear_error(db_url, tmp_path):
    result = cli(db_url, "import-crm", "hubspot", str(tmp_path))
    assert result.exit_code == 1 and "unknown export kind `hubspot`" in result.output


def test_demo_refuses_to_replace_a_database_that_is_not_its_own(tmp_path):
    other = tmp_path / "mine.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("create table precious (x)")
    refused = subprocess.run(
        [sys.executable, "-m", "revfield.cli", "demo", "--path", str(other)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1 and "not a revfield demo database" in refused.stderr
    with sqlite3.connect(other) as conn:
        assert conn.execute("select count(*) from precious").fetchone() == (0,)


@pytest.mark.parametrize(
    ("url", "args", "says"),
    [
        ("not-a-url", ["account", "list"], "`not-a-url` is not a database URL"),
        ("mysql://u@h/db", ["init"], "SQLite or PostgreSQL, not `mysql`"),
        ("sqlite:////no-such-folder/x.db", ["init"], "cannot open the database"),
        ("sqlite:////no-such-folder/x.db", ["inbox"], "cannot open the database"),
        # no driver named: psycopg, the one revfield installs (not psycopg2)
        ("postgresql://u@127.0.0.1:1/db", ["inbox"], "the database postgresql+psycopg://u@"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_clear_error_not_a_traceback(
    url, args, says, monkeypatch, capsys
):
    """As a user meets it: the `revfield` entry point, its exit code and what it prints."""
    from revfield.cli import main

    monkeypatch.setattr(sys, "argv", ["revfield", "--db", url, *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    assert exit_.value.code == 1
    assert says in out.err and "help:" in out.err
    assert "Traceback" not in out.err + out.out


def test_policy_explain_json_gives_a_script_every_rule_the_guardrails_and_the_decision():
    context = {
        "action": {"kind": "send_email", "motion": "acquisition"},
        "account": {"segment": "smb", "icp_fit": True},
        "contact": {"email": "p@a.com"},
        "model": {"confidence": 0.95},
        "counters": {"contact_touches": 3},
    }
    result = runner.invoke(
        app, ["policy", "explain", json.dumps(context), "--pack", str(PACK), "--json"]
    )
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)
    assert explained["decision"] == "review" and explained["escalate_to"] is None
    assert explained["policy_version"].startswith("sha256:")
    shown = runner.invoke(app, ["policy", "explain", json.dumps(context), "--pack", str(PACK)])
    assert f"why: {explained['explanation']}" in " ".join(shown.stdout.split())
    assert f"rules of pack {explained['policy_version']}" in shown.stdout
    rules = {r["id"]: r for r in explained["rules"]}
    assert rules["smb-followup"]["outcome"] is True and rules["opted-out"]["outcome"] is False
    assert rules["opted-out"] == {
        "id": "opted-out",
        "outcome": False,
        "decision": "block",
        "reason": "The contact opted out of all outreach.",
    }
    fatigue = next(g for g in explained["guardrails"] if g["id"] == "contact-fatigue")
    assert fatigue["at_least"] == "review" and isinstance(fatigue["tightened"], bool)

    discount = {"action": {"kind": "offer_discount", "motion": "acquisition", "discount_pct": 20}}
    escalated = json.loads(
        runner.invoke(
            app, ["policy", "explain", json.dumps(discount), "--pack", str(PACK), "--json"]
        ).stdout
    )
    assert (escalated["decision"], escalated["escalate_to"]) == ("escalate", "manager")


def test_policy_explain_json_gives_the_error_of_a_rule_that_failed(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "rules:\n"
        "  - {id: notify, when: 'action.kind == \"notify\"', decision: auto, reason: goes out}\n"
        "  - {id: scored, when: 'action.payload.score > 3', decision: review, reason: waits}\n"
    )
    action = {"action": {"kind": "notify", "motion": "acquisition"}}
    result = runner.invoke(
        app, ["policy", "explain", json.dumps(action), "--pack", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)
    assert [(r["id"], r["outcome"]) for r in explained["rules"]] == [
        ("notify", True),
        ("scored", "no such key: 'score'"),
    ]
    assert explained["decision"] == "escalate"  # a rule that fails, fails toward a person
    assert explained["errors"] == [{"rule": "scored", "message": "no such key: 'score'"}]
