"""The outbox and its executors against a real HTTP receiver on 127.0.0.1: signed JSON,
retries, refusals, and a crash between executing and marking done that re-executes with the
same idempotency key — which the receiver turns into one effect."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from revfield.config import Settings
from revfield.domain import FactType
from revfield.memory.models import ActionRecord, OutboxItem, table_of
from revfield.outbox import (
    Delivery,
    DeliveryError,
    LogExecutor,
    WebhookExecutor,
    load_executor,
    process_outbox,
)
from tests.agents import world

SECRET = "s3cret"


class Receiver:
    """A webhook receiver as a customer would write one: checks the signature, and applies
    each idempotency key once."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.effects: dict[str, dict] = {}
        self.fail_next: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                key = self.headers["Idempotency-Key"]
                receiver.requests.append(
                    {"key": key, "signed": self.headers["X-Revfield-Signature"] == expected}
                )
                status = receiver.fail_next.pop(0) if receiver.fail_next else 200
                if status == 200 and receiver.requests[-1]["signed"]:
                    receiver.effects.setdefault(key, json.loads(body))
                elif status == 200:
                    status = 401
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/revfield"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    # serve_forever polls for shutdown() every poll_interval (default 0.5 s): poll often, so
    # that teardown doesn't wait
    thread = threading.Thread(target=r.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    thread.join()
    r.server.server_close()


def _delivery(key: str = "revfield-1-abc") -> Delivery:
    return Delivery(
        key, 1, "send_email", "acme.io", "contact:1", {"subject": "Hi"}, {"rules": ["smb-followup"]}
    )


def test_the_webhook_posts_signed_json_with_the_idempotency_key(receiver):
    hook = WebhookExecutor(url=receiver.url, secret=SECRET, sleep=lambda s: None)
    assert hook.execute(_delivery())["status"] == 200
    assert receiver.requests == [{"key": "revfield-1-abc", "signed": True}]
    assert receiver.effects["revfield-1-abc"]["trace"] == {"rules": ["smb-followup"]}


def test_the_webhook_retries_5xx_and_429_with_backoff_then_succeeds(receiver):
    waits: list[float] = []
    receiver.fail_next = [503, 429]
    hook = WebhookExecutor(url=receiver.url, secret=SECRET, retries=3, sleep=waits.append)
    assert hook.execute(_delivery())["attempts"] == 3
    assert waits == [0.5, 1.0]
    assert len(receiver.effects) == 1


def test_a_4xx_is_a_refusal_not_retried_and_exhausted_retries_fail(receiver):
    hook = WebhookExecutor(url=receiver.url, secret=SECRET, retries=3, sleep=lambda s: None)
    receiver.fail_next = [422]
    with pytest.raises(DeliveryError, match="refused the action: HTTP 422") as refused:
        hook.execute(_delivery())
    assert not refused.value.retry and len(receiver.requests) == 1
    receiver.fail_next = [500] * 4
    with pytest.raises(DeliveryError, match="failed after 4 attempts: HTTP 500") as failed:
        hook.execute(_delivery("k2"))
    assert failed.value.retry


def test_a_wrong_secret_is_refused_by_the_receiver(receiver):
    hook = WebhookExecutor(
        url=receiver.url, secret="not-the-secret", retries=0, sleep=lambda s: None
    )
    with pytest.raises(DeliveryError, match="HTTP 401"):
        hook.execute(_delivery())
    assert receiver.effects == {}


def test_executors_are_found_by_name_and_a_wrong_name_lists_the_choices(tmp_path):
    settings = Settings(
        outbox_log=tmp_path / "out.jsonl", webhook_url="http://127.0.0.1:9/x", webhook_secret="k"
    )
    assert isinstance(load_executor("log", settings), LogExecutor)
    assert isinstance(load_executor("webhook", settings), WebhookExecutor)
    with pytest.raises(ValueError, match=r"no executor `smtp`; there are: log, webhook"):
        load_executor("smtp", settings)
    with pytest.raises(ValueError, match="REVFIELD_WEBHOOK_SECRET"):
        WebhookExecutor(url="http://127.0.0.1:9/x", secret="")


class Crash(Exception):
    """The worker dies after the executor returned, before the item is marked done."""


def test_a_crash_after_executing_re_executes_with_the_same_key_and_the_receiver_counts_one_effect(
    store, clock, tmp_path, receiver
):
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    hook = WebhookExecutor(url=receiver.url, secret=SECRET, sleep=lambda s: None)
    with world.field(store, clock, tmp_path, executor=hook) as fld:
        fld.run_agents()

    def crash(item_id: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        process_outbox(store, hook, clock, on_executed=crash)
    assert len(receiver.requests) == 1  # the email (its follow-up waits for it)
    assert process_outbox(store, hook, clock).sent == 0  # the dead worker's claim still holds
    clock.advance(timedelta(minutes=6))  # ... until its lease runs out
    again = process_outbox(store, hook, clock)
    assert (again.sent, again.redelivered) == (2, 1)  # the email again, then its follow-up
    keys = [r["key"] for r in receiver.requests]
    assert len(keys) == 3 and keys.count(keys[0]) == 2  # the crashed one delivered twice, same key
    assert len(receiver.effects) == 2  # ... and applied once: one effect per action
    with store.read() as s:
        statuses = s.execute(
            sa.select(table_of(OutboxItem).c.status, table_of(OutboxItem).c.attempts)
        ).all()
        actions = s.execute(sa.select(table_of(ActionRecord).c.status)).scalars().all()
    assert sorted(statuses) == [("sent", 1), ("sent", 2)]  # the email was claimed twice
    assert actions == ["executed", "executed"]
    assert process_outbox(store, hook, clock).sent == 0


def test_a_refused_delivery_marks_the_action_failed_with_the_reason(
    store, clock, tmp_path, receiver
):
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    hook = WebhookExecutor(url=receiver.url, secret=SECRET, sleep=lambda s: None)
    with world.field(store, clock, tmp_path, executor=hook) as fld:
        fld.run_agents()
        receiver.fail_next = [400] * 10
        report = fld.deliver()
    assert report.failed >= 1 and "refused the action: HTTP 400" in report.errors[0]
    with store.read() as s:
        row = (
            s.execute(
                sa.select(table_of(OutboxItem)).where(table_of(OutboxItem).c.status == "failed")
            )
            .mappings()
            .first()
        )
    assert row is not None and "HTTP 400" in row["last_error"]


def test_the_log_executor_writes_each_key_once(tmp_path):
    log = LogExecutor(path=tmp_path / "out.jsonl")
    assert log.execute(_delivery())["written"] is True
    assert (
        LogExecutor(path=tmp_path / "out.jsonl").execute(_delivery())["duplicate"] is True
    )  # a new process
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
