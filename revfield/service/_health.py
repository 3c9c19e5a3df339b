"""``GET /healthz`` (is the service usable: database, schema, the pack in force) and
``GET /metrics`` (Prometheus). Neither needs a token: load balancers and Prometheus call
them, and neither says anything about an account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from revfield.service._errors import error_responses
from revfield.service._metrics import CONTENT_TYPE
from revfield.service._state import Service, service

__all__ = ["Health", "router"]

router = APIRouter(tags=["service"])
log = structlog.get_logger("revfield.service")

ServiceDep = Annotated[Service, Depends(service)]


class DatabaseHealth(BaseModel):
    """Whether the memory's database answers, and at which schema."""

    reachable: bool
    schema_revision: str | None = Field(description="The schema the database is at.")
    expected_revision: str | None = Field(description="The schema this revfield expects.")
    error: str | None = Field(description="Why it is not usable, if it is not.")


class PackHealth(BaseModel):
    """The policy pack in force, and whether the last reload of its files was refused (the
    last good pack stays in force; the server's log has the problems)."""

    version: str
    reload_failed: bool
    reload_error: str | None


class Health(BaseModel):
    """``ok``: usable. ``degraded``: usable, but the pack's last reload was refused.
    ``unavailable`` (HTTP 503): the database can't be used."""

    status: Literal["ok", "degraded", "unavailable"]
    time: datetime
    database: DatabaseHealth
    pack: PackHealth


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(svc: ServiceDep, response: Response) -> Health:
    """Whether the service can work: the database answers at the expected schema, and which
    policy pack is in force."""
    try:
        current, head = svc.store.current_revision(), svc.store.head_revision()
        db = DatabaseHealth(
            reachable=True,
            schema_revision=current,
            expected_revision=head,
            error=None
            if current == head
            else f"the database is at schema {current}, this revfield expects {head}; "
            "run `revfield init`",
        )
    except Exception as exc:
        log.warning("healthz: the database is not reachable", error=type(exc).__name__)
        db = DatabaseHealth(
            reachable=False,
            schema_revision=None,
            expected_revision=None,
            error=f"the database is not reachable ({type(exc).__name__})",
        )
    version = svc.pack().version  # first: the watcher reloads the pack if its files changed
    watcher = svc.watcher
    failed = watcher.last_error if watcher is not None else None
    pack = PackHealth(
        version=version,
        reload_failed=failed is not None,
        reload_error=str(failed).splitlines()[0] if failed is not None else None,
    )
    status: Literal["ok", "degraded", "unavailable"] = "ok"
    if db.error is not None:
        status = "unavailable"
        response.status_code = 503
    elif pack.reload_failed:
        status = "degraded"
    return Health(status=status, time=svc.clock.now(), database=db, pack=pack)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format."},
        **error_responses(503),
    },
)
def metrics(svc: ServiceDep) -> Response:
    """Counters, gauges and latency histograms in Prometheus' text format (see the README's
    metrics table)."""
    return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE)
