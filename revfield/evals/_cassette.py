"""Cassettes: the OpenAI adapter's HTTP exchanges, recorded once and replayed offline.

Recording wraps the adapter's httpx client (:class:`CassetteRecorder`): every request and the
answer to it are kept, without credentials — only the ``content-type`` and retry headers of a
response are stored, never a request header, and secret-looking strings in the bodies become
``"[redacted]"``. Replaying (:func:`replaying`) mounts the cassette with respx so no request
can reach the network: a request is answered by the recorded answer to the same method, path
and JSON body (repeats in recorded order, then the last one again); any other request is a
:class:`CassetteMiss`, answered with HTTP 400 so the adapter fails at once with its
``ModelError``. Recorded 429s and 5xx are replayed with ``retry-after-ms`` set so the SDK
retries them exactly as it did, without waiting.

A cassette is one JSON file, pretty-printed with sorted keys inside the bodies, so a
re-recording diffs readably::

    {"version": 1, "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:8765/v1",
     "max_retries": 2,
     "interactions": [{"operation": "draft_message",
                       "request": {"method": "POST", "path": "/v1/chat/completions",
                                   "body": {...}},
                       "response": {"status": 200,
                                    "headers": {"content-type": "application/json"},
                                    "body": {...}}}]}
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from revfield.errors import RevfieldError
from revfield.evals._local_server import LocalOpenAIServer, Operation, operation_of
from revfield.llm import OpenAIModel

if TYPE_CHECKING:
    import respx

__all__ = [
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteRecorder",
    "Interaction",
    "LocalOpenAIServer",
    "Playback",
    "RecordedRequest",
    "RecordedResponse",
    "redact",
    "replay_model",
    "replaying",
]

KEPT_HEADERS = ("content-type", "retry-after", "retry-after-ms", "x-should-retry")
"""The only response headers a cassette stores; request headers are never stored."""

REDACTED = "[redacted]"

_SECRET = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{8,}"  # OpenAI-style keys (sk-…, sk-proj-…, sk-ant-…)
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]{8,}=*"
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
)
_SECRET_FIELDS = frozenset(
    {"api_key", "apikey", "api-key", "x-api-key", "authorization", "cookie", "password"}
)

NO_WAIT_MS = "1"
"""``retry-after-ms`` put on replayed 429/5xx answers. The SDK (openai 2.x,
``_base_client.py`` ``_calculate_retry_timeout``) honours it only when
``0 < retry_after <= 120`` s — ``0`` falls back to its exponential backoff (0.5 s, 1 s…) — so
the smallest whole millisecond: each replayed retry waits 1 ms instead of seconds."""

_MAX_HONOURED_WAIT = 120.0
"""The SDK doesn't retry at all when the server asks to wait longer (``MAX_RETRY_AFTER_DELAY``);
such answers are replayed as recorded, so it still doesn't."""


class CassetteError(RevfieldError):
    """A cassette can't be used: the file is missing, not JSON, or not a cassette. The
    message names the file and what is wrong in it."""


# -- the file ---------------------------------------------------------------------------------


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordedRequest(_Strict):
    """A request as recorded: method, URL path (``/v1/chat/completions``) and parsed JSON
    body (text when it wasn't JSON), secrets redacted."""

    method: str = Field(min_length=1)
    path: str = Field(pattern=r"^/")
    body: JsonValue = None

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("body")
    @classmethod
    def _stable(cls, value: JsonValue) -> JsonValue:
        return _sorted_keys(value)  # type: ignore[no-any-return]


class RecordedResponse(_Strict):
    """The answer as recorded: status, the content-type and retry headers only, and the
    parsed JSON body (text when it wasn't JSON)."""

    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: JsonValue = None

    @field_validator("headers")
    @classmethod
    def _lower(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.lower(): value[k] for k in sorted(value, key=str.lower)}

    @field_validator("body")
    @classmethod
    def _stable(cls, value: JsonValue) -> JsonValue:
        return _sorted_keys(value)  # type: ignore[no-any-return]


class Interaction(_Strict):
    """One request of the adapter and the answer it got, named by its operation."""

    operation: Operation
    request: RecordedRequest
    response: RecordedResponse


class Cassette(_Strict):
    """The recorded exchanges of one run against one endpoint, and how the adapter was
    configured (``model``, ``base_url`` without credentials, ``max_retries``) so a replay
    sends the very same requests."""

    version: Literal[1] = 1
    model: str = Field(min_length=1)
    base_url: str = Field(pattern=r"^https?://")
    max_retries: int = Field(ge=0)
    interactions: list[Interaction] = Field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette file; :class:`CassetteError` names the file and what is wrong."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CassetteError(f"{path}: no such cassette file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"{path}: cannot read the cassette: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CassetteError(
                f"{path}:{exc.lineno}:{exc.colno}: the cassette is not valid JSON: {exc.msg}\n"
                "help: fix the file or record it again"
            ) from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CassetteError(f"{path}: not a cassette: {_problems(exc)}") from None

    def save(self, path: str | Path) -> None:
        """Write the cassette as pretty-printed JSON (creating its folder)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")


def _problems(exc: ValidationError, limit: int = 5) -> str:
    lines = []
    for error in exc.errors()[:limit]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        lines.append(f"{where.lstrip('.') or 'the top level'}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(lines) + (f" (and {more} more)" if more > 0 else "")


# -- redaction --------------------------------------------------------------------------------


def redact(value: JsonValue) -> JsonValue:
    """``value`` with every secret-looking string (``sk-…``, ``Bearer …``, AWS/GitHub/Slack
    tokens) replaced by ``"[redacted]"``, and the values of fields named like credentials
    (``api_key``, ``authorization``, ``password``…) too."""
    if isinstance(value, str):
        return _SECRET.sub(REDACTED, value)
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        return {
            k: REDACTED if k.lower() in _SECRET_FIELDS and isinstance(v, str) else redact(v)
            for k, v in value.items()
        }
    return value


def _parsed(content: bytes) -> JsonValue:
    if not content:
        return None
    try:
        parsed: JsonValue = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return content.decode("utf-8", errors="replace")
    return parsed


def _public_url(url: str) -> str:
    """``url`` without user, password, query or fragment (nor a trailing slash)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


# -- recording --------------------------------------------------------------------------------


class CassetteRecorder(httpx.BaseTransport):
    """An httpx transport that sends through a real one (``httpx.HTTPTransport()`` unless
    given) and records every exchange. Hand :meth:`client` to ``OpenAIModel(http_client=…)``,
    run, then take :meth:`cassette`. Exchanges that fail below HTTP (a refused connection)
    raise as usual and are not recorded."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._inner = transport or httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.interactions: list[Interaction] = []
        """The exchanges recorded so far, in order."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the real transport and record it with its answer."""
        body = redact(_parsed(request.read()))
        response = self._inner.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        interaction = Interaction(
            operation=operation_of(body),
            request=RecordedRequest(method=request.method, path=request.url.path, body=body),
            response=RecordedResponse(
                status=response.status_code,
                headers={k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
                body=redact(_parsed(content)),
            ),
        )
        with self._lock:
            self.interactions.append(interaction)
        # `content` is decoded already: drop the headers that describe the wire encoding.
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions={
                k: v
                for k, v in response.extensions.items()
                if k in ("http_version", "reason_phrase")
            },
        )

    def close(self) -> None:
        """Close the real transport (the recorded exchanges stay)."""
        self._inner.close()

    def client(self, *, timeout: float = 30.0) -> httpx.Client:
        """An httpx client sending through this recorder, for ``OpenAIModel(http_client=…)``."""
        return httpx.Client(transport=self, timeout=timeout)

    def cassette(self, *, model: str, base_url: str, max_retries: int) -> Cassette:
        """The exchanges recorded so far as a cassette, with how the adapter was configured
        (``base_url`` is stored without credentials or query)."""
        with self._lock:
            interactions = list(self.interactions)
        return Cassette(
            model=model,
            base_url=_public_url(base_url),
            max_retries=max_retries,
            interactions=interactions,
        )


# -- replaying --------------------------------------------------------------------------------


def _diff_view(value: Any) -> Any:
    """``value`` opened up for a readable diff: a string holding a JSON object (a draft
    request) becomes that object, a string of several lines becomes the list of its lines."""
    if isinstance(value, dict):
        return {k: _diff_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_diff_view(v) for v in value]
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                return _diff_view(json.loads(value))
            except json.JSONDecodeError:
                pass
        if "\n" in value:
            return value.split("\n")
    return value


def _lines(body: JsonValue) -> list[str]:
    return json.dumps(_diff_view(body), indent=2, sort_keys=True, ensure_ascii=False).split("\n")


@dataclass(frozen=True)
class CassetteMiss:
    """A request the cassette has no answer for (it was answered with HTTP 400)."""

    operation: Operation
    method: str
    path: str
    body: JsonValue
    closest: RecordedRequest | None = None
    """The recorded request of the same operation most like it, if any."""

    def describe(self) -> str:
        """The operation and request, then a unified diff of the closest recorded request of
        the same operation against this one (``-`` recorded, ``+`` sent)."""
        head = f"{self.operation}: {self.method} {self.path} is not in the cassette"
        if self.closest is None:
            return f"{head}; no recorded request for this operation"
        diff = difflib.unified_diff(
            _lines(self.closest.body),
            _lines(self.body),
            fromfile=f"recorded {self.closest.method} {self.closest.path}",
            tofile=f"sent {self.method} {self.path}",
            lineterm="",
        )
        lines = list(diff)
        if not lines:
            lines = ["(same body as a recorded request; the method or path differs)"]
        return head + "; the closest recorded request differs:\n" + "\n".join(lines)


def _key(method: str, path: str, body: JsonValue) -> tuple[str, str, str]:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return method.upper(), path, canonical


def _wait(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / scale
        except (KeyError, ValueError):
            continue
    return None


def _replayed(response: RecordedResponse) -> httpx.Response:
    headers = dict(response.headers)
    retried = response.status in (408, 409, 429) or response.status >= 500
    recorded_wait = _wait(headers)
    if retried and (recorded_wait is None or recorded_wait <= _MAX_HONOURED_WAIT):
        headers["retry-after-ms"] = NO_WAIT_MS
    body = response.body
    if body is None:
        content = b""
    elif isinstance(body, str) and "json" not in headers.get("content-type", ""):
        content = body.encode()
    else:
        content = json.dumps(body, ensure_ascii=False).encode()
    return httpx.Response(response.status, headers=headers, content=content)


class Playback:
    """What a replay saw: ``calls`` requests, ``hits`` answered from the cassette, and the
    ``misses`` (in order)."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self.calls = 0
        self.hits = 0
        self.misses: list[CassetteMiss] = []
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str, str], list[RecordedResponse]] = {}
        self._served: dict[tuple[str, str, str], int] = {}
        for interaction in cassette.interactions:
            req = interaction.request
            key = _key(req.method, req.path, req.body)
            self._answers.setdefault(key, []).append(interaction.response)

    def answer(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer to ``request``, or HTTP 400 and a :class:`CassetteMiss`."""
        body = redact(_parsed(request.read()))
        key = _key(request.method, request.url.path, body)
        with self._lock:
            self.calls += 1
            answers = self._answers.get(key)
            if answers:
                served = self._served.get(key, 0)
                self._served[key] = served + 1
                self.hits += 1
                return _replayed(answers[min(served, len(answers) - 1)])
            miss = CassetteMiss(
                operation=operation_of(body),
                method=request.method,
                path=request.url.path,
                body=body,
                closest=self._closest(operation_of(body), body),
            )
            self.misses.append(miss)
        message = (
            f"not in the cassette: {miss.operation} {miss.method} {miss.path} "
            "(see the playback's misses for the difference)"
        )
        return httpx.Response(
            400,
            json={"error": {"message": message, "type": "cassette_miss", "param": None}},
        )

    def _closest(self, operation: Operation, body: JsonValue) -> RecordedRequest | None:
        sent = _lines(body)
        best: tuple[float, RecordedRequest] | None = None
        for interaction in self.cassette.interactions:
            if interaction.operation != operation:
                continue
            ratio = difflib.SequenceMatcher(
                None, _lines(interaction.request.body), sent, autojunk=False
            ).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, interaction.request)
        return None if best is None else best[1]


@contextmanager
def replaying(cassette: Cassette) -> Iterator[Playback]:
    """Within the block, HTTP to the cassette's host is answered from the cassette and any
    other HTTP through httpx raises respx's ``AllMockedAssertionError``: nothing reaches
    the network. Use :func:`replay_model` for the adapter."""
    try:
        import respx
    except ImportError:  # pragma: no cover - respx ships with the dev extra
        raise CassetteError(
            "replaying a cassette needs respx\nhelp: pip install 'revfield[dev]'"
        ) from None
    playback = Playback(cassette)
    router: respx.MockRouter = respx.mock(assert_all_called=False, assert_all_mocked=True)
    url = httpx.URL(cassette.base_url)
    port = url.port or {"http": 80, "https": 443}[url.scheme]
    router.route(scheme=url.scheme, host=url.host, port=port).mock(side_effect=playback.answer)
    with router:
        yield playback


def replay_model(cassette: Cassette) -> OpenAIModel:
    """The adapter configured as it was recorded (model, base URL, retries) with a dummy key;
    use it inside :func:`replaying`, and close it."""
    return OpenAIModel(
        api_key="sk-replay",
        model=cassette.model,
        base_url=cassette.base_url,
        max_retries=cassette.max_retries,
    )
