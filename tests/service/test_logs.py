"""``revfield serve``'s logs as an operator reads them: one JSON object per line, each with an
ISO timestamp and (during a request) the request's id, and no e-mail address, phone number or
token anywhere in them — not in revfield's own lines, not in uvicorn's access line."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI

from revfield.service import configure_logging, redact, redact_event
from tests.service.conftest import Api

SECRETS = {
    "email": ("write to ana.lopez@acme.io today", "ana.lopez@acme.io"),
    "phone": ("call her on +44 20 7946 0958", "7946 0958"),
    "us phone": ("or (415) 555-0100", "555-0100"),
    "revfield token": ("token rvf_Zx81_abcDEFghi-123", "abcDEFghi"),
    "model key": ("the key sk-proj-Abc123Def456", "Abc123Def456"),
    "bearer": ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9", "eyJhbGciOi"),
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_the_redaction_masks_each_kind_of_secret_however_deep_it_sits(kind: str) -> None:
    text, secret = SECRETS[kind]
    event = {
        "event": text,
        "detail": {"nested": [text, (text,)], "count": 3},
        "_record": "structlog's own keys are left alone",
    }
    out = redact_event(None, "info", event)
    assert secret not in json.dumps({k: v for k, v in out.items() if k != "_record"})
    assert out["detail"]["count"] == 3
    assert text.split()[0] in out["event"]  # the words around it stay readable


def test_dates_ids_and_addresses_are_not_mistaken_for_phone_numbers() -> None:
    kept = "at 2026-12-02 16:36:46 from 127.0.0.1:8000, review 1764693406, took 0.125 s"
    assert redact(kept) == kept


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging configured as ``revfield serve`` does it, into a buffer; put back after."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {
        n: (lg.handlers[:], lg.propagate, lg.level)
        for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")
        for lg in [logging.getLogger(n)]
    }
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    try:
        yield buffer
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
        for n, (h, propagate, lvl) in named.items():
            lg = logging.getLogger(n)
            lg.handlers[:], lg.propagate = h, propagate
            lg.setLevel(lvl)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]  # each one JSON


def test_a_log_line_is_json_with_an_iso_timestamp_the_request_id_and_no_secret(
    json_logs: io.StringIO,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        structlog.get_logger("revfield.service").warning(
            "answer refused",
            user="ana.lopez@acme.io",
            headers={"authorization": "Bearer rvf_Zx81_abcDEFghi"},
        )
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    (line,) = _lines(json_logs)
    assert line["request_id"] == "req-42"
    assert (line["level"], line["logger"], line["event"]) == (
        "warning",
        "revfield.service",
        "answer refused",
    )
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert "acme.io" not in json_logs.getvalue() and "abcDEF" not in json_logs.getvalue()


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn as ``revfield serve`` runs it (its access log on, through the
    logging configured above), on a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, log_level="info", log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_each_request_logs_one_json_line_with_its_id_and_without_the_callers_secrets(
    api: Api, json_logs: io.StringIO
) -> None:
    token = api.tokens["ana"]
    with _served(api.make_app()) as base:
        response = httpx.get(
            f"{base}/inbox",
            params={"contact": "pat@acme.io", "key": token},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-7"},
        )
    assert response.status_code == 200
    access = [line for line in _lines(json_logs) if line.get("logger") == "uvicorn.access"]
    (line,) = [a for a in access if a.get("request_id") == "trace-7"]
    assert (line["method"], line["status"]) == ("GET", 200)
    assert line["path"].startswith("/inbox?")
    assert "[email]" in line["path"] and "rvf_[redacted]" in line["path"]
    text = json_logs.getvalue()  # the query string had them URL-encoded: pat%40acme.io
    assert "acme.io" not in text and token[4:] not in text
