"""``revfield submit`` as a user runs it: an action as JSON (text, @FILE or stdin) goes through
the policy, the ladder and the outbox; what is wrong is one error line, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from revfield.cli import app
from revfield.domain import FactType
from revfield.memory import Store
from revfield.memory.models import ActionRecord, FieldEvent, table_of
from tests.agents import world

runner = CliRunner()
POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def small_world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """acme.io (a prospect ana owns; team A's manager is mia) with a contact and an objection;
    the outbox log's path."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("REVFIELD_POLICIES", str(POLICIES))
    monkeypatch.setenv("REVFIELD_OUTBOX_LOG", str(tmp_path / "outbox.jsonl"))
    acme_with_an_objection(db_url)
    return tmp_path / "outbox.jsonl"


def acme_with_an_objection(db_url: str) -> None:
    """acme.io, a prospect ana owns (team A's manager is mia), with a contact and an
    objection the discount cites."""
    store = Store.from_url(db_url)
    world.people(store)
    world.account(store, "acme.io")
    world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.OBJECTION, "Too expensive for a team our size")
    store.dispose()


def _cli(db_url: str, *args: str, stdin: str | None = None):
    return runner.invoke(app, ["--db", db_url, *args], input=stdin)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _count(db_url: str, table) -> int:
    store = Store.from_url(db_url)
    with store.read() as s:
        n = s.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    store.dispose()
    return int(n)


DISCOUNT = {
    "kind": "offer_discount",
    "discount_pct": 20,
    "subject": "A pilot price",
    "account": "acme.io",
    "contact": "pat@acme.io",
    "cites": [1],
    "idempotency_key": "deal-42-discount",
}


def test_submit_escalates_a_20_percent_discount_and_the_managers_12_percent_executes_once(
    db_url, small_world
):
    sent = _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "ana")
    assert sent.exit_code == 0, sent.output
    assert "action #1 waits for the manager (mia) by " in _flat(sent.output)
    assert "review #1: escalate: rule `big-discount`" in _flat(sent.output)
    assert not small_world.exists()  # nothing went out

    approved = _cli(db_url, "approve", "1", "--as", "mia", "--edit", "discount_pct=12")
    assert approved.exit_code == 0, approved.output
    assert "review #1 (action #1): approved" in approved.output
    assert "outbox: 1 executed" in approved.output

    again = _cli(db_url, "submit", json.dumps(DISCOUNT), "--json")
    assert again.exit_code == 0, again.output
    shown = json.loads(again.stdout)
    assert (shown["action_id"], shown["new"], shown["status"]) == (1, False, "executed")
    assert shown["rules"] == ["small-discount"] and shown["verdict"] == "review"
    assert "submitted before" in shown["message"]

    (line,) = small_world.read_text().splitlines()
    assert json.loads(line)["action"]["discount_pct"] == 12
    assert _count(db_url, table_of(ActionRecord)) == 1


def test_submit_reads_a_file_or_stdin_and_delivers_what_needs_no_one(db_url, small_world, tmp_path):
    task = {"kind": "create_task", "subject": "Call Pat back", "account": "acme.io"}
    (tmp_path / "task.json").write_text(json.dumps(task))
    from_file = _cli(db_url, "submit", f"@{tmp_path / 'task.json'}")
    assert from_file.exit_code == 0, from_file.output
    assert "action #1 is queued for delivery: auto: rule `tasks-and-followups`" in _flat(
        from_file.output
    )
    assert "outbox: 1 executed" in from_file.output
    from_stdin = _cli(db_url, "submit", "-", stdin=json.dumps({**task, "subject": "Send ROI"}))
    assert from_stdin.exit_code == 0, from_stdin.output
    assert "action #2 is queued for delivery" in from_stdin.output
    blocked = _cli(db_url, "submit", json.dumps({**DISCOUNT, "discount_pct": 35}))
    assert blocked.exit_code == 0, blocked.output
    assert "action #3 is blocked: block: rule `discount-beyond-limit`: Discounts above 30%" in (
        _flat(blocked.output)
    )
    assert len(small_world.read_text().splitlines()) == 2


WRONG = [
    ('{"kind": "offer_discount", "account": "acme.io"', "ACTION_JSON: malformed JSON"),
    ("[1, 2]", "ACTION_JSON: expected a JSON object"),
    (
        '{"kind": "create_task", "kind": "notify", "account": "acme.io"}',
        "ACTION_JSON: `kind` is given twice",
    ),
    ('{"kind": "create_task"}', "ACTION_JSON: `account` is missing"),
    ('{"account": "acme.io"}', "ACTION_JSON: `kind` is missing"),
    (
        '{"kind": "create_task", "account": "acme.io", "cites": "1"}',
        "ACTION_JSON: `cites` is a list",
    ),
    ("@no-such-file.json", "no-such-file.json: No such file or directory"),
    (
        '{"kind": "offer_discunt", "account": "acme.io"}',
        "the action was refused: unknown action kind `offer_discunt`",
    ),
    (
        '{"kind": "create_task", "account": "acme.com"}',
        "the action was refused: no account `acme.com` in memory",
    ),
    (
        '{"kind": "offer_discount", "account": "acme.io", "cites": [99]}',
        "the action was refused: fact #99 is not a fact of acme.io",
    ),
]
"""What a user gives, and the error line that answers it."""


def test_a_submission_that_is_wrong_is_one_error_line_and_nothing_is_stored(db_url, small_world):
    for given, error in WRONG:
        result = _cli(db_url, "submit", given)
        assert result.exit_code == 1, given
        assert _flat(result.output).startswith(f"error: {error}"), result.output
        assert "Traceback" not in result.output
    assert _count(db_url, table_of(FieldEvent)) == 0 and _count(db_url, table_of(ActionRecord)) == 0


def test_submit_as_someone_unknown_is_refused(db_url, small_world):
    result = _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "nobody")
    assert result.exit_code == 1
    assert "error: no user `nobody`; users include" in result.output
    assert _count(db_url, table_of(ActionRecord)) == 0


def test_an_answer_whose_run_fails_to_resume_stands_and_says_so(db_url, small_world, monkeypatch):
    """Something unexpected after the answer is taken (here the delivery breaks): one error
    line first, then that the answer is recorded; the item is answered, and the next answer
    to it is refused as already given."""
    from revfield.field import Field

    assert _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "ana").exit_code == 0

    def broken(self: Field, *, limit: int | None = None) -> None:
        raise RuntimeError("the executor's socket closed")

    with monkeypatch.context() as patched:
        patched.setattr(Field, "deliver", broken)
        approved = _cli(db_url, "approve", "1", "--as", "mia")
    assert approved.exit_code == 1
    assert "review #1 (action #1): approved" in approved.stdout
    lines = approved.stderr.splitlines()
    assert lines[0].startswith("error:") and "the executor's socket closed" in lines[0]
    assert "the answer is recorded" in approved.stderr and "Traceback" not in approved.stderr

    again = _cli(db_url, "approve", "1", "--as", "mia")
    assert again.exit_code == 1 and "already approved by mia" in _flat(again.stderr)
