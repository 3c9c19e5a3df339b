"""The HTTP API as its users meet it: integrations sending signals, sellers and managers
answering their inbox, RevOps reading the field — through FastAPI's TestClient and against a
real server on 127.0.0.1. Every error is JSON naming what is wrong; nothing outside a
caller's scope is shown, not even that it exists."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from revfield.cli import main
from revfield.memory import recent_dead_letters, revoke_tokens
from revfield.policies import PackWatcher
from tests.agents import world
from tests.factories import T0, signal
from tests.service.conftest import Api, serving

ROOT = Path(__file__).resolve().parents[2]


def _without_request_id(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "request_id"}


# -- who is calling ---------------------------------------------------------------------------


def test_a_missing_unknown_or_revoked_token_is_401_with_a_json_message(api: Api):
    missing = api.client.get("/inbox")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"] == "unauthorized"
    assert missing.json()["message"].startswith("no token; send your token as `Authorization")
    assert missing.json()["request_id"] == missing.headers["x-request-id"]

    wrong = api.client.get("/inbox", headers={"Authorization": "Bearer rvf_not-a-token"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["message"]
    basic = api.client.get("/inbox", headers={"Authorization": "Basic YW5hOnB3"})
    assert basic.status_code == 401 and "is not `Bearer <token>`" in basic.json()["message"]

    assert api.client.get("/inbox", headers={"x-api-key": api.tokens["ana"]}).status_code == 200
    with api.store.session() as session:
        assert revoke_tokens(session, "ana", now=T0) == 1
    revoked = api.get("/inbox", "ana")
    assert revoked.status_code == 401 and "unknown or revoked" in revoked.json()["message"]
    assert api.get("/inbox", "al").status_code == 200  # other people's tokens still work


# -- the inbox, and answers -------------------------------------------------------------------


def test_each_caller_sees_only_the_items_in_their_scope(api: Api):
    own = api.submit(10)  # acme.io: ana's, her rung
    big = api.submit(20)  # acme.io: the manager's rung
    other = api.submit(10, account="beta.io")  # bo's

    def ids(user: str, **params: int) -> list[int]:
        response = api.get("/inbox", user, params=params)
        assert response.status_code == 200, response.text
        return [i["review_id"] for i in response.json()["items"]]

    assert ids("ana") == [own["review_id"]]
    assert ids("al") == []  # same team, not his account
    assert ids("bo") == [other["review_id"]]
    assert ids("mia") == [own["review_id"], big["review_id"]]
    assert ids("max") == [other["review_id"]]
    assert ids("rex") == [own["review_id"], big["review_id"], other["review_id"]]
    assert ids("rex", limit=1, offset=1) == [big["review_id"]]
    page = api.get("/inbox", "rex", params={"limit": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 0)

    item = api.item("ana", own["review_id"])
    assert item["rung"] == "owner" and item["overdue"] is False
    assert item["reason"] == "review: rule `small-discount`: Every discount is seen by the owner."
    api.clock.advance(timedelta(hours=25))
    assert api.item("ana", own["review_id"])["overdue"] is True


def test_an_item_outside_the_callers_scope_is_404_exactly_like_a_missing_one(api: Api):
    big = api.submit(20)  # waits for mia, on ana's account
    other = api.submit(10, account="beta.io")
    digest = api.item("mia", big["review_id"])["digest"]

    missing = api.post("/reviews/999999/approve", "ana", json={"expected_digest": digest})
    assert missing.status_code == 404
    refused = [
        api.post(f"/reviews/{big['review_id']}/approve", "ana", json={"expected_digest": digest}),
        api.post(f"/reviews/{other['review_id']}/approve", "ana", json={"expected_digest": "x"}),
        api.post(f"/reviews/{big['review_id']}/approve", "max", json={"expected_digest": digest}),
    ]
    for response, review_id in zip(refused, (big, other, big), strict=True):
        assert response.status_code == 404
        assert response.json()["message"] == (
            f"no review item #{review_id['review_id']} waits for you; see GET /inbox"
        )
        shown = _without_request_id(response.json())
        assert shown == {**_without_request_id(missing.json()), "message": shown["message"]}
    assert api.item("mia", big["review_id"])  # nothing changed


def test_a_stale_digest_is_409_and_changes_nothing(api: Api):
    sent = api.submit(10)
    stale = api.post(
        f"/reviews/{sent['review_id']}/approve", "ana", json={"expected_digest": "an-old-one"}
    )
    assert stale.status_code == 409
    assert stale.json()["message"] == (
        f"review #{sent['review_id']} now shows a different action than the one you saw; look "
        "at it again in the inbox"
    )
    assert api.item("ana", sent["review_id"]) and api.executed() == []


def test_an_approval_resumes_the_run_and_the_outbox_executes_it_once(api: Api):
    sent = api.submit(10)
    digest = api.item("ana", sent["review_id"])["digest"]
    answer = api.post(
        f"/reviews/{sent['review_id']}/approve", "ana", json={"expected_digest": digest}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "approved"
    assert answer.json()["outbox"] == {"executed": 1, "failed": 0, "cancelled": 0}
    (line,) = api.executed()
    assert json.loads(line)["trace"]["approved_by"] == "ana"
    assert api.get("/inbox", "ana").json()["items"] == []

    again = api.post(
        f"/reviews/{sent['review_id']}/approve", "ana", json={"expected_digest": digest}
    )
    assert again.status_code == 409 and "is already approved by ana" in again.json()["message"]
    assert len(api.executed()) == 1

    account = api.get("/accounts/acme.io", "ana").json()
    (chain,) = account["actions"]
    assert chain["status"] == "executed"


def test_a_rejection_needs_its_reason_and_is_never_executed(api: Api):
    sent = api.submit(10)
    digest = api.item("ana", sent["review_id"])["digest"]
    url = f"/reviews/{sent['review_id']}/reject"
    no_reason = api.post(url, "ana", json={"expected_digest": digest})
    assert no_reason.status_code == 422
    assert no_reason.json()["problems"] == [{"where": "body.reason", "message": "Field required"}]
    blank = api.post(url, "ana", json={"expected_digest": digest, "reason": "   "})
    assert blank.status_code == 422 and blank.json()["problems"][0]["where"] == "body.reason"
    done = api.post(url, "ana", json={"expected_digest": digest, "reason": "they wait for Q1"})
    assert done.status_code == 200 and done.json()["outcome"] == "rejected"
    assert done.json()["message"] == "reason: they wait for Q1"
    assert api.executed() == []


def test_an_edit_is_typed_by_the_declaration_and_decided_again(api: Api):
    big = api.submit(20)
    digest = api.item("mia", big["review_id"])["digest"]
    url = f"/reviews/{big['review_id']}/edit"
    typo = api.post(url, "mia", json={"expected_digest": digest, "edits": {"discount_pct": "x"}})
    assert typo.status_code == 422
    assert typo.json()["message"].startswith("edit `discount_pct`: Input should be a valid number")
    unknown = api.post(url, "mia", json={"expected_digest": digest, "edits": {"payload": 1}})
    assert unknown.status_code == 422
    assert "`payload` can't be edited on offer_discount; editable:" in unknown.json()["message"]
    assert api.item("mia", big["review_id"])  # still waiting

    edited = api.post(url, "mia", json={"expected_digest": digest, "edits": {"discount_pct": 12}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["outcome"] == "approved" and edited.json()["outbox"]["executed"] == 1
    (line,) = api.executed()
    assert json.loads(line)["action"]["discount_pct"] == 12.0


def test_a_sellers_edit_that_needs_the_manager_re_escalates(api: Api):
    own = api.submit(10)
    digest = api.item("ana", own["review_id"])["digest"]
    raised = api.post(
        f"/reviews/{own['review_id']}/edit",
        "ana",
        json={"expected_digest": digest, "edits": {"discount_pct": 25}},
    )
    assert raised.status_code == 200
    body = raised.json()
    assert body["outcome"] == "re-escalated" and body["new_review_id"] is not None
    assert "needs the manager" in body["message"]
    assert api.get("/inbox", "ana").json()["items"] == []
    assert api.item("mia", body["new_review_id"])["proposal"]["discount_pct"] == 25.0


def test_submitting_an_action_needs_an_account_the_caller_may_see(api: Api):
    action = {"kind": "create_task", "subject": "Call Pat back", "account": "beta.io"}
    assert api.post("/actions", "ana", json=action).status_code == 404
    nowhere = api.post("/actions", "ana", json={**action, "account": "nowhere.io"})
    assert nowhere.status_code == 404
    assert _without_request_id(nowhere.json()) == {
        **_without_request_id(api.post("/actions", "ana", json=action).json()),
        "message": "no account `nowhere.io` that you may see",
    }
    typo = api.post("/actions", "rex", json={**action, "kind": "offer_discunt"})
    assert typo.status_code == 422
    assert typo.json()["message"].startswith("the action was refused: unknown action kind")
    first = api.post("/actions", "bo", json={**action, "idempotency_key": "crm-1"})
    again = api.post("/actions", "bo", json={**action, "idempotency_key": "crm-1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["new"] is True and again.json()["new"] is False
    assert again.json()["action_id"] == first.json()["action_id"]


# -- signals ------------------------------------------------------------------------------------


def test_bad_rows_are_reported_per_row_and_dead_lettered_while_good_rows_are_stored(api: Api):
    rows = [
        json.dumps(signal(1)),
        json.dumps(signal(2, kind="web_vist")),
        json.dumps(signal(3)),
        '{"source": "web", "external_id": "e-4", "kind": "web_visit", "kind": "note"}',
        "17",
        json.dumps(signal(6, occurred_at="2026-11-01T10:00:00")),
    ]
    body = "[" + ",".join(rows) + "]"
    headers = {**api.auth("rex"), "Content-Type": "application/json", "X-Request-ID": "batch-1"}
    sent = api.client.post("/signals", content=body, headers=headers)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["received"], report["accepted"], report["dead_lettered"]) == (6, 2, 4)
    assert report["request_id"] == "batch-1"
    problems = {p["index"]: (p["field"], p["reason"]) for p in report["problems"]}
    assert sorted(problems) == [1, 3, 4, 5]
    assert problems[1][0] == "kind" and "did you mean `web_visit`" in problems[1][1]
    assert problems[3] == (
        "kind",
        "`kind` is given twice in the row; JSON keys must be unique (which value is meant?)",
    )
    assert problems[4][1] == "a signal must be a mapping, got int"
    assert problems[5][0] == "occurred_at" and "has no time zone" in problems[5][1]

    with api.store.read() as session:
        dead = recent_dead_letters(session, file="[batch-1]")
    assert sorted(d.line for d in dead) == [2, 4, 5, 6]  # 1-based, as in a file
    assert {d.source_file for d in dead} == {"POST /signals [batch-1]"}

    again = api.client.post("/signals", content=body, headers=headers).json()
    assert (again["accepted"], again["duplicates"], again["dead_lettered"]) == (0, 2, 4)
    assert [d["index"] for d in again["duplicate_of"]] == [0, 2]
    with api.store.read() as session:
        assert len(recent_dead_letters(session, file="[batch-1]")) == 4  # not twice


def test_every_bad_row_of_a_large_batch_is_reported(api: Api):
    rows = [signal(n, kind="nope") if n % 2 else signal(n) for n in range(60)]
    report = api.post("/signals", "bo", json=rows).json()
    assert report["accepted"] == 30 and report["dead_lettered"] == 30
    assert [p["index"] for p in report["problems"]] == list(range(1, 60, 2))


def test_a_batch_over_the_limits_is_refused_whole_with_413(api: Api):
    too_many = api.post("/signals", "rex", json=[signal(n) for n in range(5001)])
    assert too_many.status_code == 413
    assert too_many.json()["message"] == (
        "the batch is 5,001 rows; POST /signals takes at most 8,388,608 bytes and 5,000 rows "
        "per request: split it into smaller batches"
    )
    huge = b"[" + b" " * (8 * 1024 * 1024) + b"]"
    too_big = api.client.post(
        "/signals", content=huge, headers={**api.auth("rex"), "Content-Type": "application/json"}
    )
    assert too_big.status_code == 413 and "8,388,610 bytes" in too_big.json()["message"]
    not_json = api.client.post("/signals", content=b"[{", headers=api.auth("rex"))
    assert not_json.status_code == 400 and not_json.json()["message"].startswith("the body is")
    an_object = api.post("/signals", "rex", json=signal(1))
    assert an_object.status_code == 422 and "send a JSON array" in an_object.json()["message"]
    with api.store.read() as session:
        assert recent_dead_letters(session) == []


# -- reading the field --------------------------------------------------------------------------


def test_an_account_is_shown_to_its_owner_their_manager_and_revops_only(api: Api):
    api.submit(10)
    shown = api.get("/accounts/acme.io", "ana")
    assert shown.status_code == 200
    body = shown.json()
    assert body["account"]["id"] == "acme.io" and body["account"]["owner"]["id"] == "ana"
    assert body["facts"]["objection"][0]["value"] == "Too expensive for a team our size"
    (chain,) = body["actions"]
    assert chain["status"] == "pending_review"
    assert api.get("/accounts/Acme", "mia").status_code == 200  # by name too
    assert api.get("/accounts/acme.io", "rex").status_code == 200

    for user, account in (("ana", "beta.io"), ("al", "acme.io"), ("max", "acme.io")):
        hidden = api.get(f"/accounts/{account}", user)
        assert hidden.status_code == 404
        assert hidden.json()["message"] == f"no account `{account}` that you may see"
    missing = api.get("/accounts/acm", "ana").json()["message"]
    assert missing == "no account `acm` that you may see"  # no hints naming other accounts


def test_governance_is_for_managers_and_revops(api: Api):
    seller = api.get("/governance", "ana")
    assert seller.status_code == 403
    assert seller.json()["message"] == "governance is for manager and revops; ana is a seller"
    manager = api.get("/governance", "mia")
    assert manager.status_code == 200 and manager.json()["scope"] == "team-a"
    assert api.get("/governance", "rex").json()["scope"] == "all"
    naive = api.get("/governance", "rex", params={"as_of": "2026-11-02T09:00:00"})
    assert naive.status_code == 422 and "has no time zone" in naive.json()["message"]


def test_healthz_says_the_database_and_pack_in_force_and_a_refused_reload(api: Api, tmp_path):
    health = api.client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["database"]["reachable"] is True
    assert body["pack"] == {
        "version": world.PACK.version,
        "reload_failed": False,
        "reload_error": None,
    }

    folder = tmp_path / "pack"
    shutil.copytree(world.POLICIES, folder, ignore=shutil.ignore_patterns("tests"))
    watcher = PackWatcher(folder, clock=api.clock)
    from fastapi.testclient import TestClient

    with TestClient(api.make_app(watcher)) as client:  # type: ignore[call-arg]
        (folder / "default.yaml").write_text("rules: [\n")
        api.clock.advance(timedelta(seconds=5))
        degraded = client.get("/healthz").json()
        assert degraded["status"] == "degraded"
        assert degraded["pack"]["reload_failed"] is True
        assert degraded["pack"]["version"] == world.PACK.version  # the last good pack
        assert degraded["pack"]["reload_error"]
        assert client.get("/metrics").text.count("revfield_policy_pack_reload_failed 1.0") == 1


def test_metrics_parse_with_prometheus_clients_own_parser(api: Api):
    sent = api.submit(10)
    api.submit(20)
    api.post("/signals", "rex", json=[signal(1), signal(2, kind="nope")])
    api.get("/inbox", "ana")
    api.client.get("/inbox")  # a 401
    digest = api.item("ana", sent["review_id"])["digest"]
    api.post(f"/reviews/{sent['review_id']}/approve", "ana", json={"expected_digest": digest})
    api.clock.advance(timedelta(hours=30))

    text = api.client.get("/metrics")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text.text)}

    def value(name: str, **labels: str) -> float:
        return sum(
            s.value
            for s in families[name].samples
            if s.name in (name, f"{name}_total")
            and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert value("revfield_signals_received", outcome="accepted") == 1
    assert value("revfield_signals_received", outcome="dead_lettered") == 1
    assert value("revfield_decisions", verdict="review") == 1
    assert value("revfield_decisions", verdict="escalate") == 1
    assert value("revfield_reviews_pending") == 1
    assert value("revfield_reviews_overdue") == 1
    assert value("revfield_outbox_items", status="sent") == 1
    assert value("revfield_field_events", kind="action_submitted") == 2
    assert value("revfield_answers", via="rest", result="approved") == 1
    assert value("revfield_submissions", verdict="escalate") == 1
    assert value("revfield_http_requests", route="/inbox", status="401") == 1
    assert value("revfield_policy_pack_info", version=world.PACK.version) == 1
    assert "revfield_model_calls" in families and "revfield_model_call_failures" in families
    latency = families["revfield_http_request_duration_seconds"]
    assert latency.type == "histogram"
    counts = [
        s.value
        for s in latency.samples
        if s.name.endswith("_count") and s.labels["route"] == "/reviews/{review_id}/approve"
    ]
    assert counts == [1]


def test_errors_are_json_naming_what_is_wrong_and_where(api: Api):
    unknown = api.client.get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "no endpoint GET /nowhere; see /openapi.json"
    wrong_method = api.client.delete("/inbox")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    empty = api.post("/reviews/1/approve", "ana", json={})
    assert empty.status_code == 422
    assert empty.json()["message"] == "`body.expected_digest`: Field required"
    bad_limit = api.get("/inbox", "ana", params={"limit": 0})
    assert (
        bad_limit.status_code == 422 and bad_limit.json()["problems"][0]["where"] == "query.limit"
    )
    broken = api.client.post(
        "/reviews/1/approve",
        content=b"{",
        headers={**api.auth("ana"), "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["message"].startswith("the body is not JSON")
    schema = api.client.get("/openapi.json").json()
    assert {"/signals", "/inbox", "/threads/search", "/healthz", "/metrics"} <= set(schema["paths"])


def test_text_the_memory_cannot_store_is_refused_naming_where(api: Api):
    """A NUL character (or half of a surrogate pair) would be refused by PostgreSQL: both
    databases refuse it up front, as 422 naming the field — never a 500."""
    sent = api.submit(20)
    digest = api.item("mia", sent["review_id"])["digest"]
    nul = "\x00"
    cases = [
        (api.get("/accounts/a%00b", "rex"), "path.account"),
        (api.get("/governance", "rex", params={"rule": nul}), "query.rule"),
        (api.get("/threads/submitted:1%00/state", "rex"), "path.thread_id"),
        (
            api.post("/actions", "rex", json={"kind": "create_task", "account": f"acme{nul}.io"}),
            "body.account",
        ),
        (
            api.post(
                f"/reviews/{sent['review_id']}/edit",
                "mia",
                json={"expected_digest": digest, "edits": {"subject": f"a{nul}b"}},
            ),
            "body.edits.subject",
        ),
        (
            api.post(
                f"/reviews/{sent['review_id']}/reject",
                "mia",
                content=json.dumps({"expected_digest": digest, "reason": "\ud800"}),
                headers={"Content-Type": "application/json"},
            ),
            "body.reason",
        ),
        (
            api.post(
                "/threads/submitted:1/runs",
                "mia",
                json={"command": {"resume": {"decision": "reject", "reason": nul}}},
            ),
            "body.command.resume.reason",
        ),
    ]
    for response, where in cases:
        assert response.status_code == 422, (where, response.text)
        assert response.json()["problems"][0]["where"] == where
    assert "NUL character" in cases[3][0].json()["message"]
    assert "surrogate" in cases[5][0].json()["message"]
    assert api.item("mia", sent["review_id"])  # nothing changed


def test_an_error_nobody_expected_is_a_json_500_without_a_traceback(api: Api, monkeypatch):
    import revfield.service._reviews as reviews

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(reviews, "inbox_page", broken)
    failed = api.get("/inbox", "ana", headers={"X-Request-ID": "req-42"})
    assert failed.status_code == 500
    assert failed.json() == {
        "error": "internal_error",
        "message": "internal error; report it with the request id req-42",
        "request_id": "req-42",
        "problems": [],
    }
    assert "Traceback" not in failed.text and "ZeroDivision" not in failed.text


# -- a real server ------------------------------------------------------------------------------


def test_a_real_server_answers_the_same(api: Api):
    sent = api.submit(10)
    with serving(api.make_app()) as url, httpx.Client(base_url=url) as http:
        ana = {"Authorization": f"Bearer {api.tokens['ana']}"}
        assert http.get("/inbox").status_code == 401
        items = http.get("/inbox", headers=ana).json()["items"]
        assert [i["review_id"] for i in items] == [sent["review_id"]]
        bo = {"x-api-key": api.tokens["bo"]}
        digest = items[0]["digest"]
        hidden = http.post(
            f"/reviews/{sent['review_id']}/approve", headers=bo, json={"expected_digest": digest}
        )
        assert hidden.status_code == 404
        report = http.post("/signals", headers=bo, json=[signal(1), signal(2, kind="x")]).json()
        assert (report["accepted"], report["dead_lettered"]) == (1, 1)
        done = http.post(
            f"/reviews/{sent['review_id']}/approve", headers=ana, json={"expected_digest": digest}
        )
        assert done.status_code == 200 and done.json()["outbox"]["executed"] == 1
        assert http.get("/healthz").json()["status"] == "ok"
    assert len(api.executed()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_revfield_serve_says_clearly_when_the_port_is_taken(
    field_world, db_url: str, capsys, monkeypatch
):
    monkeypatch.setenv("REVFIELD_POLICIES", str(world.POLICIES))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        monkeypatch.setattr(sys, "argv", ["revfield", "--db", db_url, "serve", "--port", str(port)])
        with pytest.raises(SystemExit) as exit_:
            main()
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err
    assert (
        err.splitlines()[0]
        == f"error: port {port} on 127.0.0.1 is taken: another program listens there"
    )
    assert "help: pass --port with a free port" in err


@pytest.mark.skipif(
    not shutil.which("revfield", path=str(ROOT / ".venv" / "bin")), reason="no console script"
)
def test_revfield_serve_runs_a_real_server(field_world, db_url: str, tmp_path: Path):
    from tests.service.conftest import tokens_for

    token = tokens_for(field_world)["rex"]
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REVFIELD_", "OPENAI_"))},
        "REVFIELD_POLICIES": str(world.POLICIES),
        "REVFIELD_OUTBOX_LOG": str(tmp_path / "outbox.jsonl"),
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "revfield"), "--db", db_url, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # printed once the port is bound
        assert f"listening on http://127.0.0.1:{port}" in first, first
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            ok = http.get("/inbox", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and ok.json()["total"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()


# -- property-based: no 5xx anywhere --------------------------------------------------------------


def test_schemathesis_finds_no_server_error(api: Api):
    """Every operation of /openapi.json, with generated requests authenticated as RevOps:
    whatever the request, the answer is never a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    api.submit(10)
    api.submit(20)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.auth("rex")
    errors: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        try:
            check()
        except Unsatisfiable:  # nothing of the operation can be made invalid (GET /metrics)
            assert mode is GenerationMode.NEGATIVE
    assert errors == []
    assert len(statuses) >= 6 * len(operations)  # it did run
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
