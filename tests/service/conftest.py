"""A small field behind the HTTP API: team A (sellers ana and al, manager mia), team B
(seller bo, manager max), RevOps rex — each with a token — and two prospects, acme.io (ana's)
and beta.io (bo's). ``api`` drives the app through FastAPI's TestClient; ``serving`` runs an
app under uvicorn on 127.0.0.1 for clients that need a real server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from revfield.clock import ManualClock
from revfield.domain import FactType
from revfield.llm import OfflineModel
from revfield.memory import Store, issue_token
from revfield.outbox import LogExecutor
from revfield.policies import CompiledPack, PackWatcher
from revfield.service import create_app
from tests.agents import world
from tests.factories import T0

PEOPLE = ("ana", "al", "mia", "bo", "max", "rex")


@dataclass
class Api:
    """The app under test, its memory and clock, and each person's token."""

    client: TestClient
    store: Store
    clock: ManualClock
    tokens: dict[str, str]
    outbox: Path
    make_app: Callable[[], FastAPI]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, path: str, user: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def post(self, path: str, user: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def submit(self, pct: float, account: str = "acme.io", **extra: Any) -> dict[str, Any]:
        """A discount submitted by RevOps: up to 15% the owner reviews it, above the manager."""
        body = {
            "kind": "offer_discount",
            "discount_pct": pct,
            "subject": f"{pct}% for {account}",
            "account": account,
            **extra,
        }
        response = self.post("/actions", "rex", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def item(self, user: str, review_id: int) -> dict[str, Any]:
        """The item as ``user``'s inbox shows it."""
        items = self.get("/inbox", user).json()["items"]
        (found,) = [i for i in items if i["review_id"] == review_id]
        return dict(found)

    def executed(self) -> list[str]:
        """The lines the log executor wrote."""
        return self.outbox.read_text().splitlines() if self.outbox.exists() else []


def tokens_for(store: Store) -> dict[str, str]:
    with store.session() as session:
        return {u: issue_token(session, u, now=T0) for u in PEOPLE}


@pytest.fixture
def field_world(store: Store) -> Store:
    """The people, and the two prospects with a contact each (acme.io has an objection)."""
    world.people(store)
    world.account(store, "acme.io", owner="ana")
    world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.OBJECTION, "Too expensive for a team our size")
    world.account(store, "beta.io", owner="bo")
    world.contact(store, "beta.io")
    return store


@pytest.fixture
def api(field_world: Store, clock: ManualClock, tmp_path: Path) -> Iterator[Api]:
    store = field_world
    tokens = tokens_for(store)
    outbox = tmp_path / "outbox.jsonl"

    def make_app(pack: CompiledPack | PackWatcher = world.PACK) -> FastAPI:
        return create_app(
            store=store,
            pack=pack,
            model=OfflineModel(),
            clock=clock,
            executor=LogExecutor(path=outbox),
        )

    with TestClient(make_app()) as client:
        yield Api(client, store, clock, tokens, outbox, make_app)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free port of 127.0.0.1, in a thread; its base URL. The
    socket listens before the server starts, so a client may connect at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"
