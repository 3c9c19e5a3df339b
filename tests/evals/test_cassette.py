"""Cassettes, end to end: the real OpenAI adapter records its four operations against the
real local server on 127.0.0.1, the file holds no credential, and a replay — with the server
stopped and respx refusing every other host — gives the same typed answers, names a missing
request with a diff, and replays recorded 5xx/429 retries without waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel
from respx.models import AllMockedAssertionError

from revfield.evals._cassette import (
    KEPT_HEADERS,
    Cassette,
    CassetteError,
    CassetteRecorder,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    replay_model,
    replaying,
)
from revfield.evals._local_server import CLOSE, OPEN, LocalOpenAIServer, operation_of
from revfield.llm import (
    CitedItem,
    DraftRequest,
    HandoverRequest,
    ModelError,
    OfflineModel,
    OpenAIModel,
)
from revfield.llm._prompts import CLOSE as PROMPT_CLOSE
from revfield.llm._prompts import OPEN as PROMPT_OPEN

KEY = "sk-test-Q7r2Lm9Xc4Vb8Nz1"
MODEL = "gpt-test"
OPERATIONS = ["extract_facts", "classify_reply", "draft_message", "summarise_handover"]

TRANSCRIPT = (
    "We struggle with forecasting: it misses by 20% each quarter. "
    "Our CFO wants one number. We are also evaluating Clari. "
    "Success for us is a forecast within 5% by Q3."
)
REPLY = "Sounds good, let's talk Tuesday."
ITEMS = [
    CitedItem(id=1, source="fact", type="pain", text="forecast misses by 20% each quarter"),
    CitedItem(id=2, source="fact", type="competitor", text="evaluating Clari"),
]
DRAFT = DraftRequest(
    purpose="follow_up",
    account_name="Acme",
    recipient_name="Ana Ruiz",
    sender_name="Sam",
    items=ITEMS,
)
OTHER_DRAFT = DRAFT.model_copy(update={"recipient_name": "Ben Ode"})
HANDOVER = HandoverRequest(account_name="Acme", items=ITEMS)


def run_all(model: OpenAIModel | OfflineModel) -> list[BaseModel]:
    """The four operations, in order."""
    return [
        model.extract_facts(TRANSCRIPT, kind="call_transcript"),
        model.classify_reply(REPLY),
        model.draft_message(DRAFT),
        model.summarise_handover(HANDOVER),
    ]


def recording_model(recorder: CassetteRecorder, base_url: str, retries: int = 2) -> OpenAIModel:
    return OpenAIModel(
        api_key=KEY,
        model=MODEL,
        base_url=base_url,
        max_retries=retries,
        http_client=recorder.client(timeout=5),
    )


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the SDK asks for between retries, without waiting (the SDK calls
    ``time.sleep`` from ``openai._base_client``)."""
    asked: list[float] = []
    monkeypatch.setattr("time.sleep", asked.append)
    return asked


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, list[BaseModel]]:
    """The four operations plus a second draft recorded live, saved; the server is stopped
    before the test sees the file."""
    recorder = CassetteRecorder()
    with LocalOpenAIServer() as server:
        model = recording_model(recorder, server.base_url)
        answers = run_all(model)
        model.draft_message(OTHER_DRAFT)
        model.close()
        assert len(server.requests) == 5
        base_url = server.base_url
    path = tmp_path / "cassettes" / "four.json"
    recorder.cassette(model=MODEL, base_url=base_url, max_retries=2).save(path)
    return path, answers


# -- recording --------------------------------------------------------------------------------


def test_recording_names_every_operation_and_stores_no_credential(recorded):
    path, answers = recorded
    text = path.read_text(encoding="utf-8")
    assert answers == run_all(OfflineModel())  # the server answered through the real adapter
    assert KEY not in text
    assert "authorization" not in text.lower()
    assert "bearer" not in text.lower()
    assert "sk-" not in text
    cassette = Cassette.load(path)
    assert [i.operation for i in cassette.interactions] == [*OPERATIONS, "draft_message"]
    assert (cassette.version, cassette.model, cassette.max_retries) == (1, MODEL, 2)
    for interaction in cassette.interactions:
        assert interaction.request.method == "POST"
        assert interaction.request.path == "/v1/chat/completions"
        assert interaction.response.status == 200
        assert set(interaction.response.headers) <= set(KEPT_HEADERS)
        assert interaction.response.headers["content-type"] == "application/json"
    body = cassette.interactions[2].request.body
    assert isinstance(body, dict) and body["model"] == MODEL and body["temperature"] == 0
    # stable and readable: pretty-printed, the top level in field order, bodies key-sorted
    data = json.loads(text)
    assert list(data) == ["version", "model", "base_url", "max_retries", "interactions"]
    assert list(body) == sorted(body)
    assert text.startswith('{\n  "version": 1,')
    cassette.save(path)
    assert path.read_text(encoding="utf-8") == text


def test_the_local_server_requires_a_bearer_key_and_the_cassette_keeps_no_base_url_secret():
    with LocalOpenAIServer() as server:
        url = f"{server.base_url}/chat/completions"
        assert httpx.post(url, json={}).status_code == 401
        assert httpx.post(url, json={}, headers={"Authorization": "Bearer"}).status_code == 401
        assert (
            httpx.post(url, json={}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 400
        )
        missing = httpx.post(f"{server.base_url}/embeddings", headers={"Authorization": "Bearer x"})
        assert missing.status_code == 404 and "error" in missing.json()
    cassette = CassetteRecorder().cassette(
        model=MODEL,
        base_url="https://user:pw@llm.example:8443/v1/?api-key=sk-abcdefgh12345",
        max_retries=0,
    )
    assert cassette.base_url == "https://llm.example:8443/v1"


def test_a_key_in_the_signal_text_is_redacted_and_the_replay_still_matches(tmp_path):
    reply = "Sounds good. Our staging key is sk-live-ABCDEFGH12345678, let's talk."
    recorder = CassetteRecorder()
    with LocalOpenAIServer() as server:
        model = recording_model(recorder, server.base_url)
        recorded = model.classify_reply(reply)
        model.close()
        cassette = recorder.cassette(model=MODEL, base_url=server.base_url, max_retries=2)
    cassette.save(tmp_path / "c.json")
    text = (tmp_path / "c.json").read_text(encoding="utf-8")
    assert "sk-live" not in text and "[redacted]" in text
    with replaying(Cassette.load(tmp_path / "c.json")) as playback:
        model = replay_model(cassette)
        assert model.classify_reply(reply) == recorded
        model.close()
    assert (playback.hits, playback.misses) == (1, [])


# -- replaying --------------------------------------------------------------------------------


def test_replay_gives_the_same_answers_with_the_server_stopped(recorded):
    path, answers = recorded
    cassette = Cassette.load(path)
    # the server is gone: a live call can't be answered
    live = OpenAIModel(api_key=KEY, model=MODEL, base_url=cassette.base_url, max_retries=0)
    with pytest.raises(ModelError) as refused:
        live.classify_reply(REPLY)
    assert refused.value.fault == "connection"
    live.close()

    with replaying(cassette) as playback:
        model = replay_model(cassette)
        assert run_all(model) == answers
        assert model.draft_message(OTHER_DRAFT) == OfflineModel().draft_message(OTHER_DRAFT)
        model.close()
        with pytest.raises(AllMockedAssertionError):
            httpx.get("https://api.openai.com/v1/models")
        with pytest.raises(AllMockedAssertionError):
            httpx.get("http://127.0.0.1:9/")  # the loopback too, on any other port
    assert (playback.calls, playback.hits, playback.misses) == (5, 5, [])


def test_a_request_missing_from_the_cassette_fails_and_shows_the_difference(recorded):
    path, _ = recorded
    cassette = Cassette.load(path)
    del cassette.interactions[2]  # the draft to Ana Ruiz; the one to Ben Ode stays
    with replaying(cassette) as playback:
        model = replay_model(cassette)
        with pytest.raises(ModelError) as failed:
            model.draft_message(DRAFT)
        model.close()
    assert failed.value.fault == "config" and "not in the cassette" in str(failed.value)
    assert playback.calls == 1  # a 400 is not retried
    (miss,) = playback.misses
    assert (miss.operation, miss.method, miss.path) == (
        "draft_message",
        "POST",
        "/v1/chat/completions",
    )
    described = miss.describe()
    assert described.startswith("draft_message: POST /v1/chat/completions is not in the cassette")
    lines = described.splitlines()
    assert any(line.startswith("-") and '"recipient_name": "Ben Ode"' in line for line in lines)
    assert any(line.startswith("+") and '"recipient_name": "Ana Ruiz"' in line for line in lines)
    changed = [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(changed) == 2  # only the recipient differs


def test_a_miss_with_nothing_of_its_operation_recorded_says_so(recorded):
    path, _ = recorded
    cassette = Cassette.load(path)
    cassette.interactions = [
        i for i in cassette.interactions if i.operation != "summarise_handover"
    ]
    with replaying(cassette) as playback:
        model = replay_model(cassette)
        with pytest.raises(ModelError):
            model.summarise_handover(HANDOVER)
        model.close()
    assert playback.misses[0].describe() == (
        "summarise_handover: POST /v1/chat/completions is not in the cassette; "
        "no recorded request for this operation"
    )


@pytest.mark.parametrize(("status", "fault"), [(503, "server"), (429, "rate_limit")])
def test_a_recorded_fault_replays_its_retries_without_waiting(tmp_path, waits, status, fault):
    recorder = CassetteRecorder()
    with LocalOpenAIServer(faults={"draft_message": status}) as server:
        model = recording_model(recorder, server.base_url, retries=2)
        assert model.classify_reply(REPLY) == OfflineModel().classify_reply(REPLY)
        with pytest.raises(ModelError) as live:
            model.draft_message(DRAFT)
        model.close()
        cassette = recorder.cassette(model=MODEL, base_url=server.base_url, max_retries=2)
    assert live.value.fault == fault
    statuses = [(i.operation, i.response.status) for i in cassette.interactions]
    assert statuses == [("classify_reply", 200)] + [("draft_message", status)] * 3
    assert all("retry-after-ms" not in i.response.headers for i in cassette.interactions)
    assert len(waits) == 2 and min(waits) >= 0.375  # the SDK's own backoff, had it slept
    cassette.save(tmp_path / "fault.json")

    waits.clear()
    replayed = Cassette.load(tmp_path / "fault.json")
    with replaying(replayed) as playback:
        model = replay_model(replayed)
        with pytest.raises(ModelError) as again:
            model.draft_message(DRAFT)
        model.close()
    assert again.value.fault == fault
    assert (playback.calls, playback.hits, playback.misses) == (3, 3, [])
    assert waits == [0.001, 0.001]  # two retries, each told to wait 1 ms: nothing sleeps


def test_identical_requests_are_answered_in_recorded_order_then_the_last_repeats():
    body = {"messages": [], "model": MODEL}

    def said(text: str) -> Interaction:
        return Interaction(
            operation="unknown",
            request=RecordedRequest(method="POST", path="/v1/echo", body=body),
            response=RecordedResponse(
                status=200, headers={"content-type": "application/json"}, body={"said": text}
            ),
        )

    cassette = Cassette(
        model=MODEL,
        base_url="https://llm.example/v1",
        max_retries=0,
        interactions=[said("first"), said("second")],
    )
    with replaying(cassette) as playback:
        answers = [
            httpx.post("https://llm.example/v1/echo", json=body).json()["said"] for _ in range(3)
        ]
        other = httpx.post("https://llm.example/v1/echo", json={**body, "model": "x"})
    assert answers == ["first", "second", "second"]
    assert other.status_code == 400 and other.json()["error"]["type"] == "cassette_miss"
    assert (playback.calls, playback.hits, len(playback.misses)) == (4, 3, 1)
    assert playback.misses[0].operation == "unknown"


# -- loading ----------------------------------------------------------------------------------


def _load_error(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CassetteError) as error:
        Cassette.load(path)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    return str(error.value)


def test_load_names_the_file_and_what_is_wrong(tmp_path):
    path = tmp_path / "bad.json"
    message = _load_error(path, '{\n  "version": 1,\n  "model": \n}\n')
    assert message.startswith(f"{path}:4:1: the cassette is not valid JSON")

    good = {
        "version": 1,
        "model": MODEL,
        "base_url": "http://127.0.0.1:1/v1",
        "max_retries": 2,
        "interactions": [
            {
                "operation": "draft_message",
                "request": {"method": "POST", "path": "/v1/chat/completions", "body": {}},
                "response": {"status": "soon", "headers": {}, "body": None},
            }
        ],
    }
    message = _load_error(path, json.dumps(good))
    assert message.startswith(f"{path}: not a cassette: ")
    assert "interactions[0].response.status" in message

    message = _load_error(path, json.dumps({**good, "version": 2, "extra": 1}))
    assert "version" in message and "extra" in message

    message = _load_error(path, "[]")
    assert message.startswith(f"{path}: not a cassette: the top level")

    with pytest.raises(CassetteError, match="no such cassette file"):
        Cassette.load(tmp_path / "missing.json")


# -- the pieces -------------------------------------------------------------------------------


def test_the_server_unwraps_the_adapters_markers_and_names_operations_by_schema():
    assert (OPEN, CLOSE) == (PROMPT_OPEN, PROMPT_CLOSE)
    for name, operation in [
        ("FactExtraction", "extract_facts"),
        ("ReplyClassification", "classify_reply"),
        ("Draft", "draft_message"),
        ("HandoverSummary", "summarise_handover"),
    ]:
        body = {"response_format": {"type": "json_schema", "json_schema": {"name": name}}}
        assert operation_of(body) == operation
    assert operation_of({"messages": []}) == "unknown"
    assert operation_of("text") == "unknown"


def test_the_server_runs_from_the_command_line_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "revfield.evals._local_server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("serving http://127.0.0.1:") and "/v1" in first
        base_url = first.split()[1]
        reply = httpx.post(
            f"{base_url}/chat/completions", json={}, headers={"Authorization": "Bearer k"}
        )
        assert reply.status_code == 400
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "stopped" in out
