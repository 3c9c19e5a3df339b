"""``POST /signals``: a batch of signal records, stored as ``revfield ingest`` stores a file.

The body is a JSON array of records in the signal schema (the README's "Signal schema").
Each good row is stored once, however often it is sent (``(source, external_id)``); each bad
row is reported by its index in the array, with the field to blame and why, and
dead-lettered under ``POST /signals [<request id>]`` (``revfield dead-letters --file <request
id>`` finds them), while the good rows around it are stored. A batch over
:data:`MAX_ROWS` rows or :data:`MAX_BYTES` bytes is refused whole (413).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from revfield.ingest import IngestReport, SignalRecord, ingest_signals
from revfield.memory import recent_dead_letters, write_dead_letters
from revfield.service._auth import CurrentActor
from revfield.service._errors import ApiError, error_responses
from revfield.service._state import Service, service

__all__ = ["MAX_BYTES", "MAX_ROWS", "SignalProblem", "SignalsReport", "router"]

MAX_ROWS = 5000
"""Rows per request; send more as several requests."""
MAX_BYTES = 8 * 1024 * 1024
"""Bytes per request body (8 MiB)."""

router = APIRouter(tags=["signals"])


class SignalProblem(BaseModel):
    """A row that was not stored: its index in the batch (0-based), the field to blame (or
    null when the row as a whole is), and why. The row is in the dead letters."""

    index: int
    field: str | None
    reason: str


class SignalDuplicate(BaseModel):
    """A row already stored (the same ``(source, external_id)`` and content): its index and
    the stored signal."""

    index: int
    signal_id: int


class SignalsReport(BaseModel):
    """What became of each row of a batch."""

    request_id: str
    received: int = Field(description="Rows in the batch.")
    accepted: int = Field(description="Rows stored now.")
    duplicates: int = Field(description="Rows stored before (sent again): nothing added.")
    dead_lettered: int = Field(description="Rows refused, each listed in `problems`.")
    unattributed: int = Field(description="Accepted rows naming no account (free-mail senders).")
    accounts_created: int
    contacts_created: int
    problems: list[SignalProblem] = Field(description="Every refused row, by index.")
    duplicate_of: list[SignalDuplicate] = Field(
        description="The first duplicates (up to 20) with the signal each repeats."
    )
    dead_letter_source: str = Field(
        description="Where the refused rows are kept: `revfield dead-letters --file …`."
    )


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its ``$defs`` written in place (for the OpenAPI document)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A JSON array of up to {MAX_ROWS:,} signal records ({MAX_BYTES:,} bytes).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": MAX_ROWS,
                    "items": _inline(SignalRecord.model_json_schema()),
                }
            }
        },
    }
}


class _Twice(dict[str, Any]):
    """A JSON object that named a key twice (the first value is kept)."""

    twice: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    twice = ""
    for key, value in pairs:
        if key in out:
            twice = twice or key
            continue
        out[key] = value
    if not twice:
        return out
    marked = _Twice(out)
    marked.twice = twice
    return marked


def _repeated_key(row: object) -> str | None:
    """The first key an object of the row names twice, as a dotted path, if any."""
    todo: list[tuple[str, object]] = [("", row)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, _Twice):
            return f"{path}{node.twice}"
        if isinstance(node, dict):
            todo.extend((f"{path}{k}.", v) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((f"{path}{i}.", v) for i, v in enumerate(node))
    return None


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past :data:`MAX_BYTES` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise ApiError(413, "too_large", _too_large(f"{int(declared):,} bytes"))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise ApiError(413, "too_large", _too_large(f"more than {MAX_BYTES:,} bytes"))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str) -> str:
    return (
        f"the batch is {what}; POST /signals takes at most {MAX_BYTES:,} bytes and "
        f"{MAX_ROWS:,} rows per request: split it into smaller batches"
    )


def _rows(raw: bytes) -> list[Any]:
    try:
        data = json.loads(raw, object_pairs_hook=_pairs)
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "bad_request", f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "bad_request",
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; send a "
            "JSON array of signal records",
        ) from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the body nests too deeply to be read") from None
    if not isinstance(data, list):
        kind = "null" if data is None else type(data).__name__
        raise ApiError(
            422,
            "invalid_request",
            f"the body is a JSON {kind}; send a JSON array of signal records, "
            '[{"source": …, "external_id": …, "kind": …, "occurred_at": …, …}]',
        )
    if len(data) > MAX_ROWS:
        raise ApiError(413, "too_large", _too_large(f"{len(data):,} rows"))
    return data


def _ingest(svc: Service, rows: list[Any], source: str) -> tuple[IngestReport, list[SignalProblem]]:
    """Store the good rows and dead-letter the bad ones; every refused row, by index."""
    twice: list[SignalProblem] = []
    good: list[Any] = []
    lines: list[int] = []
    for index, row in enumerate(rows):
        key = _repeated_key(row)
        if key is None:
            good.append(row)
            lines.append(index + 1)
            continue
        where = "in the row" if "." not in key else "in its object"
        twice.append(
            SignalProblem(
                index=index,
                field=key,
                reason=f"`{key}` is given twice {where}; JSON keys must be unique "
                "(which value is meant?)",
            )
        )
    if twice:
        with svc.store.session() as session:
            write_dead_letters(
                session,
                source,
                [
                    (p.index + 1, p.field, p.reason, json.dumps(rows[p.index], default=str))
                    for p in twice
                ],
                now=svc.clock.now(),
            )
    report = ingest_signals(
        good,
        store=svc.store,
        clock=svc.clock,
        batch_size=svc.ingest_batch_size,
        source=source,
        lines=lines,
    )
    problems = [
        SignalProblem(index=n.line - 1, field=n.field, reason=n.reason) for n in report.problems
    ]
    if report.dead_lettered > len(report.problems):  # the report keeps the first few
        with svc.store.read() as session:
            stored = recent_dead_letters(
                session, file=source, limit=report.dead_lettered + len(twice) + 100
            )
        problems = [
            SignalProblem(index=d.line - 1, field=d.field, reason=d.reason)
            for d in stored
            if d.source_file == source and d.line in set(lines)
        ]
    return report, sorted([*twice, *problems], key=lambda p: p.index)


@router.post(
    "/signals",
    summary="Ingest a batch of signals",
    response_model=SignalsReport,
    openapi_extra=_BODY,
    responses=error_responses(400, 401, 413, 422),
)
async def post_signals(
    request: Request, actor: CurrentActor, svc: Annotated[Service, Depends(service)]
) -> SignalsReport:
    """Store a batch of signal records (any valid token: signals come from integrations).
    Idempotent by ``(source, external_id)``; bad rows are reported by index and
    dead-lettered, the good ones stored."""
    rows = _rows(await _body(request))
    request_id = str(request.state.request_id)
    source = f"POST /signals [{request_id}]"
    report, problems = await run_in_threadpool(_ingest, svc, rows, source)
    m = svc.metrics.signals
    m.labels("accepted").inc(report.accepted)
    m.labels("duplicate").inc(report.duplicates)
    m.labels("dead_lettered").inc(len(problems))
    return SignalsReport(
        request_id=request_id,
        received=len(rows),
        accepted=report.accepted,
        duplicates=report.duplicates,
        dead_lettered=len(problems),
        unattributed=report.unattributed,
        accounts_created=report.accounts_created,
        contacts_created=report.contacts_created,
        problems=problems,
        duplicate_of=[
            SignalDuplicate(index=line - 1, signal_id=sid) for line, sid in report.duplicate_lines
        ],
        dead_letter_source=source,
    )
