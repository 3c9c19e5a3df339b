"""The cyclic garbage collector while a command starts, each case in a fresh interpreter: what
starting allocates (SQLAlchemy, pydantic, Typer, the commands) lives as long as the process, so
the collector stays off until the command begins; a bounded command (a page, one account, one
answer) keeps it off, every other command runs with it on, and a caller in the same process
(a test, a script) gets it back as it was, nothing frozen."""

from __future__ import annotations

import json

from tests.test_cli_startup import _fresh

_WATCH = """
    import gc, io, json, sys, contextlib
    collections = []
    gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info))
    import revfield.cli._memory as commands

    seen = {{}}
    real_list, real_count = commands.list_accounts, commands.count_dead_letters

    def list_accounts(*args, **kwargs):
        seen["account list"] = gc.isenabled()
        return real_list(*args, **kwargs)

    def count_dead_letters(*args, **kwargs):
        seen["dead-letters"] = gc.isenabled()
        return real_count(*args, **kwargs)

    commands.list_accounts, commands.count_dead_letters = list_accounts, count_dead_letters
    from revfield.cli import {entry}

    codes = []
    collections.clear()  # (importing the commands above, for the patches, was this test's own)
    for argv in json.loads(sys.argv[1]):
        sys.argv = ["revfield", *argv]
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                {entry}()
            except SystemExit as exc:
                codes.append(exc.code or 0)
    print(json.dumps({{
        "codes": codes, "seen": seen, "collections": len(collections),
        "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
    }}))
"""


def _watched(entry: str, *commands: list[str]) -> dict[str, object]:
    return _fresh(_WATCH.format(entry=entry), json.dumps(commands))


def test_a_bounded_command_starts_and_runs_without_the_collector(small_db):
    db = ["--db", small_db]
    found = _watched("console", [*db, "inbox", "--json"], [*db, "account", "list"])
    assert found["codes"] == [0, 0]
    assert found["seen"] == {"account list": False}
    # before: ~150 collections walking what the start allocated, 45-65 ms of each command
    assert isinstance(found["collections"], int) and found["collections"] <= 5
    assert found["enabled"] is True  # the process ends with what it holds frozen
    assert isinstance(found["frozen"], int) and found["frozen"] > 0


def test_any_other_command_collects_from_its_start(small_db):
    found = _watched("console", ["--db", small_db, "dead-letters"])
    assert found["codes"] == [0] and found["seen"] == {"dead-letters": True}


def test_a_caller_in_the_same_process_gets_the_collector_back_and_nothing_frozen(small_db):
    db = ["--db", small_db]
    found = _watched("main", [*db, "account", "list"], [*db, "dead-letters"])
    assert found["codes"] == [0, 0]
    assert found["seen"] == {"account list": False, "dead-letters": True}
    assert found["enabled"] is True and found["frozen"] == 0
