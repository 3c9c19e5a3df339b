"""Configuration: environment variables, then an optional ``revfield.toml``, then defaults.

Environment wins over the file. Every setting has a ``REVFIELD_`` variable except the two
that belong to the OpenAI SDK (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), which keep their usual
names so an existing shell set-up just works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "load_settings"]

DEFAULT_CONFIG_FILE = "revfield.toml"


class Settings(BaseSettings):
    """Everything revfield reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="REVFIELD_",
        extra="forbid",
        toml_file=DEFAULT_CONFIG_FILE,
        populate_by_name=True,
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("REVFIELD_CONFIG", DEFAULT_CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)),
        )


def load_settings(**overrides: object) -> Settings:
    """Read the settings now; keyword overrides (from CLI flags) win over everything."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
