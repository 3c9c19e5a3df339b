"""A small OpenAI-compatible server on 127.0.0.1 that answers like the offline model.

It lets a cassette be recorded through the real OpenAI adapter (the SDK, its retries, its
structured outputs) without a hosted model or a key: ``POST /v1/chat/completions`` rebuilds
the operation's typed input from the request and answers with :class:`OfflineModel`'s answer
as a real ``chat.completion``. ``faults`` make it answer an operation with an HTTP error
instead, to record failure scenarios. It insists on an ``Authorization: Bearer …`` header, so
a recording proves the key is sent even though the cassette never stores it.

For soak tests it also injects faults at random, at a set rate and from a seed: a 429, 500 or
503; a ``timeout`` (the answer is held past the client's own timeout); or a ``malformed``
answer (a 200 whose content is cut-off JSON). ``injected`` counts them by kind and ``served``
counts every request, for the soak's report.

Run it by hand with ``python -m revfield.evals._local_server --port 8765 --fault
draft_message=503`` or ``--fault-rate 0.2 --fault-kinds 429,timeout,malformed --seed 7``; it
serves until Ctrl-C, then prints what it served and injected.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args

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

__all__ = [
    "FAULT_KINDS",
    "OPERATIONS",
    "FaultKind",
    "LocalOpenAIServer",
    "Operation",
    "Reply",
    "main",
    "operation_of",
]

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

FaultKind = Literal["429", "500", "503", "timeout", "malformed"]
"""A fault injected at random: an HTTP status, an answer held past the client's timeout, or
a 200 whose content is not the operation's JSON."""

FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
"""Every kind of random fault, in a fixed order (the seeded draw depends on it)."""

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


@dataclass(frozen=True, slots=True)
class Reply:
    """How the server answers one POST."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (``retry-after-ms`` on an injected 429/5xx)."""
    hold: bool = False
    """Hold the answer ``timeout_delay`` seconds first (an injected ``timeout``)."""
    fault: FaultKind | None = None
    """The random fault this answer is, if any."""


def _malformed(content: str) -> str:
    """``content`` (the answer's JSON) cut off half-way: what a model stopped mid-answer, or a
    proxy that dropped bytes, returns. Never valid JSON for the operation."""
    return content[: max(1, len(content) // 2)]


def _fault_kinds(kinds: Sequence[str]) -> tuple[FaultKind, ...]:
    """``kinds`` checked against :data:`FAULT_KINDS`, in that order, without repeats."""
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(
            f"unknown fault kind {', '.join(map(repr, unknown))}; "
            f"the kinds are {', '.join(FAULT_KINDS)}"
        )
    chosen = tuple(k for k in FAULT_KINDS if k in kinds)
    if not chosen:
        raise ValueError(f"fault_kinds is empty; name some of {', '.join(FAULT_KINDS)}")
    return chosen


class LocalOpenAIServer:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 answering with the offline
    model, in a daemon thread. ``port=0`` takes a free port; ``faults`` maps an operation (or
    ``"*"`` for all) to the HTTP status to answer instead (``{"draft_message": 503}``).

    Random faults, for soak tests: each request with a JSON body is, with probability
    ``fault_rate``, answered with one of ``fault_kinds`` drawn at random (an operation in
    ``faults`` is answered with its status instead). The draws come from
    ``random.Random(seed)``, so one client sending the same requests in the same order meets
    the same faults. An injected 429/500/503 carries ``retry-after-ms: <retry_after_ms>`` (the
    SDK then retries after that many milliseconds instead of its 0.5–8 s backoff; it ignores
    0, and None sends no header); a ``timeout`` holds the request ``timeout_delay`` seconds
    (:meth:`close` releases it at once), then answers normally; ``malformed`` answers 200
    with the content cut off half-way.

    Use it as a context manager, or call :meth:`close`. ``base_url`` is what to give the
    adapter; ``requests`` holds the body of every request received, in order; ``served``
    counts every POST and ``injected`` the random faults by kind."""

    def __init__(
        self,
        *,
        port: int = 0,
        faults: Mapping[str, int] | None = None,
        log: Callable[[str], None] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] = FAULT_KINDS,
        seed: int | None = None,
        timeout_delay: float = 2.0,
        retry_after_ms: int | None = 1,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        if not timeout_delay >= 0:
            raise ValueError(f"timeout_delay must be 0 seconds or more, got {timeout_delay}")
        if retry_after_ms is not None and retry_after_ms < 0:
            raise ValueError(f"retry_after_ms must be 0 or more, got {retry_after_ms}")
        self.faults: dict[str, int] = dict(faults or {})
        self.fault_rate = fault_rate
        self.fault_kinds: tuple[FaultKind, ...] = _fault_kinds(fault_kinds)
        self.timeout_delay = timeout_delay
        self.retry_after_ms = retry_after_ms
        self.requests: list[dict[str, Any]] = []
        self.served = 0
        """POSTs received (answered, refused or held), counting every retry."""
        self.injected: Counter[FaultKind] = Counter()
        """Random faults injected so far, by kind."""
        self._random = random.Random(seed)
        self._lock = threading.Lock()  # the draws, the counts and `requests`
        self._released = threading.Event()  # set by close(): held requests answer at once
        self._held = 0
        self._unheld = threading.Condition(self._lock)
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

    def summary(self) -> str:
        """``served N requests; injected 429 ×2, timeout ×1`` (or ``injected no faults``)."""
        with self._lock:
            counts = [(kind, self.injected[kind]) for kind in FAULT_KINDS if self.injected[kind]]
            served = self.served
        faults = ", ".join(f"{kind} ×{n}" for kind, n in counts) or "no faults"
        return f"served {served} requests; injected {faults}"

    def close(self) -> None:
        """Stop serving and free the port (idempotent). A request held by a ``timeout``
        fault is let go at once (and given up to a second to finish)."""
        if self._closed:
            return
        self._closed = True
        self._released.set()
        with self._unheld:
            self._unheld.wait_for(lambda: self._held == 0, timeout=1.0)
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
        """The status and JSON body answering one POST (:meth:`reply` without its headers
        and without holding a ``timeout``)."""
        reply = self.reply(path, authorization, raw)
        return reply.status, reply.body

    def reply(self, path: str, authorization: str | None, raw: bytes) -> Reply:
        """How to answer one POST: what the HTTP handler sends (a random fault is drawn
        here, and counted)."""
        with self._lock:
            self.served += 1
        if path.rstrip("/") != "/v1/chat/completions":
            return Reply(404, _error_body(404, f"no route {path}: only POST /v1/chat/completions"))
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Reply(401, _error_body(401, "missing `Authorization: Bearer <key>` header"))
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return Reply(400, _error_body(400, "the request body is not JSON"))
        if not isinstance(body, dict):
            return Reply(400, _error_body(400, "the request body must be a JSON object"))
        operation = operation_of(body)
        fault = self.faults.get(operation, self.faults.get("*"))
        with self._lock:
            self.requests.append(body)
            kind = self._draw() if fault is None else None
        if fault is not None:
            return Reply(
                fault, _error_body(fault, f"injected fault for {operation}: {_status(fault)}")
            )
        if kind in ("429", "500", "503"):
            status = int(kind)
            headers = (
                {} if self.retry_after_ms is None else {"retry-after-ms": str(self.retry_after_ms)}
            )
            message = f"injected random fault for {operation}: {_status(status)}"
            return Reply(status, _error_body(status, message), headers, fault=kind)
        try:
            result = _answer(operation, _user_message(body), self._model)
        except _BadRequest as exc:
            return Reply(400, _error_body(400, str(exc)))
        content = result.model_dump_json()
        if kind == "malformed":
            content = _malformed(content)
        return Reply(200, _completion(body, content), hold=kind == "timeout", fault=kind)

    def _draw(self) -> FaultKind | None:
        """The random fault for one request, or None; counted. Called under the lock."""
        if self.fault_rate <= 0.0 or self._random.random() >= self.fault_rate:
            return None
        kind = self._random.choice(self.fault_kinds)
        self.injected[kind] += 1
        return kind

    def _hold(self) -> None:
        """Wait ``timeout_delay`` seconds, or until :meth:`close`."""
        with self._lock:
            self._held += 1
        try:
            self._released.wait(self.timeout_delay)
        finally:
            with self._unheld:
                self._held -= 1
                self._unheld.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "revfield-local-openai"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                reply = server.reply(
                    self.path.split("?", 1)[0], self.headers.get("Authorization"), raw
                )
                if reply.hold:
                    server._hold()
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self.close_connection = True
                if server._log is not None:
                    fault = f" (injected: {reply.fault})" if reply.fault else ""
                    server._log(f"POST {self.path} → {reply.status}{fault}")

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


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"`{text}`: expected a number from 0 to 1, e.g. 0.2")
    return rate


def _kinds(text: str) -> tuple[FaultKind, ...]:
    try:
        return _fault_kinds([k.strip() for k in text.split(",") if k.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"`{text}`: {exc}") from None


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0.0:
        raise argparse.ArgumentTypeError(f"`{text}`: expected seconds (0 or more), e.g. 2.0")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C, printing the base URL (``--port``, ``--fault OP=STATUS``, and for
    random faults ``--fault-rate``, ``--fault-kinds``, ``--seed``, ``--timeout-delay``); on
    Ctrl-C, print what was served and injected."""
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
    parser.add_argument(
        "--fault-rate",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help="inject a random fault into this share of requests (0 to 1; default 0)",
    )
    parser.add_argument(
        "--fault-kinds",
        type=_kinds,
        default=FAULT_KINDS,
        metavar="KINDS",
        help=f"the random faults to draw from, comma-separated (default {','.join(FAULT_KINDS)})",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    parser.add_argument(
        "--timeout-delay",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="how long a `timeout` fault holds the answer (default 2.0; above the client's "
        "timeout)",
    )
    args = parser.parse_args(argv)
    try:
        server = LocalOpenAIServer(
            port=args.port,
            faults=dict(args.fault),
            log=lambda line: print(line, flush=True),
            fault_rate=args.fault_rate,
            fault_kinds=args.fault_kinds,
            seed=args.seed,
            timeout_delay=args.timeout_delay,
        )
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with server:
        print(f"serving {server.base_url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print(f"stopped: {server.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
