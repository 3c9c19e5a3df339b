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

from revfield.service._app import create_app
from revfield.service._logs import configure_logging, redact, redact_event

__all__ = ["configure_logging", "create_app", "redact", "redact_event"]
