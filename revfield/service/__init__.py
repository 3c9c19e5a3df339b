"""The service a team runs: ``revfield serve``'s HTTP API over one field.

:func:`create_app` builds the FastAPI app (OpenAPI at ``/openapi.json``): signals in
(``POST /signals``), the caller's inbox and their answers (``GET /inbox``, ``POST
/reviews/{id}/approve|reject|edit``), actions proposed from outside (``POST /actions``), an
account's memory and its action chains (``GET /accounts/{id}``), governance, ``/healthz``,
``/metrics`` (Prometheus), and the Agent Protocol subset LangGraph clients use
(``/threads/…``), so Agent Inbox or the LangGraph SDK can answer review items::

    import uvicorn
    from revfield.service import create_app

    app = create_app(store=store, pack=watcher, model=model, clock=clock, executor=executor)
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

import typing

from revfield._lazy import lazy_names as _lazy_names
from revfield.service._logs import configure_logging, redact, redact_event

if typing.TYPE_CHECKING:
    from revfield.service._app import create_app

__all__ = ["configure_logging", "create_app", "redact", "redact_event"]

_LAZY = {"create_app": "revfield.service._app"}
"""Imported the first time it is used (PEP 562): the app is FastAPI's, which a worker that only
wants :func:`configure_logging` does not need."""


if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
