"""``revfield run`` as a user runs it: offline by default, or through any OpenAI-compatible
endpoint named by OPENAI_BASE_URL (here a respx-mocked one)."""

from __future__ import annotations

import json

import httpx
import respx
import sqlalchemy as sa
from typer.testing import CliRunner

from revfield.cli import app
from revfield.ingest import ingest_signals
from revfield.memory import Store
from revfield.memory.models import FieldEvent, ModelCall, table_of
from tests.factories import signal

runner = CliRunner()
POLICIES = ["--db"]


def _ingest(db_url: str, records: list[dict]) -> None:
    store = Store.from_url(db_url)
    ingest_signals(records, store=store)
    store.dispose()


def test_run_prints_field_events_by_kind_and_where_they_went(db_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _ingest(
        db_url,
        [
            signal(
                1,
                kind="email_replied",
                account_domain=None,
                contact_email="pat@acme.com",
                text="Sounds good, let's talk",
            ),
            signal(
                2,
                kind="intent_surge",
                payload={"score": 80, "baseline": 30, "topic": "forecasting"},
            ),
        ],
    )
    result = runner.invoke(app, ["--db", db_url, "run"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "signals processed 2" in out and "positive_reply" in out and "intent_surge" in out
    assert "outreach 2" in out
    again = runner.invoke(app, ["--db", db_url, "run"])
    assert "signals processed 0" in " ".join(again.output.split())


def _answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    schema = body["response_format"]["json_schema"]["name"]
    content = (
        {"intent": "objection", "confidence": 0.8, "reason": "price"}
        if schema == "ReplyClassification"
        else {
            "facts": [
                {
                    "type": "objection",
                    "value": "price too high",
                    "span": "too expensive",
                    "subject": "price",
                    "confidence": 0.8,
                }
            ]
        }
    )
    return httpx.Response(
        200,
        json={
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": json.dumps(content),
                        "refusal": None,
                    },
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        },
    )


@respx.mock
def test_openai_base_url_routes_every_model_call_through_the_adapter(db_url, monkeypatch):
    monkeypatch.setenv("REVFIELD_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.test/v1")
    monkeypatch.setenv("REVFIELD_MODEL", "test-model-1")
    route = respx.post("https://llm.test/v1/chat/completions").mock(side_effect=_answer)
    _ingest(
        db_url,
        [
            signal(
                1,
                kind="email_replied",
                account_domain=None,
                contact_email="pat@acme.com",
                text="Honestly this is too expensive for us.",
            )
        ],
    )
    result = runner.invoke(app, ["--db", db_url, "run"])
    assert result.exit_code == 0, result.output
    assert route.call_count == 2
    assert "openai: 2 calls, 240 tokens" in " ".join(result.output.split())
    store = Store.from_url(db_url)
    with store.read() as s:
        calls = s.execute(sa.select(table_of(ModelCall))).mappings().all()
        kinds = s.execute(sa.select(table_of(FieldEvent).c.kind)).scalars().all()
    store.dispose()
    assert {c["model"] for c in calls} == {"test-model-1"} and all(
        c["prompt_tokens"] == 100 for c in calls
    )
    assert kinds == ["pricing_objection"]  # "too expensive": the deal desk's


def test_openai_without_a_key_is_a_clear_error(db_url, monkeypatch):
    monkeypatch.setenv("REVFIELD_LLM", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["--db", db_url, "run"])
    assert result.exit_code == 1 and "needs OPENAI_API_KEY" in result.output


def test_signals_dated_at_the_ends_of_the_calendar_run_through_the_field(db_url, monkeypatch):
    """Ingest accepts the years 1 to 9999: windows reaching back from such a signal start at
    the year 1 instead of overflowing, so `revfield run` finishes."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    edges = ["0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", "9999-12-31T23:00:00Z"]
    _ingest(
        db_url,
        [
            signal(n * 10 + k, kind=kind, occurred_at=when, payload=payload)
            for n, when in enumerate(edges)
            for k, (kind, payload) in enumerate(
                [
                    ("support_ticket", {"priority": "urgent"}),
                    ("product_usage", {"feature": "reports", "count": 5}),
                    ("intent_surge", {"score": 90, "baseline": 10}),
                ]
            )
        ],
    )
    result = runner.invoke(app, ["--db", db_url, "run"])
    assert result.exit_code == 0, result.output
    assert "signals processed 9" in " ".join(result.output.split())
