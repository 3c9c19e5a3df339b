"""Executors: what actually does an action once the outbox hands it over.

An executor receives one :class:`Delivery` (the action, its trace and its idempotency key)
and either returns a small result or raises :class:`DeliveryError`. The outbox may hand the
same delivery over again after a crash, always with the same key: an executor must make a
repeat harmless (the ``log`` executor skips keys it has written; a webhook receiver is told
the key in ``Idempotency-Key`` and must do the same).

Executors are found through the ``revfield.executors`` entry-point group, so a package can
ship its own (a CRM writer, an email sender) without touching revfield::

    [project.entry-points."revfield.executors"]
    salesforce = "my_package.executors:SalesforceExecutor"

A class there is called with the :class:`~revfield.config.Settings`.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import httpx

from revfield.config import Settings
from revfield.errors import RevfieldError

__all__ = [
    "Delivery",
    "DeliveryError",
    "Executor",
    "JsonlOnce",
    "LogExecutor",
    "WebhookExecutor",
    "available_executors",
    "load_executor",
    "sign",
]

GROUP = "revfield.executors"
SIGNATURE_HEADER = "X-Revfield-Signature"


@dataclass(frozen=True)
class Delivery:
    """One action to carry out, as the outbox hands it over."""

    idempotency_key: str
    action_id: int
    kind: str
    account_id: str
    target: str
    action: dict[str, Any]
    """The proposed action as approved (with any reviewer edits)."""
    trace: dict[str, Any]
    """Why it happens: signals, facts, field event, decision, rules, policy version, review."""

    def body(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "action_id": self.action_id,
            "kind": self.kind,
            "account_id": self.account_id,
            "target": self.target,
            "action": self.action,
            "trace": self.trace,
        }


class DeliveryError(RevfieldError):
    """The executor could not carry the action out. ``retry`` says whether trying again later
    may help (a timeout, a 5xx) or not (a 4xx: the receiver refused the action)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry
        """True: the outbox delivers the item again later (same key), up to its attempts;
        False: the action is marked ``failed`` at once and what waited for it is cancelled."""


@runtime_checkable
class Executor(Protocol):
    """What carries out the actions the outbox releases (``log``, ``webhook``, or one of
    your own from the ``revfield.executors`` entry points). ``execute`` returns a small result
    stored with the outbox item, or raises :class:`DeliveryError`; it may see the same
    delivery again after a crash, always with the same idempotency key, and must make the
    repeat harmless."""

    name: str
    """As in ``REVFIELD_EXECUTOR``; recorded with every outbox item."""

    def execute(self, delivery: Delivery) -> dict[str, Any]: ...

    def close(self) -> None: ...


class JsonlOnce:
    """A JSON-lines file that holds each idempotency key once: what the ``log`` executor and
    the ``log`` notifier write to. Several processes (workers) may append to it: each append
    holds the file's lock, and reads what the others appended since, first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._read = 0
        """Bytes of the file already read into ``_seen``."""

    def _catch_up(self, f: IO[str]) -> None:
        f.seek(self._read)
        for line in f.read().splitlines():
            try:
                self._seen.add(json.loads(line)["idempotency_key"])
            except (ValueError, KeyError, TypeError):
                continue
        self._read = f.tell()

    def append(self, key: str, body: dict[str, Any]) -> bool:
        """Write ``body`` (which carries ``idempotency_key``) unless ``key`` is in the file
        already; returns whether it was written."""
        if key in self._seen:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                self._catch_up(f)
                if key in self._seen:
                    return False
                f.write(json.dumps(body, sort_keys=True, default=str) + "\n")
                f.flush()
                self._read = f.tell()
                self._seen.add(key)
                return True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


class LogExecutor:
    """Appends each action as one JSON line to a file: the demo's and a dry run's executor.
    A key already in the file is not written again."""

    name = "log"

    def __init__(self, settings: Settings | None = None, *, path: Path | None = None) -> None:
        found = path or (settings.outbox_log if settings else None)
        if found is None:
            raise ValueError(
                "the log executor needs a file: set REVFIELD_OUTBOX_LOG (or `outbox_log` in "
                "revfield.toml)"
            )
        self.path = found
        self._file = JsonlOnce(found)

    def execute(self, delivery: Delivery) -> dict[str, Any]:
        written = self._file.append(delivery.idempotency_key, delivery.body())
        return {"written": written, "path": str(self.path)} | (
            {} if written else {"duplicate": True}
        )

    def close(self) -> None:
        return None


def sign(secret: str, body: bytes) -> str:
    """The value of ``X-Revfield-Signature`` for ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _wait(seconds: float) -> None:
    time.sleep(seconds)  # noqa: TID251 — a real backoff between webhook attempts


class WebhookExecutor:
    """POSTs each action as JSON to a URL, signed with HMAC-SHA256 over the exact body
    (``X-Revfield-Signature: sha256=…``) and carrying ``Idempotency-Key``. Timeouts, 429
    and 5xx are retried with exponential backoff; any other 4xx is a refusal, not retried."""

    name = "webhook"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        url: str | None = None,
        secret: str | None = None,
        retries: int | None = None,
        timeout: float = 10.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = _wait,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or (settings.webhook_url if settings else None)
        if not url:
            raise ValueError(
                "the webhook executor needs REVFIELD_WEBHOOK_URL "
                "(or `webhook_url` in revfield.toml)"
            )
        self.url = url
        key = (
            secret
            if secret is not None
            else (
                settings.webhook_secret.get_secret_value()
                if settings and settings.webhook_secret
                else ""
            )
        )
        if not key:
            raise ValueError(
                "the webhook executor needs REVFIELD_WEBHOOK_SECRET to sign what it sends"
            )
        self.secret = key
        self.retries = (
            retries if retries is not None else (settings.webhook_retries if settings else 3)
        )
        self.backoff = backoff
        self.sleep = sleep
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def execute(self, delivery: Delivery) -> dict[str, Any]:
        body = json.dumps(
            delivery.body(), sort_keys=True, separators=(",", ":"), default=str
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            SIGNATURE_HEADER: sign(self.secret, body),
            "User-Agent": "revfield-outbox",
        }
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return {"status": response.status_code, "attempts": attempt + 1}
            last = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code != 429 and response.status_code < 500:
                raise DeliveryError(f"{self.url} refused the action: {last}", retry=False)
        raise DeliveryError(f"{self.url} failed after {self.retries + 1} attempts: {last}")

    def close(self) -> None:
        self.client.close()


def available_executors() -> dict[str, str]:
    """Executor names and where they come from (the ``revfield.executors`` entry points)."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return {
        "log": "revfield.outbox:LogExecutor",
        "webhook": "revfield.outbox:WebhookExecutor",
        **found,
    }


def load_executor(name: str, settings: Settings) -> Executor:
    """The executor called ``name``, built from the settings. Raises ``ValueError`` naming
    the executors there are when ``name`` is not one of them."""
    builtin: dict[str, Callable[[Settings], Executor]] = {
        "log": LogExecutor,
        "webhook": WebhookExecutor,
    }
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()(settings)  # type: ignore[no-any-return]
    if name in builtin:
        return builtin[name](settings)
    raise ValueError(f"no executor `{name}`; there are: {', '.join(sorted(available_executors()))}")
