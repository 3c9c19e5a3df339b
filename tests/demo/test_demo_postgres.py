"""`revfield demo --db postgresql+psycopg://…`: the same replay on PostgreSQL, into a database
it creates or an empty one it is told to use; a database an earlier demo made is reset, and any
other is refused and left exactly as it was."""

from __future__ import annotations

import json
import os
import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
import sqlalchemy as sa

from revfield.demo.book import generate_book
from revfield.demo.database import DEMO_MARK, DEMO_TABLES, Refusal, judge
from revfield.memory import DatabaseContents, FoundTable, Store
from tests.test_demo import _revfield

T = TypeVar("T")
PG_URL = os.environ.get("REVFIELD_TEST_DATABASE_URL")


def needs_postgres(test: T) -> T:
    """Run ``test`` only when REVFIELD_TEST_DATABASE_URL names a PostgreSQL server."""
    skip = pytest.mark.skipif(
        not PG_URL, reason="REVFIELD_TEST_DATABASE_URL is not set (CI sets it)"
    )
    return pytest.mark.postgres(skip(test))


@pytest.fixture
def small_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new folder with no settings, and the demo's book cut to seven accounts."""
    import revfield.cli._demo as demo_command

    for name in list(os.environ):
        if name.startswith(("REVFIELD_", "OPENAI_", "PG")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        demo_command, "generate_book", lambda seed: generate_book(seed, prospects=4, customers=3)
    )
    return tmp_path


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def new_database() -> Iterator[str]:
    """The URL of a database that does not exist yet; dropped afterwards if it was made."""
    assert PG_URL
    name = f"revfield_test_demo_{uuid.uuid4().hex[:10]}"
    yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _exists(url: str) -> bool:
    assert PG_URL
    with psycopg.connect(_libpq(PG_URL)) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (sa.make_url(url).database,)
        ).fetchone()
    return row is not None


def _tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table in the database's public schema, with its rows."""
    with psycopg.connect(_libpq(url)) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}


def _figure(out: str, label: str) -> int:
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)", out, re.MULTILINE)
    assert match, f"no line `{label}` in the summary:\n{out}"
    return int(match.group(1).replace(",", ""))


def _printed_url(out: str) -> str:
    """The database URL of the `revfield --db URL inbox` line the demo ends with."""
    match = re.search(r"^\s*revfield --db (\S+) inbox$", out, re.MULTILINE)
    assert match, f"the demo printed no `revfield --db … inbox`:\n{out}"
    return match.group(1)


@needs_postgres
def test_the_demo_creates_its_database_and_the_commands_it_prints_use_it(
    small_demo, new_database, capsys, monkeypatch
):
    code, out, err = _revfield(["demo", "--days", "2", "--db", new_database], capsys, monkeypatch)
    assert code == 0, err
    assert _exists(new_database)
    name = sa.make_url(new_database).database
    assert f"the memory is in the PostgreSQL database {name}" in out
    assert _figure(out, "accounts") == len(generate_book(7, prospects=4, customers=3).accounts)
    waiting = _figure(out, "waiting in the inbox")
    assert _figure(out, "actions proposed by the agents") > 0 and waiting > 0
    tables = _tables(new_database)
    assert tables["revfield_made_by"] == [(DEMO_MARK,)]
    assert set(tables) <= DEMO_TABLES and {"accounts", "checkpoints"} <= set(tables)

    url = _printed_url(out)
    exports = dict(re.findall(r"^\s*export (\w+)=(\S+)$", out, re.MULTILINE))
    for key, value in exports.items():
        monkeypatch.setenv(key, value)
    code, listed, err = _revfield(["--db", url, "inbox", "--json"], capsys, monkeypatch)
    assert code == 0, err
    items = json.loads(listed)
    assert len(items) == waiting
    code, approved, err = _revfield(
        ["--db", url, "approve", str(items[0]["review_id"])], capsys, monkeypatch
    )
    assert code == 0 and "approved" in approved, err


@needs_postgres
def test_running_the_demo_again_resets_the_database_it_made(
    small_demo, new_database, capsys, monkeypatch
):
    """The second run starts from nothing, as on SQLite: the same figures, not twice the
    rows; an approval given in between is gone with the rest of the first run."""
    argv = ["demo", "--days", "2", "--db", new_database]
    code, first, err = _revfield(argv, capsys, monkeypatch)
    assert code == 0, err
    reviews = _reviews(new_database)
    monkeypatch.setenv("REVFIELD_POLICIES", str(Path(__file__).resolve().parents[2] / "policies"))
    code, _out, err = _revfield(["--db", new_database, "approve", "1"], capsys, monkeypatch)
    assert code == 0, err
    assert _reviews(new_database) != reviews
    monkeypatch.delenv("REVFIELD_POLICIES")

    code, second, err = _revfield(argv, capsys, monkeypatch)
    assert code == 0, err
    for label in ("field events", "actions proposed by the agents", "waiting in the inbox"):
        assert _figure(second, label) == _figure(first, label), label
    assert _reviews(new_database) == reviews
    assert _tables(new_database)["revfield_made_by"] == [(DEMO_MARK,)]


def _reviews(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_libpq(url)) as conn:
        return conn.execute("SELECT id, action_id, status FROM reviews ORDER BY id").fetchall()


@needs_postgres
def test_the_demo_refuses_a_database_holding_other_data_and_leaves_it_untouched(
    small_demo, new_database, capsys, monkeypatch
):
    assert PG_URL
    name = sa.make_url(new_database).database
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(_libpq(new_database)) as mine:  # a user's own data
        mine.execute("CREATE TABLE invoices (id int primary key, amount numeric)")
        mine.execute("INSERT INTO invoices VALUES (1, 120.5), (2, 99)")
        mine.execute("CREATE TABLE notes (id int)")
    before = _tables(new_database)

    code, _out, err = _revfield(["demo", "--days", "1", "--db", new_database], capsys, monkeypatch)
    assert code == 1
    assert err.splitlines()[0] == (
        f"error: the database `{name}` on {sa.make_url(PG_URL).host}:"
        f"{sa.make_url(PG_URL).port or 5432} holds table invoices (has rows), table notes "
        "(empty); the demo uses only a new or empty database, or one an earlier demo made, "
        "and left this one alone"
    )
    assert "help: name a new database, e.g. --db " in err and "revfield_demo" in err
    assert _tables(new_database) == before  # no revfield table, no mark, rows intact
    assert before["invoices"] and len(before) == 2


@needs_postgres
def test_the_demo_refuses_a_revfield_memory_it_did_not_make_even_one_without_rows(
    small_demo, new_database, capsys, monkeypatch
):
    """`revfield init` on a team's new database, not yet used: not the demo's to fill."""
    assert PG_URL
    name = sa.make_url(new_database).database
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    store = Store.from_url(new_database)
    store.migrate()
    store.dispose()
    before = _tables(new_database)

    code, _out, err = _revfield(["demo", "--days", "1", "--db", new_database], capsys, monkeypatch)
    assert code == 1
    assert "tables, no rows yet), not marked as made by `revfield demo`" in err
    assert _tables(new_database) == before


@needs_postgres
def test_a_user_who_may_not_create_databases_is_told_so_and_nothing_is_made(
    small_demo, new_database, capsys, monkeypatch
):
    assert PG_URL
    role = f"revfield_test_nocreate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        url = sa.make_url(new_database).set(username=role, password=None)
        code, _out, err = _revfield(
            ["demo", "--days", "1", "--db", url.render_as_string(hide_password=False)],
            capsys,
            monkeypatch,
        )
    finally:
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{role}"')
    assert code == 1
    assert (
        f"the database `{url.database}` does not exist on {url.host}:{url.port or 5432}, and "
        f"user `{role}` may not create it: permission denied to create database" in err
    )
    assert "help: create it (`createdb" in err
    assert not _exists(new_database)


@needs_postgres
@pytest.mark.parametrize("name", ["postgres", "template1"])
def test_the_demo_never_writes_into_the_servers_own_databases(
    name, small_demo, capsys, monkeypatch
):
    assert PG_URL
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    code, _out, err = _revfield(["demo", "--days", "1", "--db", url], capsys, monkeypatch)
    assert code == 1 and f"the database `{name}`" in err and "is one of the server's own" in err


def test_path_and_db_together_are_one_clear_error(small_demo, capsys, monkeypatch):
    code, _out, err = _revfield(
        ["demo", "--path", "d.db", "--db", "postgresql+psycopg://u@127.0.0.1:1/x"],
        capsys,
        monkeypatch,
    )
    assert code == 1 and list(small_demo.iterdir()) == []
    assert err.startswith("error: --path and --db both name the demo's database; pass one")


def test_the_demo_option_takes_a_sqlite_url_too(small_demo, capsys, monkeypatch):
    code, out, err = _revfield(
        ["demo", "--days", "1", "--db", f"sqlite:///{small_demo / 'd.db'}"], capsys, monkeypatch
    )
    assert code == 0, err
    assert (small_demo / "d.db").is_file() and not (small_demo / "revfield.db").exists()
    assert f"revfield --db sqlite:///{small_demo / 'd.db'} inbox" in out


def _table(name: str, rows: bool | None = False, kind: str = "table") -> FoundTable:
    return FoundTable(name=name, kind=kind, has_rows=rows)


DEMO_DB = tuple(_table(t, rows=True) for t in sorted(DEMO_TABLES))


@pytest.mark.parametrize(
    ("tables", "mark", "expected"),
    [
        ((), None, "empty"),
        (DEMO_DB, DEMO_MARK, "reset"),
        (DEMO_DB[:3], DEMO_MARK, "reset"),  # a demo cut off while migrating
        ((*DEMO_DB, _table("invoices")), DEMO_MARK, "table invoices (empty)"),
        ((_table("accounts", kind="view"),), DEMO_MARK, "view accounts"),
        ((_table("other.accounts", rows=True),), DEMO_MARK, "table other.accounts (has rows)"),
        (DEMO_DB, None, "a revfield memory with rows in accounts, actions"),
        (DEMO_DB, "revfield something else", "not marked as made by `revfield demo`"),
        (
            tuple(_table(t.name) for t in DEMO_DB),
            None,
            f"a revfield schema ({len(DEMO_DB)} tables, no rows yet)",
        ),
    ],
)
def test_the_demo_uses_only_an_empty_database_or_its_own(tables, mark, expected):
    verdict = judge(DatabaseContents(tables=tables, made_by=mark))
    if isinstance(verdict, Refusal):
        assert expected in verdict.found
    else:
        assert verdict == expected


@needs_postgres
def test_the_database_setting_may_name_the_demos_postgresql_database(
    small_demo, new_database, capsys, monkeypatch
):
    """As for a SQLite file: without --path or the demo's own --db, the demo goes where
    REVFIELD_DATABASE_URL (or `revfield --db`) says."""
    monkeypatch.setenv("REVFIELD_DATABASE_URL", new_database)
    code, out, err = _revfield(["demo", "--days", "1"], capsys, monkeypatch)
    assert code == 0, err
    assert _printed_url(out) == new_database and list(small_demo.iterdir()) == []
    assert _tables(new_database)["revfield_made_by"] == [(DEMO_MARK,)]


@needs_postgres
def test_the_demo_never_prints_the_databases_password(
    small_demo, new_database, capsys, monkeypatch
):
    secret = sa.make_url(new_database).set(password="s3cret-pw")
    code, out, err = _revfield(
        ["demo", "--days", "1", "--db", secret.render_as_string(hide_password=False)],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert "s3cret-pw" not in out + err
    assert _printed_url(out) == shlex.quote(secret.render_as_string(hide_password=True))
    assert "the password is left out: set PGPASSWORD, or put it back in the URL" in out
