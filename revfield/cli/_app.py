"""The Typer application, its global options and the shared state every command uses."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from revfield.clock import Clock, SystemClock
from revfield.config import Settings, load_settings
from revfield.errors import RevfieldError
from revfield.memory import Store, StoreError

__all__ = ["State", "app", "console", "fail", "state", "stderr"]

console = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="revfield",
    help="Run a B2B go-to-market as one revenue field.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@dataclass
class State:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    _store: Store | None = None

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def store(self, *, check: bool = True) -> Store:
        """The configured database; with ``check``, refuse one whose schema isn't current."""
        if self._store is None:
            try:
                self._store = Store.from_url(self.settings.database_url)
            except StoreError as exc:
                fail(str(exc))
        if check:
            try:
                self._store.check_current()
            except StoreError as exc:
                fail(str(exc))
        return self._store


_state: State | None = None


def state() -> State:
    global _state
    if _state is None:
        _state = State(_load())
    return _state


def _load(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"configuration: `{where}`: {first['msg']} (from the environment or revfield.toml)")
    except (OSError, ValueError) as exc:
        fail(f"configuration: {exc}")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: …`` (first line) and any help lines to stderr, then exit."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def guarded() -> Iterator[None]:
    """Turn the errors a user can fix into one clear message instead of a traceback."""
    try:
        yield
    except StoreError as exc:
        fail(str(exc))


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (overrides REVFIELD_DATABASE_URL).", metavar="URL"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Settings file (default ./revfield.toml).", metavar="FILE"),
    ] = None,
) -> None:
    global _state
    if config is not None:
        if not config.is_file():
            fail(f"{config}: no such settings file")
        import os

        os.environ["REVFIELD_CONFIG"] = str(config)
    _state = State(_load(database_url=db))
    ctx.call_on_close(_state.close)


def run() -> None:
    """Run the command line; an error revfield raises on purpose ends it with its message (and
    help line), never a traceback."""
    try:
        app()
    except RevfieldError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        stderr.print("interrupted: every committed batch is kept; run the command again to finish")
        sys.exit(130)
