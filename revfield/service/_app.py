"""The FastAPI app: the factory, the request id, the error bodies, the metrics of each
request, and the field's lifespan.

Every answer carries an ``X-Request-ID`` (the client's, when it sent a usable one); every
error is one JSON :class:`~revfield.service._errors.ErrorBody` naming what is wrong and where
— never a traceback (an error revfield did not expect is logged with its traceback and
answered as ``internal error`` with the request id to report).
"""

from __future__ import annotations

import re
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revfield.clock import Clock
from revfield.field import Field, open_checkpointer
from revfield.llm import Model
from revfield.memory import Store, StoreError
from revfield.outbox import Executor
from revfield.policies import CompiledPack, PackWatcher
from revfield.service import _accounts, _health, _reviews, _signals, _threads
from revfield.service._errors import ApiError, ErrorBody, Problem
from revfield.service._metrics import CountingModel, Metrics
from revfield.service._state import Service
from revfield.service._web import router as web_router

__all__ = ["create_app"]

log = structlog.get_logger("revfield.service")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

DESCRIPTION = """\
The revenue field as a service: signals in, the inbox of review items out, answers back.

Authenticate with a revfield token (`revfield user add` prints one) as `Authorization: Bearer
<token>` or `x-api-key: <token>`. A seller sees and answers their own accounts' items, a
manager their team's, RevOps everything; anything else answers 404, as if it did not exist.
The `/threads` endpoints are the Agent Protocol subset LangGraph clients use (the LangGraph
SDK, Agent Inbox). Errors are JSON: `error`, `message`, `request_id`, `problems`.
"""


def create_app(
    *,
    store: Store,
    pack: CompiledPack | PackWatcher | Callable[[], CompiledPack],
    model: Model,
    clock: Clock,
    executor: Executor | None,
    lease: timedelta = timedelta(minutes=5),
    ingest_batch_size: int = 5000,
    title: str = "revfield",
) -> FastAPI:
    """The HTTP API over one field: ``store`` (migrated), the policy pack (a
    :class:`~revfield.policies.PackWatcher` reloads it and ``/healthz`` reports a refused
    reload), the model, the clock, and the executor that carries out what answers release
    (None: the outbox waits for ``revfield run``). The field's checkpointer is open for the
    app's lifespan: run it under uvicorn, or ``with TestClient(app)``."""
    watcher = pack if isinstance(pack, PackWatcher) else None
    source: Callable[[], CompiledPack]
    if isinstance(pack, PackWatcher):
        source = pack.current
    elif isinstance(pack, CompiledPack):
        fixed = pack
        source = lambda: fixed  # noqa: E731
    else:
        source = pack
    metrics = Metrics()
    svc = Service(
        store=store,
        clock=clock,
        metrics=metrics,
        pack=source,
        watcher=watcher,
        ingest_batch_size=ingest_batch_size,
    )
    metrics.watch_memory(store, clock, source, watcher)
    counted = CountingModel(model, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_checkpointer(store) as saver:
            svc.field = Field(store, source, counted, clock, saver, executor=executor, lease=lease)
            try:
                yield
            finally:
                if svc.field is not None:
                    svc.field.close()
                svc.field = None

    app = FastAPI(
        title=title,
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        responses={401: {"model": ErrorBody, "description": "No valid token."}},
    )
    app.state.service = svc
    for module in (_signals, _reviews, _accounts, _threads, _health):
        app.include_router(module.router)
    app.include_router(web_router)  # the web inbox: HTML pages, cookie sessions
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(_RequestContext, metrics=metrics)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("revfield")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0"


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "-")


def _body(
    request: Request, status: int, code: str, message: str, problems: list[Problem] | None = None
) -> JSONResponse:
    body = ErrorBody(
        error=code, message=message, request_id=_request_id(request), problems=problems or []
    )
    return JSONResponse(body.model_dump(), status_code=status)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = _body(request, exc.status, exc.code, exc.message, exc.problems)
    response.headers.update(exc.headers)
    return response


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for e in exc.errors():
        where, message = _where(e.get("loc", ())), str(e.get("msg", "invalid"))
        inside = (e.get("ctx") or {}).get("where") if e.get("type") == "unstorable_text" else None
        if inside:  # somewhere inside the body: name the place
            where, message = f"{where}.{inside}", str(e["ctx"]["why"])
        problems.append(Problem(where=where, message=message))
    first = problems[0] if problems else Problem(where="request", message="invalid")
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    message = f"`{first.where}`: {first.message}" + (more if len(problems) > 1 else "")
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return _body(request, 400, "bad_request", f"the body is not JSON: {message}", problems)
    return _body(request, 422, "invalid_request", message, problems)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no endpoint {request.method} {request.url.path}; see /openapi.json"
    elif exc.status_code == 405:
        message = f"{request.url.path} does not take {request.method}; see /openapi.json"
    else:
        message = str(exc.detail)
    response = _body(request, exc.status_code, _HTTP_CODES.get(exc.status_code, "error"), message)
    response.headers.update(exc.headers or {})
    return response


class _RequestContext:
    """Each request's id (``X-Request-ID``: the client's if usable, else a new one), bound to
    the log context; its latency and status in the metrics, by route template; and the last
    line of defence: an error nothing handled becomes a JSON 500 (or 503 when the database is
    unreachable), logged with its traceback, never shown."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        sent = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
                sent = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if sent:
                raise
            status = 503 if _is_database_failure(exc) else 500
            log.error(  # the traceback as text: a renderer showing frames' locals could log a token
                "request failed",
                method=scope.get("method"),
                path=scope.get("path"),
                error=f"{type(exc).__name__}: {exc}",
                traceback="".join(traceback.format_exception(exc)),
            )
            message = (
                "the database is not reachable; try again when it is back (see /healthz)"
                if status == 503
                else f"internal error; report it with the request id {request_id}"
            )
            body = ErrorBody(
                error="unavailable" if status == 503 else "internal_error",
                message=message,
                request_id=request_id,
            )
            await JSONResponse(body.model_dump(), status_code=status)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, template, str(status)).inc()
            structlog.contextvars.unbind_contextvars("request_id")


def _is_database_failure(exc: BaseException) -> bool:
    return StoreError.from_exception(exc, "") is not None
