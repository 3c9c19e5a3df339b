"""The Typer application, its global options, the shared state every command uses, and the one
handler that turns any error into a message a user can act on (``--debug``: the traceback)."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
import traceback
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from revfield.clock import Clock, SystemClock
from revfield.errors import RevfieldError

if TYPE_CHECKING:  # the settings and the memory load when a command reads them, not to parse
    from revfield.config import Settings
    from revfield.memory import Session, Store

__all__ = [
    "State",
    "account_filter",
    "app",
    "bounded",
    "collecting",
    "console",
    "fail",
    "pack_help",
    "state",
    "stderr",
]

# Markup is off: what the CLI prints quotes accounts, signal text, file names and policy
# files, and a `[/b]` in any of them must print as written. Styled output says so itself
# (``markup=True`` with the data escaped, or a styled ``Text``).
console = Console(highlight=False, markup=False)
stderr = Console(stderr=True, highlight=False, markup=False)

DEBUG_HELP = "  help: run again as `revfield --debug …` to see the traceback, and report it"


class _Handled(TyperGroup):
    """The root command: every error a command raises ends here, as one ``error:`` line (and
    a ``help:`` line when there is something to do), never a traceback — unless ``--debug``."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            stderr.print(
                "interrupted: every committed batch is kept; run the command again to finish"
            )
            raise typer.Exit(130) from None
        except Exception as exc:
            if is_control(exc):
                raise
            report(exc, debug=bool(ctx.params.get("debug")))
            raise typer.Exit(1) from None


def is_control(exc: BaseException) -> bool:
    """A command's own ending (``typer.Exit``) or a usage error Click reports itself. (Typer
    may carry its own copy of Click, so the classes are told by where they come from.)"""
    return type(exc).__module__.split(".")[0] in ("click", "typer")


app = typer.Typer(
    name="revfield",
    cls=_Handled,
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
    database_url: str = ""
    """The database the command opened (the demo's own file, else the setting): what a
    database failure names."""
    debug: bool = False
    """``--debug``: an error shows its traceback."""
    _store: Store | None = None

    def __post_init__(self) -> None:
        self.database_url = self.database_url or self.settings.database_url

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def store(self, *, check: bool = True) -> Store:
        """The configured database; with ``check``, refuse one whose schema isn't current
        (a SQLite file that isn't there is refused without being created)."""
        if self._store is None:
            from revfield.memory import Store

            self._store = Store.from_url(self.settings.database_url)
        if check:
            self._store.check_current()
        return self._store


_state: State | None = None


def state() -> State:
    global _state
    if _state is None:
        _state = State(_load())
    return _state


def report(exc: BaseException, *, debug: bool = False) -> None:
    """Print ``exc`` for the user: one ``error:`` line and its help, or with ``debug`` the
    traceback."""
    if debug:
        traceback.print_exception(exc)
    else:
        stderr.print(f"[bold red]error:[/] {escape(_describe(exc))}", markup=True, soft_wrap=True)


def _describe(exc: BaseException) -> str:
    """The message (and help line) for an error that reached the top of a command."""
    if isinstance(exc, RevfieldError):
        return str(exc)
    url = _state.database_url if _state is not None else ""
    if url:  # a command ran: the failure may be its database's
        from revfield.memory import StoreError

        failure = StoreError.from_exception(exc, url)
        if failure is not None:
            return str(failure)
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); revfield reads "
            "UTF-8 CSV, JSON Lines and YAML\n  help: is it the file you meant? "
            "`revfield --debug …` shows which file it was"
        )
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return (
            f"{where}{exc.strerror}\n"
            "  help: check that the path is right and that revfield may read and write there"
        )
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"internal error: {what}\n{DEBUG_HELP}"


def _load(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from revfield.config import load_settings

    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            fail(
                f"configuration: {_config_file()} has a line `{where} = …`, and there is no "
                f"such setting\n  help: correct or remove it; the settings are listed in the "
                "README's Configuration table"
            )
        env = "OPENAI_API_KEY" if where == "openai_api_key" else f"REVFIELD_{where.upper()}"
        env = "OPENAI_BASE_URL" if where == "openai_base_url" else env
        fail(
            f"configuration: `{where}`: {first['msg']} (from {env} or {_config_file()})\n"
            f"  help: fix or unset {env}, or the `{where}` line of {_config_file()}"
        )
    except (OSError, ValueError) as exc:
        where = "" if isinstance(exc, OSError) else f"{_config_file()}: "
        fail(
            f"configuration: {where}{exc}\n  help: fix {_config_file()} (TOML: `key = value` "
            "lines), or name another file with --config"
        )


def _config_file() -> str:
    return os.environ.get("REVFIELD_CONFIG", "revfield.toml")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: …`` (first line) and any help lines to stderr, then exit. ``message`` is
    plain text: it often quotes the user's input, so any ``[…]`` in it is printed as written."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def account_filter(session: Session, account: str | None) -> str | None:
    """The id of the account an ``--account`` option names (its id, name or domain), None
    without one; an unknown account is one clear error."""
    if account is None:
        return None
    from revfield.memory import AccountNotFoundError, find_account_id

    try:
        return find_account_id(session, account)
    except AccountNotFoundError as exc:
        fail(str(exc))


def pack_help(path: Path, option: str | None = None) -> str:
    """The help line for a policy pack that isn't where the settings say (empty if it is):
    set ``REVFIELD_POLICIES``, or pass the command's ``option``; and where the pack shipped
    with revfield is, in a source checkout."""
    if path.exists():
        return ""
    shipped = Path(__file__).resolve().parents[2] / "policies"
    there = f" (the pack shipped with revfield is {shipped})" if shipped.is_dir() else ""
    alternative = f", or pass {option}" if option else ""
    return f"\n  help: set REVFIELD_POLICIES to the pack's folder{alternative}{there}"


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
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show its traceback instead of one line.")
    ] = False,
) -> None:
    global _state
    _state = None
    if config is not None:
        if not config.is_file():
            fail(
                f"{config}: no such settings file\n  help: pass the path of a revfield.toml, "
                "or leave --config out to read ./revfield.toml"
            )
        os.environ["REVFIELD_CONFIG"] = str(config)
    _state = State(_load(database_url=db), debug=debug)
    ctx.call_on_close(_state.close)


def _quick_exit() -> None:
    """At the process's exit (an ``atexit`` handler), move every object to the collector's
    permanent generation (:func:`gc.freeze`), so that tearing the interpreter down does not
    walk them again: with SQLAlchemy, pydantic and Typer loaded, that walk cost each command
    ~0.2 s, more than its own work.

    What is skipped is the finalizers of reference cycles still uncollected at exit, and no
    command relies on one: each closes what it opens (the database, the checkpointer, the
    executors; files are written inside ``with`` blocks) before it returns. ``atexit`` handlers
    still run (logging still flushes), and objects freed by reference counting are still
    freed. Registered once per process, however often :func:`run` is called."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


@cache
def _command() -> Any:
    """The Click command Typer builds from ``app`` (once: building it reads every command's
    signature, which costs more than most commands' own work); each command collects garbage
    from when it starts (:func:`_collecting_from_start`)."""
    command = typer.main.get_command(app)
    _collecting_from_start(command)
    return command


_BOUNDED: set[Any] = set()
"""The callbacks of commands marked :func:`bounded`."""
_OWN_PROCESS = False
"""The command line runs in a process of its own (:func:`run` with ``own_process``)."""


def bounded(command: Any) -> Any:
    """Mark a command whose work is bounded (a page, one account, one answer): it runs
    without the cyclic garbage collector, as the start of every command does (see
    :func:`run`). Its cycles, if any, go with the process."""
    _BOUNDED.add(command)
    return command


def collecting() -> None:
    """Turn the cyclic garbage collector on from here: a :func:`bounded` command calls this
    before work that may grow (``approve`` before it resumes the run and delivers). In a
    process of its own, what exists by then is frozen first (:func:`gc.freeze`): it lives as
    long as the process, and the collector's first pass would otherwise walk all of it."""
    if _OWN_PROCESS:
        gc.freeze()
    gc.enable()


def _collecting_from_start(command: Any) -> None:
    """Wrap every leaf command's callback so the collector is on (:func:`collecting`) when
    it starts, unless the command is :func:`bounded`."""
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for sub in subcommands.values():
            _collecting_from_start(sub)
        return
    callback = command.callback
    if callback is None or getattr(callback, "__wrapped__", callback) in _BOUNDED:
        return  # (Typer's wrapper of the command's function names the function)

    @functools.wraps(callback)
    def started(*args: Any, **kwargs: Any) -> Any:
        collecting()
        return callback(*args, **kwargs)

    command.callback = started


def run(*, own_process: bool = False, collected: bool | None = None) -> None:
    """Run the command line: any error ends it with one message (and help line), never a
    traceback unless ``--debug`` asks for it.

    The cyclic garbage collector is off while the command starts: importing SQLAlchemy,
    pydantic and Typer, building the commands, parsing the options and opening the database
    allocate some 200,000 objects that live as long as the process, and the collector, left
    on, walked them about 150 times: 45–65 ms of a short command's half second. A command turns
    it on when it begins (:func:`collecting`), so whatever it does, however long it runs, is
    collected as usual; a :func:`bounded` one keeps it off. ``own_process`` (the console
    script, ``python -m revfield.cli``): the process ends with the command, so what it holds
    is frozen rather than walked once more on the way out. ``collected``: whether the
    collector was on before the caller turned it off to import the commands (default: whether
    it is on now); it is on again when this returns."""
    global _OWN_PROCESS
    _OWN_PROCESS = own_process
    _quick_exit()
    enabled = gc.isenabled() if collected is None else collected
    gc.disable()
    try:
        _command()(prog_name="revfield")
    except KeyboardInterrupt:  # outside a command (while starting up)
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # raised outside a command, e.g. while parsing its options
        report(exc, debug="--debug" in sys.argv[1:])
        sys.exit(1)
    finally:
        if own_process:
            gc.freeze()
        if enabled or own_process:
            gc.enable()
