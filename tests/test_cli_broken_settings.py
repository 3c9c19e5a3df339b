"""Every command against each broken setting, as a user meets it: the `revfield` entry point
in this process (``sys.argv`` patched), its exit code and what it prints. A setting that
can't work is one ``error:`` line saying what is wrong, a ``help:`` line saying what to do,
and never a traceback; only ``init`` and ``demo`` create a database file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from revfield.cli import app, main
from tests.conftest import PG_URL
from tests.factories import signal, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "policies"
ACTION = json.dumps({"kind": "send_email", "motion": "acquisition", "account_id": "acme.com"})


def _commands(group: Any, prefix: str = "") -> list[str]:
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (Typer may carry its own copy of Click)
            out += _commands(command, f"{prefix}{name} ")
        else:
            out.append(f"{prefix}{name}")
    return out


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]

ARGS: dict[str, list[str]] = {
    "demo": ["--days", "1"],
    "init": [],
    "ingest": ["SIGNALS"],
    "import-crm": ["maven", "EXPORT"],
    "run": [],
    "inbox": [],
    "approve": ["1"],
    "reject": ["1", "--reason", "not now"],
    "dead-letters": [],
    "governance": [],
    "account show": ["acme.com"],
    "account list": [],
    "policy check": [],
    "policy test": [],
    "policy explain": [ACTION],
    "policy diff": ["PACK", "PACK"],
    "policy backtest": ["PACK", "PACK"],
    "eval": ["--only", "smb-intent-surge-automated-outreach"],
    "risk list": [],
    "risk resolve": ["1", "--reason", "renewed"],
    "submit": [json.dumps({"kind": "create_task", "subject": "Call back", "account": "acme.com"})],
    "serve": ["--port", "0"],
    "user add": ["Ana Lima", "--role", "seller"],
    "user list": [],
    "user revoke": ["ana-lima"],
    "audit": [],
    "worker": ["--once"],
    "check": [],
}
"""Each command's minimal arguments: enough to reach the setting under test (SIGNALS: a signal
file, EXPORT: a folder, PACK: the pack of the settings)."""

WITHOUT_DATABASE = {"policy check", "policy test", "eval"}
"""``eval`` runs each scenario in a database of its own."""
WITH_PACK = {
    "demo",
    "run",
    "approve",
    "reject",
    "submit",
    "governance",
    "policy check",
    "policy test",
    "policy explain",
    "policy diff",
    "policy backtest",
    "eval",
    "worker",
    "check",
}
"""The commands that read the policy pack of the settings (``policy diff`` and ``backtest``:
the packs given)."""


def test_every_command_has_its_minimal_arguments_here():
    missing = [c for c in COMMANDS if c not in ARGS]
    assert missing == [], "give each new command its minimal arguments in ARGS above"


Make = Callable[[Path, Path], tuple[list[str], dict[str, str]]]
"""In a new folder, with a migrated SQLite memory to copy: the global options and the
environment that make a setting."""


@dataclass(frozen=True)
class Broken:
    """A setting that can't work, what the error says, and the commands it breaks."""

    name: str
    says: str
    make: Make
    commands: Callable[[str], bool] = lambda c: c not in WITHOUT_DATABASE
    says_for: dict[str, str] = field(default_factory=dict)
    """What the error says for a command that meets the setting differently."""


def _copy(tmp: Path, template: Path) -> Path:
    path = tmp / "revfield.db"
    shutil.copy(template, path)
    return path


def _db(url: str | Callable[[Path, Path], str]) -> Make:
    """The database is ``url``; the policy pack is fine."""

    def make(tmp: Path, template: Path) -> tuple[list[str], dict[str, str]]:
        return ["--db", url(tmp, template) if callable(url) else url], {
            "REVFIELD_POLICIES": str(PACK)
        }

    return make


def _file(content: bytes) -> Callable[[Path, Path], str]:
    def url(tmp: Path, template: Path) -> str:
        (tmp / "data").write_bytes(content)
        return f"sqlite:///{tmp / 'data'}"

    return url


def _newer(tmp: Path, template: Path) -> str:
    path = _copy(tmp, template)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    return f"sqlite:///{path}"


def _settings(env: dict[str, str], toml: str | None = None) -> Make:
    """A database that works, and these settings."""

    def make(tmp: Path, template: Path) -> tuple[list[str], dict[str, str]]:
        if toml is not None:
            (tmp / "revfield.toml").write_text(toml)
        return ["--db", f"sqlite:///{_copy(tmp, template)}"], env

    return make


NOT_SQLITE = "keeps its memory in an embedded SQLite file"
NOT_DEMO = "is not a revfield demo database"

BROKEN = [
    Broken("not a URL", "`not-a-url` is not a database URL", _db("not-a-url")),
    Broken("another database", "SQLite or PostgreSQL, not `mysql`", _db("mysql://u@h/db")),
    Broken(
        "a driver that isn't installed",
        "the database driver `pg8000`",
        _db("postgresql+pg8000://u@127.0.0.1/revfield"),
    ),
    Broken(
        "an asyncio driver",
        "`asyncpg` (in `postgresql+asyncpg://u@127.0.0.1/revfield`) is an asyncio driver",
        _db("postgresql+asyncpg://u@127.0.0.1/revfield"),
    ),
    Broken(
        "a server that refuses",
        "cannot open the database postgresql+psycopg://revfield@127.0.0.1:1/revfield",
        _db("postgresql+psycopg://revfield@127.0.0.1:1/revfield"),
        says_for={"demo": "cannot open the database `revfield` on 127.0.0.1:1"},
    ),
    Broken(
        "a folder that doesn't exist",
        "the folder",
        _db(lambda tmp, _: f"sqlite:///{tmp / 'no-such-folder' / 'r.db'}"),
    ),
    Broken(
        "a text file",
        "file is not a database",
        _db(_file(b"name,email\nPat,pat@acme.com\n")),
        says_for={"demo": NOT_DEMO},
    ),
    Broken(
        "a PNG",
        "file is not a database",
        _db(_file(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)),
        says_for={"demo": NOT_DEMO},
    ),
    Broken(
        "a read-only database",
        "attempt to write a readonly database",
        _db(lambda tmp, template: f"sqlite:///file:{_copy(tmp, template)}?mode=ro&uri=true"),
        commands=lambda c: c in {"ingest", "demo"},
        says_for={"demo": NOT_SQLITE},
    ),
    Broken(
        "an uninitialised database",
        "has no revfield schema",
        _db(lambda tmp, _: f"sqlite:///{tmp / 'new.db'}"),
        commands=lambda c: c not in WITHOUT_DATABASE | {"init", "demo"},  # they create it
    ),
    Broken(
        "a database a newer revfield wrote",
        "which this version of revfield does not know",
        _db(_newer),
        says_for={"demo": NOT_DEMO},
    ),
    Broken(
        "a policy pack that isn't there",
        "REVFIELD_POLICIES",
        _settings({"REVFIELD_POLICIES": "/no/such/pack"}),
        commands=lambda c: c in WITH_PACK,
        says_for={
            "policy diff": "is `/no/such/pack` the path you meant?",
            "policy backtest": "is `/no/such/pack` the path you meant?",
        },
    ),
    Broken(
        "outside the checkout (no ./policies)",
        "REVFIELD_POLICIES",
        _settings({}),
        # the demo and the evals use the pack revfield ships with
        commands=lambda c: c in WITH_PACK - {"demo", "eval"},
        says_for={
            "policy diff": "is `policies` the path you meant?",
            "policy backtest": "is `policies` the path you meant?",
        },
    ),
    Broken(
        "a setting that isn't valid",
        "REVFIELD_INGEST_BATCH_SIZE",
        _settings({"REVFIELD_INGEST_BATCH_SIZE": "many", "REVFIELD_POLICIES": str(PACK)}),
        commands=lambda c: True,
    ),
    Broken(
        "a misspelt key in revfield.toml",
        "revfield.toml has a line `databse_url = …`, and there is no such setting",
        _settings({"REVFIELD_POLICIES": str(PACK)}, toml='databse_url = "sqlite:///x.db"\n'),
        commands=lambda c: True,
    ),
    Broken(
        "a revfield.toml that isn't TOML",
        "configuration:",
        _settings({"REVFIELD_POLICIES": str(PACK)}, toml="database_url = sqlite:///x.db\n"),
        commands=lambda c: True,
    ),
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new working folder with no revfield settings in the environment."""
    for name in list(os.environ):
        if name.startswith(("REVFIELD_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def revfield(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """``revfield ARGV`` through the console script's entry point: (exit code, out, err)."""
    monkeypatch.setattr(sys, "argv", ["revfield", *argv])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def _inputs(tmp: Path) -> dict[str, str]:
    export = tmp / "export"
    export.mkdir(exist_ok=True)
    return {
        "SIGNALS": str(write_jsonl(tmp / "signals.jsonl", [signal(1)])),
        "EXPORT": str(export),
        "PACK": os.environ.get("REVFIELD_POLICIES", "policies"),
    }


def _files(folder: Path) -> list[str]:
    """The files in ``folder``, but for SQLite's -wal and -shm files beside a database."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_every_command_against_a_broken_setting_is_one_clear_error(
    broken: Broken, folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    options, env = broken.make(folder, sqlite_template)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    inputs = _inputs(folder)
    before = _files(folder)
    problems = []
    for command in [c for c in COMMANDS if broken.commands(c)]:
        args = [inputs.get(a, a) for a in ARGS[command]]
        code, out, err = revfield([*options, *command.split(), *args], capsys, monkeypatch)
        says = broken.says_for.get(command, broken.says)
        lines = err.splitlines()
        if (
            code == 0
            or not lines
            or not lines[0].startswith("error: ")
            or not any(line.strip().startswith("help: ") for line in lines[1:])
            or says not in " ".join(err.split())
            or "Traceback" in out + err
        ):
            problems.append(f"revfield {command} (exit {code}):\n{out}{err}")
    assert problems == [], f"{broken.name}:\n\n" + "\n".join(problems)
    assert _files(folder) == before, "a refused command left a file behind"


def test_only_init_creates_the_database_that_the_others_refused(folder: Path, capsys, monkeypatch):
    url = f"sqlite:///{folder / 'new.db'}"
    code, out, err = revfield(["--db", url, "account", "list"], capsys, monkeypatch)
    assert code == 1 and "help: run `revfield init` to create it" in " ".join(err.split())
    assert not list(folder.iterdir())
    code, out, err = revfield(["--db", url, "init"], capsys, monkeypatch)
    assert code == 0 and "schema none →" in out and (folder / "new.db").is_file()
    code, out, err = revfield(["--db", url, "account", "list"], capsys, monkeypatch)
    assert code == 0, err


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A PostgreSQL database with no revfield schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("REVFIELD_TEST_DATABASE_URL is not set (CI sets it)")
    import sqlalchemy as sa

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"revfield_empty_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
def test_every_command_on_an_uninitialised_postgresql_database_says_to_run_init(
    empty_postgres: str, folder: Path, capsys, monkeypatch
):
    monkeypatch.setenv("REVFIELD_POLICIES", str(PACK))
    inputs = _inputs(folder)
    problems = []
    for command in [c for c in COMMANDS if c not in WITHOUT_DATABASE | {"init", "demo"}]:
        args = [inputs.get(a, a) for a in ARGS[command]]
        code, out, err = revfield(
            ["--db", empty_postgres, *command.split(), *args], capsys, monkeypatch
        )
        if code != 1 or "has no revfield schema" not in err or "revfield init" not in err:
            problems.append(f"revfield {command} (exit {code}):\n{out}{err}")
    assert problems == []


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    import revfield.cli._memory as commands

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(commands, "list_accounts", broken)
    url = f"sqlite:///{_copy(folder, sqlite_template)}"
    code, out, err = revfield(["--db", url, "account", "list"], capsys, monkeypatch)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "error: internal error: ZeroDivisionError: division by zero",
        "  help: run again as `revfield --debug …` to see the traceback, and report it",
    ]
    code, _out, err = revfield(["--debug", "--db", url, "account", "list"], capsys, monkeypatch)
    assert code == 1
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert err.rstrip().endswith("ZeroDivisionError: division by zero")


def test_ctrl_c_keeps_what_was_committed_and_exits_130(
    folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    import revfield.cli._memory as commands

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "ingest_file", interrupted)
    url = f"sqlite:///{_copy(folder, sqlite_template)}"
    signals = _inputs(folder)["SIGNALS"]
    code, _out, err = revfield(["--db", url, "ingest", signals], capsys, monkeypatch)
    assert code == 130
    assert "interrupted: every committed batch is kept" in err and "Traceback" not in err


def test_a_file_that_cannot_be_read_names_the_file(
    folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    """As an export revfield may not read: a permission error from deep inside a command."""
    import revfield.cli._memory as commands

    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(folder / "export" / "accounts.csv"))

    monkeypatch.setattr(commands, "run_import", unreadable)
    url = f"sqlite:///{_copy(folder, sqlite_template)}"
    code, _out, err = revfield(
        ["--db", url, "import-crm", "maven", str(folder / "export")], capsys, monkeypatch
    )
    assert code == 1 and "Traceback" not in err
    assert err.splitlines() == [
        f"error: {folder / 'export' / 'accounts.csv'}: Permission denied",
        "  help: check that the path is right and that revfield may read and write there",
    ]


def test_an_export_that_is_not_text_is_one_clear_error(
    folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    export = folder / "export"
    export.mkdir()
    for name in ("accounts.csv", "products.csv", "sales_teams.csv", "sales_pipeline.csv"):
        (export / name).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    url = f"sqlite:///{_copy(folder, sqlite_template)}"
    code, out, err = revfield(
        ["--db", url, "import-crm", "maven", str(export)], capsys, monkeypatch
    )
    assert code == 1 and "Traceback" not in out + err
    assert err.startswith("error: ") and str(export) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: every folder is writable")
def test_a_read_only_folder_is_one_clear_error(
    folder: Path, sqlite_template: Path, capsys, monkeypatch
):
    locked = folder / "locked"
    locked.mkdir()
    existing = _copy(locked, sqlite_template)
    locked.chmod(0o555)
    signals = _inputs(folder)["SIGNALS"]
    try:
        for argv in (
            ["--db", f"sqlite:///{locked / 'new.db'}", "init"],
            ["--db", f"sqlite:///{existing}", "ingest", signals],
        ):
            code, out, err = revfield(argv, capsys, monkeypatch)
            assert code == 1 and err.startswith("error: ") and "Traceback" not in out + err
            assert "help: " in err and "write" in err
    finally:
        locked.chmod(0o755)
