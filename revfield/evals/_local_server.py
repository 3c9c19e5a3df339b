"""A small OpenAI-compatible server on 127.0.0.1 that answers like the offline model.

It lets a cassette be recorded through the real OpenAI adapter (the SDK, its retries, its
structured outputs) without a hosted model or a key: ``POST /v1/chat/completions`` rebuilds
the operation's typed input from the request and answers with :class:`OfflineModel`'s answer
as a real ``chat.completion``. ``faults`` make it answer an operation with an HTTP error
instead, to record failure scenarios. It insists on an ``Authorization: Bearer …`` header, so
a recording proves the key is sent even though the cassette never stores it.

Run it by hand with ``python -m revfield.evals._local_server --port 8765 --fault
draft_message=503``; it serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from revfield.errors import RevfieldError
from revfield.llm import (
    Draft,
    DraftRequest,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    OfflineModel,
    ReplyClassification,
)

__all__ = ["OPERATIONS", "LocalOpenAIServer", "Operation", "main", "operation_of"]

Operation = Literal[
    "extract_facts", "classify_reply", "draft_message", "summarise_handover", "unknown"
]
"""Which model operation a request is; ``unknown`` when it is none of the four."""

OPERATIONS: dict[str, Operation] = {
    FactExtraction.__name__: "extract_facts",
    ReplyClassification.__name__: "classify_reply",
    Draft.__name__: "draft_message",
    HandoverSummary.__name__: "summarise_handover",
}
"""The adapter's structured-output schema name (``response_format.json_schema.name``, the
pydantic class's name) → its operation."""

OPEN, CLOSE = "<<<UNTRUSTED_TEXT", "UNTRUSTED_TEXT>>>"
"""The markers the adapter puts around signal text (the tests check they still match)."""

CREATED = 1_700_000_000
"""The ``created`` of every answer: a fixed number, so recordings don't change run to run."""


def operation_of(body: object) -> Operation:
    """The operation of a chat-completions request body: the adapter names its structured
    output schema after the answer's type (``Draft`` → ``draft_message``); anything else is
    ``unknown``.

    The operation is read from the schema name rather than by comparing the system message
    with the adapter's prompts: those prompts are private to :mod:`revfield.llm`.
    """
    if not isinstance(body, dict):
        return "unknown"
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return "unknown"
    schema = response_format.get("json_schema")
    name = schema.get("name") if isinstance(schema, dict) else None
    return OPERATIONS.get(name, "unknown") if isinstance(name, str) else "unknown"


class _BadRequest(RevfieldError):
    """The request can't be answered as one of the four operations (HTTP 400)."""


def _unwrap(text: str) -> str:
    """The signal text the adapter put between the data markers."""
    head, tail = f"{OPEN}\n", f"\n{CLOSE}"
    if not (text.startswith(head) and text.endswith(tail)):
        raise _BadRequest("the user message is not wrapped in the UNTRUSTED_TEXT markers")
    return text[len(head) : len(text) - len(tail)]


def _messages(body: Mapping[str, Any]) -> list[str]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _BadRequest("`messages` must be a list")
    return [
        m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)
    ]


def _user_message(body: Mapping[str, Any]) -> str:
    messages = body.get("messages")
    users = [
        m.get("content")
        for m in (messages if isinstance(messages, list) else [])
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    if len(users) != 1 or not isinstance(users[0], str):
        raise _BadRequest("expected exactly one user message with text content")
    return users[0]


def _answer(operation: Operation, user: str, model: OfflineModel | None = None) -> BaseModel:
    """The offline model's answer to one operation, given the user message the adapter
    sent (its typed input rebuilt from it)."""
    model = model or OfflineModel()
    try:
        if operation == "extract_facts":
            first, _, rest = user.partition("\n")
            if not first.startswith("Signal kind: "):
                raise _BadRequest("extract_facts: the first line must be `Signal kind: <kind>`")
            return model.extract_facts(_unwrap(rest), kind=first.removeprefix("Signal kind: "))
        if operation == "classify_reply":
            return model.classify_reply(_unwrap(user))
        if operation == "draft_message":
            return model.draft_message(DraftRequest.model_validate_json(user))
        if operation == "summarise_handover":
            return model.summarise_handover(HandoverRequest.model_validate_json(user))
    except ValidationError as exc:
        raise _BadRequest(f"{operation}: the user message is not its request: {exc}") from exc
    raise _BadRequest("not one of the four operations (no known response_format schema)")


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = {
        401: "invalid_request_error",
        404: "invalid_request_error",
        429: "rate_limit_error",
    }.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _completion(body: Mapping[str, Any], content: str) -> dict[str, Any]:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    prompt_words = sum(len(text.split()) for text in _messages(body))
    completion_words = len(content.split())
    return {
        "id": "chatcmpl-local-" + hashlib.sha256(canonical.encode()).hexdigest()[:16],
        "object": "chat.completion",
        "created": CREATED,
        "model": str(body.get("model", "local")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": prompt_words + completion_words,
        },
    }


class LocalOpenAIServer:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 answering with the offline
    model, in a daemon thread. ``port=0`` takes a free port; ``faults`` maps an operation (or
    ``"*"`` for all) to the HTTP status to answer instead (``{"draft_message": 503}``).

    Use it as a context manager, or call :meth:`close`. ``base_url`` is what to give the
    adapter; ``requests`` holds the body of every request received, in order."""

    def __init__(
        self,
        *,
        port: int = 0,
        faults: Mapping[str, int] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.faults: dict[str, int] = dict(faults or {})
        self.requests: list[dict[str, Any]] = []
        self._log = log
        self._model = OfflineModel()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon close() returns
            name="revfield-local-openai",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the adapter's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> LocalOpenAIServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- answering ----------------------------------------------------------------------------

    def respond(
        self, path: str, authorization: str | None, raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        """The status and JSON body answering one POST (what the HTTP handler sends)."""
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, _error_body(404, f"no route {path}: only POST /v1/chat/completions")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, _error_body(401, "missing `Authorization: Bearer <key>` header")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 400, _error_body(400, "the request body is not JSON")
        if not isinstance(body, dict):
            return 400, _error_body(400, "the request body must be a JSON object")
        self.requests.append(body)
        operation = operation_of(body)
        fault = self.faults.get(operation, self.faults.get("*"))
        if fault is not None:
            return fault, _error_body(fault, f"injected fault for {operation}: {_status(fault)}")
        try:
            result = _answer(operation, _user_message(body), self._model)
        except _BadRequest as exc:
            return 400, _error_body(400, str(exc))
        return 200, _completion(body, result.model_dump_json())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "revfield-local-openai"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, payload = server.respond(
                    self.path.split("?", 1)[0], self.headers.get("Authorization"), raw
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if server._log is not None:
                    server._log(f"POST {self.path} → {status}")

            def do_GET(self) -> None:
                data = json.dumps(_error_body(404, "only POST /v1/chat/completions")).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet: the optional `log` callback reports requests

        return Handler


def _fault(text: str) -> tuple[str, int]:
    operation, sep, status = text.partition("=")
    if not sep or not status.isdigit() or not 400 <= int(status) <= 599:
        raise argparse.ArgumentTypeError(
            f"`{text}`: expected OPERATION=STATUS, e.g. draft_message=503"
        )
    return operation.strip(), int(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C, printing the base URL (``--port``, ``--fault OP=STATUS``)."""
    parser = argparse.ArgumentParser(
        prog="python -m revfield.evals._local_server",
        description="An OpenAI-compatible server on 127.0.0.1 answering like the offline model.",
    )
    parser.add_argument("--port", type=int, default=8765, help="0 takes a free port")
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="OPERATION=STATUS",
        help="answer OPERATION (or *) with this HTTP status instead, e.g. draft_message=503",
    )
    args = parser.parse_args(argv)
    try:
        server = LocalOpenAIServer(
            port=args.port,
            faults=dict(args.fault),
            log=lambda line: print(line, flush=True),
        )
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with server:
        print(f"serving {server.base_url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
