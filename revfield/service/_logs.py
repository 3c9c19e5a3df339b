"""Logs of ``revfield serve``: one JSON object per line, with nothing a reader should not see.

Every line — revfield's own (structlog) and uvicorn's (stdlib ``logging``, its access log
included) — goes through the same processors: the level, the logger, an ISO-8601 UTC
timestamp, the request's id (bound by the app for the request's duration, so uvicorn's access
line carries it too) and then :func:`redact`, which masks e-mail addresses, phone numbers and
tokens (``rvf_…``, ``sk-…``, ``Bearer …``) in every string of the event, however deeply
nested. Redaction runs last before rendering, so nothing added earlier escapes it.

Phone numbers are told apart from other digits by their shape: 9 to 15 digits written with a
leading ``+``, brackets, spaces or dashes (``+44 20 7946 0958``, ``(415) 555-0100``); a bare
run of digits (an id, an epoch) and a date are left alone.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["configure_logging", "redact", "redact_event", "redact_text"]

_TOKENS = (
    (re.compile(r"\brvf_[A-Za-z0-9_\-]+"), "rvf_[redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-[redacted]"),
    (re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE), "Bearer [redacted]"),
)
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s\-]?)?(?:\(\d{1,4}\)|\d{1,4})(?:[\s\-]?\d{2,4}){1,4}(?![\w:]|\.\d)"
)
_SEPARATED = re.compile(r"[\s\-()]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    if _DATE.match(found):
        return found
    if 9 <= digits <= 15 and (found.startswith("+") or _SEPARATED.search(found)):
        return "[phone]"
    return found


def redact_text(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and tokens masked."""
    for pattern, mask in _TOKENS:
        text = pattern.sub(mask, text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(_phone, text)


def redact(value: Any) -> Any:
    """``value`` with every string in it masked (:func:`redact_text`), through mappings,
    lists, tuples and sets; other values as they are."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(redact(v) for v in value)
    return value


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: every string value of the event, recursively, redacted."""
    for key, value in event_dict.items():
        if not key.startswith("_"):  # structlog's own (``_record``, ``_from_structlog``)
            event_dict[key] = redact(value)
    return event_dict


def _uvicorn_access(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Uvicorn's access line with its parts as fields (``method``, ``path``, ``status``)."""
    record = event_dict.get("_record")
    args = event_dict.pop("positional_args", None)  # already in the message
    is_access = record is not None and record.name == "uvicorn.access"
    if is_access and isinstance(args, tuple) and len(args) == 5:
        client, method, path, _version, status = args
        event_dict.update(client=client, method=method, path=path, status=status)
        event_dict["event"] = f"{method} {path} {status}"
    return event_dict


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler revfield installs on the root logger (found again to be replaced)."""


def configure_logging(level: str | int = "info", *, stream: IO[str] | None = None) -> None:
    """Send every log line (structlog's and the standard library's: uvicorn's) as redacted
    JSON to ``stream`` (standard error by default), at ``level`` and above. Calling it again
    replaces what an earlier call set up."""
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, _uvicorn_access, structlog.processors.format_exc_info],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_event,
            structlog.processors.JSONRenderer(default=str),
        ],
        pass_foreign_args=True,
    )
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []  # uvicorn's own (coloured text) handlers, if it installed them
        lg.propagate = True
    # /healthz reads the schema's revision through alembic, which says so at INFO each time
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
