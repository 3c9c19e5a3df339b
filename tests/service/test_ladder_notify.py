"""An item nobody answers climbs the ladder — owner → manager → RevOps — as the clock passes
its deadlines: each step is in the audit trail and its new rung's person is notified exactly
once, even when the process dies between the climb and the notification."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from revfield.cli import app
from revfield.config import Settings
from revfield.memory import audit_trail, list_notifications
from revfield.outbox import (
    LogNotifier,
    Notice,
    WebhookNotifier,
    deliver_notifications,
    load_notifier,
    sign,
)
from tests.agents import world
from tests.service.conftest import Api

DAY = timedelta(hours=25)  # the shipped pack gives a rung 24 hours


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _escalations(api: Api, action_id: int) -> list:
    with api.store.read() as session:
        return list(reversed(audit_trail(session, action_id=action_id, event="escalated")))


def test_an_overdue_item_climbs_to_revops_each_step_audited_and_notified_once(
    api: Api, tmp_path: Path
) -> None:
    action_id = api.submit(10)["action_id"]  # up to 15%: the owner (ana) reviews it
    sent = tmp_path / "notifications.jsonl"
    notifier = LogNotifier(sent)
    with world.field(api.store, api.clock, tmp_path) as fld:
        assert fld.climb_ladder(notifier) == []  # not due yet
        assert _lines(sent) == []

        api.clock.advance(DAY)
        ((owner_item, manager_item),) = fld.climb_ladder(notifier)
        api.clock.advance(DAY)
        ((_, revops_item),) = fld.climb_ladder(notifier)
        api.clock.advance(DAY)
        assert fld.climb_ladder(notifier) == []  # RevOps is the top rung
        assert deliver_notifications(api.store, notifier, api.clock).sent == 0  # nothing new

    notes = _lines(sent)
    assert [(n["recipient_id"], n["rung"], n["idempotency_key"]) for n in notes] == [
        ("mia", "manager", f"escalated:{manager_item}"),
        ("rex", "revops", f"escalated:{revops_item}"),
    ]
    assert notes[0]["detail"]["from_rung"] == "owner"
    assert notes[0]["detail"]["action_id"] == action_id

    steps = _escalations(api, action_id)
    assert [(s.actor, s.review_id) for s in steps] == [
        ("ladder", manager_item),
        ("ladder", revops_item),
    ]
    first, second = (s.detail for s in steps)
    assert (first["from_rung"], first["from_review"], first["to_rung"], first["to_review"]) == (
        "owner",
        owner_item,
        "manager",
        manager_item,
    )
    assert first["assignee"] == "mia" and second["assignee"] == "rex"
    assert (second["from_rung"], second["to_rung"]) == ("manager", "revops")
    # the new deadline: a day from the climb, on the injected clock
    assert first["deadline_at"] == (api.clock.now() - 2 * DAY + timedelta(hours=24)).isoformat()

    # RevOps now sees the item on their rung
    shown = api.item("rex", revops_item)
    assert (shown["rung"], shown["assignee_id"], shown["overdue"]) == ("revops", "rex", True)


def test_a_crash_between_the_climb_and_the_notification_delivers_it_on_the_next_pass(
    api: Api, tmp_path: Path
) -> None:
    api.submit(10)
    sent = tmp_path / "notifications.jsonl"
    with world.field(api.store, api.clock, tmp_path) as fld:
        api.clock.advance(DAY)
        ((_, new),) = fld.climb_ladder()  # the process "dies" before delivering
    assert _lines(sent) == []
    with api.store.read() as session:
        (waiting,) = list_notifications(session, review_id=new)
    assert waiting.status == "pending"

    # it did notify, but died before marking the notification sent: the repeat is harmless
    notifier = LogNotifier(sent)
    notifier.notify(Notice(waiting.idempotency_key, new, "acme.io", "mia", "manager", {}))

    report = deliver_notifications(api.store, LogNotifier(sent), api.clock)
    assert report.sent == 1
    assert [n["idempotency_key"] for n in _lines(sent)] == [f"escalated:{new}"]
    assert deliver_notifications(api.store, LogNotifier(sent), api.clock).sent == 0
    with api.store.read() as session:
        (done,) = list_notifications(session, review_id=new)
    assert (done.status, done.sent_at) == ("sent", api.clock.now())


def test_a_refused_notification_stays_pending_and_is_sent_later_with_the_same_key(
    api: Api, tmp_path: Path
) -> None:
    api.submit(10)
    seen: list[httpx.Request] = []
    answers = iter([503, 200])

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers))

    notifier = WebhookNotifier(
        "http://127.0.0.1:9/notify", "s3cret", transport=httpx.MockTransport(receiver)
    )
    with world.field(api.store, api.clock, tmp_path) as fld:
        api.clock.advance(DAY)
        fld.climb_ladder(notifier)
    report = deliver_notifications(api.store, notifier, api.clock)
    assert report.sent == 1
    first, again = seen
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"]
    assert again.headers["X-Revfield-Signature"] == sign("s3cret", again.content)
    assert json.loads(again.content)["recipient_id"] == "mia"
    assert deliver_notifications(api.store, notifier, api.clock).sent == 0
    notifier.close()


def test_the_notify_setting_picks_the_notifier_and_says_what_is_missing(tmp_path: Path) -> None:
    log = tmp_path / "n.jsonl"
    assert Settings().notify_executor == "log"
    assert isinstance(load_notifier("log", Settings(), log=log), LogNotifier)
    with pytest.raises(ValueError, match="REVFIELD_WEBHOOK_URL"):
        load_notifier("webhook", Settings(), log=log)


def test_revfield_run_climbs_overdue_items_and_notifies_beside_the_database(
    api: Api, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item was opened a month ago (the test clock's T0): `revfield run`, on the system
    clock, finds it overdue."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("REVFIELD_POLICIES", str(world.POLICIES))
    monkeypatch.setenv("REVFIELD_OUTBOX_LOG", str(tmp_path / "outbox.jsonl"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where PostgreSQL's go
    api.submit(10)
    runner = CliRunner()
    first = runner.invoke(app, ["--db", db_url, "run"])
    assert first.exit_code == 0, first.output
    assert "moved up the review ladder" in first.output
    assert "escalations notified" in first.output
    (sent,) = [*tmp_path.glob("*notifications.jsonl"), *tmp_path.glob("data/**/*.jsonl")]
    assert [(n["recipient_id"], n["rung"]) for n in _lines(sent)] == [("mia", "manager")]

    again = runner.invoke(app, ["--db", db_url, "run"])  # due again only a day from now
    assert again.exit_code == 0, again.output
    assert "escalations notified" not in again.output
    assert len(_lines(sent)) == 1


def test_revfield_run_with_a_webhook_notifier_and_no_url_is_one_error_line(
    field_world: object, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("REVFIELD_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("REVFIELD_POLICIES", str(world.POLICIES))
    monkeypatch.setenv("REVFIELD_NOTIFY_EXECUTOR", "webhook")
    result = CliRunner().invoke(app, ["--db", db_url, "run"])
    assert result.exit_code == 1
    assert "error: notify executor: the webhook notifier needs REVFIELD_WEBHOOK_URL" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output
