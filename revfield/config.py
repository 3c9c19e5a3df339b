"""Configuration: environment variables, then an optional ``revfield.toml``, then defaults.

Environment wins over the file. Every setting has a ``REVFIELD_`` variable except the two
that belong to the OpenAI SDK (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), which keep their usual
names so an existing shell set-up just works.

The sources are read here (a plain pydantic model validates what they give), not through
``pydantic-settings``, whose import alone costs a command more than its whole query: names
match case-insensitively, an unknown ``REVFIELD_*`` variable is ignored, and an unknown key
in the file is an error that names it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

__all__ = ["Settings", "load_settings"]

DEFAULT_CONFIG_FILE = "revfield.toml"


ENV_PREFIX = "REVFIELD_"
CONFIG_ENV = "REVFIELD_CONFIG"
"""The variable naming the settings file (default :data:`DEFAULT_CONFIG_FILE`)."""


class Settings(BaseModel):
    """Everything revfield reads from its environment. ``Settings(**values)`` reads the
    sources: ``values`` win over the environment, which wins over the settings file, which
    wins over the defaults."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
        protected_namespaces=(),
    )

    database_url: str = "sqlite:///revfield.db"
    """SQLAlchemy URL. PostgreSQL: ``postgresql+psycopg://user@host:5432/db``."""

    policies: Path = Path("policies")
    """Folder (or file) of the RevOps policy pack."""

    llm: Literal["offline", "openai"] | None = None
    """Model backend; unset means ``openai`` when an API key is present, else ``offline``."""

    model: str = "gpt-4o-mini"
    """Model name sent to the OpenAI-compatible endpoint."""

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("openai_api_key", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("openai_base_url", "OPENAI_BASE_URL")
    )

    model_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for one model answer."""
    model_max_retries: int = Field(default=2, ge=0, le=10)
    """Retries the OpenAI SDK makes on 429, 5xx and timeouts before giving up."""

    ingest_batch_size: int = Field(default=5000, ge=1, le=100_000)
    """Rows per ingest transaction: a batch is committed whole or not at all."""

    executor: str = "log"
    """What carries out automated and approved actions: ``log``, ``webhook``, or any executor
    another package registers in the ``revfield.executors`` entry-point group."""
    outbox_log: Path | None = None
    """The ``log`` executor's file: one JSON line per executed action. Unset: next to the
    SQLite database, named after it (``revfield.db`` → ``revfield-outbox.jsonl``); with
    PostgreSQL, in the user's data folder (``~/.local/share/revfield``)."""
    notify_executor: Literal["log", "webhook"] = "log"
    """How people hear that an overdue item climbed to their rung: ``log`` (one JSON line per
    notification beside the database, ``revfield.db`` → ``revfield-notifications.jsonl``) or
    ``webhook`` (POSTed, signed, to ``webhook_url``)."""
    webhook_url: str | None = None
    """Where the ``webhook`` executor POSTs each action."""
    webhook_secret: SecretStr | None = None
    """The HMAC-SHA256 key for ``X-Revfield-Signature``."""
    webhook_retries: int = Field(default=3, ge=0, le=10)
    """Retries on timeouts, 429 and 5xx (exponential backoff from 0.5 s)."""
    secret_key: SecretStr | None = None
    """Signs the web inbox's session cookies (``revfield serve``). Unset: a random secret for
    each server process, so everyone signs in again after a restart (and replicas behind one
    address need the same key)."""
    outbox_lease_seconds: int = Field(default=300, ge=1)
    """How long an outbox item claimed by a worker stays claimed; after that (the worker
    died mid-delivery) it is delivered again, with the same idempotency key."""

    @property
    def llm_backend(self) -> Literal["offline", "openai"]:
        if self.llm is not None:
            return self.llm
        return "openai" if self.openai_api_key else "offline"

    if not TYPE_CHECKING:  # mypy keeps the typed signature pydantic's plugin gives the fields

        def __init__(self, **values: Any) -> None:
            super().__init__(**_gather(values))


_ALIASES: dict[str, tuple[str, ...]] = {
    "openai_api_key": ("OPENAI_API_KEY",),
    "openai_base_url": ("OPENAI_BASE_URL",),
}
"""The settings the OpenAI SDK's own variables give (before their ``REVFIELD_`` one)."""


def _canonical(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each key that names a setting (its name or alias, in any case) under
    the setting's name; any other key is kept as given, so validation names it."""
    names = {name.lower(): name for name in Settings.model_fields}
    names.update({a.lower(): name for name, aliases in _ALIASES.items() for a in aliases})
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = names.get(key.lower(), key)
        out.setdefault(name, value)
    return out


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the environment gives: ``REVFIELD_<NAME>`` (and first the OpenAI SDK's
    two variables), matched case-insensitively; other variables are not settings."""
    lowered = {key.lower(): value for key, value in environ.items()}
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        for alias in (*_ALIASES.get(name, ()), ENV_PREFIX + name):
            if alias.lower() in lowered:
                out[name] = lowered[alias.lower()]
                break
    return out


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings file's table (empty when there is no such file). Raises ``OSError`` for
    a file that can't be read and ``ValueError`` (``tomllib.TOMLDecodeError``) for one that
    isn't TOML."""
    path = Path(environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE)).expanduser()
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        return tomllib.load(file)


def _gather(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of every source, the higher ones over the lower: ``values``, then the
    environment, then the settings file."""
    environ = os.environ
    return {
        **_canonical(_config_file(environ)),
        **_environment(environ),
        **_canonical(values),
    }


def load_settings(**overrides: object) -> Settings:
    """Read the settings now; keyword overrides (from CLI flags) win over everything."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
