"""The CLI starts without the heavy half of revfield: parsing a command, ``--help`` and the
listing commands never import LangGraph, the OpenAI SDK, FastAPI, Alembic or the policy
compiler; they load when a command that runs the field needs them. ``--help`` does not even
load the memory (SQLAlchemy) or the settings (pydantic): a command imports them when it runs.
The public API is the same names as before, each resolved on first use.

Each check runs in a fresh interpreter: this test process has imported everything already."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from revfield.memory import Store, StoreError
from revfield.memory._store import _scanned_head

HEAVY = (
    "langgraph",
    "langchain_core",
    "openai",
    "fastapi",
    "starlette",
    "uvicorn",
    "alembic",
    "celpy",
    "httpx",
)
"""What a command that only reads the memory must not pay for at start."""

MEMORY = ("revfield.memory", "sqlalchemy", "revfield.config", "pydantic", "pydantic_settings")
"""What ``--help`` must not pay for: the memory, its SQL toolkit and the settings (a command
imports them in its own body, never at the top of a CLI module)."""


def _fresh(code: str, *argv: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints one JSON object on its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


RUN_CLI = f"""
    import contextlib, io, json, sys
    from revfield.cli import main

    runs = []
    for argv in json.loads(sys.argv[1]):  # one after another, in this one interpreter
        sys.argv = ["revfield", *argv]
        out = io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit as exc:
                code = exc.code or 0
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        memory = [m for m in {MEMORY!r} if m in sys.modules]
        runs.append({{
            "argv": argv, "code": code, "heavy": heavy, "memory": memory, "out": out.getvalue()
        }})
    print(json.dumps({{"runs": runs}}))
"""


def _commands(*commands: list[str]) -> list[dict[str, object]]:
    """Run revfield ``commands`` in turn in one new interpreter: for each, its exit code, its
    output, and the heavy modules (and the memory's) imported by then."""
    runs = _fresh(RUN_CLI, json.dumps(commands))["runs"]
    assert isinstance(runs, list)
    return runs


def test_importing_the_cli_imports_nothing_heavy():
    found = _fresh(f"""
        import json, sys
        import revfield.cli
        print(json.dumps({{"loaded": [m for m in {HEAVY + MEMORY!r} if m in sys.modules]}}))
    """)
    assert found["loaded"] == []


def test_help_imports_nothing_heavy():
    [found] = _commands(["--help"])
    assert found["code"] == 0
    assert "inbox" in str(found["out"]) and "approve" in str(found["out"])
    assert found["heavy"] == []


def test_help_loads_neither_the_memory_nor_the_settings():
    """Every command's help, listed and printed, from the CLI modules alone."""
    [found] = _commands(["--help"])
    assert found["code"] == 0
    assert "import-crm" in str(found["out"]) and "account" in str(found["out"])
    assert found["memory"] == []


def test_a_commands_help_reads_the_settings_but_not_the_memory():
    """``revfield COMMAND --help`` reads the settings first (the global options apply), and
    stops before any command opens the database."""
    runs = _commands(
        ["inbox", "--help"],
        ["account", "show", "--help"],
        ["ingest", "--help"],
        ["import-crm", "--help"],
        ["approve", "--help"],
    )
    assert [(r["argv"], r["code"]) for r in runs] == [(r["argv"], 0) for r in runs]
    loaded = {m for r in runs for m in r["memory"]}
    assert "revfield.config" in loaded
    assert not loaded & {"revfield.memory", "sqlalchemy"}
    assert "Export format:" in str(runs[3]["out"]) and "ravenstack" in str(runs[3]["out"])


def test_import_crm_help_names_every_importer():
    """``import-crm --help`` lists the export formats without importing the importers."""
    from revfield.cli._memory import IMPORT_KINDS
    from revfield.ingest import IMPORTERS

    assert tuple(IMPORTERS) == IMPORT_KINDS


TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _type_checking_imports(package: str) -> dict[str, str]:
    """Name → module of the imports a package's ``__init__`` makes for mypy only."""
    init = importlib.import_module(package).__file__
    assert init is not None
    found: dict[str, str] = {}
    for node in ast.parse(Path(init).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING:
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                found.update((alias.name, statement.module) for alias in statement.names)
    return found


@pytest.mark.parametrize(
    "package",
    ["revfield.memory", "revfield.ingest", "revfield.field", "revfield.review", "revfield.domain"],
)
def test_a_lazy_package_maps_every_name_it_imports_for_mypy(package):
    """A name added to the imports mypy reads but not to ``_EXPORTS`` would be missing at run
    time: each name is in both, and in ``__all__``."""
    module = importlib.import_module(package)
    exports = {name: home for home, names in module._EXPORTS.items() for name in names}
    assert exports == _type_checking_imports(package)
    assert sorted(exports) == sorted(module.__all__)
    for name, home in exports.items():  # each resolves to its home's object
        assert getattr(module, name) is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError, match="has no attribute 'Verdcit'"):
        module.Verdcit  # noqa: B018


def test_ingesting_and_reading_the_memory_import_nothing_heavy(small_db, tmp_path):
    db = ["--db", small_db]
    runs = _commands(
        [*db, "ingest", str(tmp_path / "tiny.jsonl")],
        [*db, "inbox"],
        [*db, "inbox", "--json"],
        [*db, "account", "show", "northwind.io"],
        [*db, "account", "list"],
        [*db, "approve", "--help"],
        [*db, "reject", "--help"],
    )
    assert [(r["argv"], r["code"], r["heavy"]) for r in runs] == [(r["argv"], 0, []) for r in runs]
    assert "northwind.io" in str(runs[3]["out"])


def test_a_wrong_answer_comes_back_before_the_field_loads(small_db):
    """approve takes the answer before it loads LangGraph to resume the run: a review that
    isn't there is one error at once, with nothing heavy imported."""
    runs = _commands(
        ["--db", small_db, "approve", "999"],
        ["--db", small_db, "reject", "999", "--reason", "not now"],
    )
    for found in runs:
        assert found["code"] == 1, found  # `no review item #999` (tests/test_cli.py)
        assert found["heavy"] == []


def test_the_public_api_resolves_every_name_on_first_use():
    found = _fresh("""
        import json, sys
        import revfield

        before = "langgraph" in sys.modules or "openai" in sys.modules
        from revfield import Field, OpenAIModel
        import revfield.field, revfield.llm._openai
        same = Field is revfield.field.Field and OpenAIModel is revfield.llm._openai.OpenAIModel
        missing = [n for n in revfield.__all__ if not hasattr(revfield, n)]
        listed = set(revfield.__all__) <= set(dir(revfield))
        try:
            revfield.Feild
            typo = "no error"
        except AttributeError as exc:
            typo = str(exc)
        print(json.dumps({"before": before, "same": same, "missing": missing,
                          "listed": listed, "typo": typo}))
    """)
    assert found == {
        "before": False,
        "same": True,
        "missing": [],
        "listed": True,
        "typo": "module 'revfield' has no attribute 'Feild'",
    }


@pytest.mark.parametrize(
    ("package", "name", "home"),
    [
        ("revfield.llm", "OpenAIModel", "revfield.llm._openai"),
        ("revfield.detect", "build_text_graph", "revfield.detect._text"),
        ("revfield.detect", "TEXT_KINDS", "revfield.detect._text"),
        ("revfield.service", "create_app", "revfield.service._app"),
        ("revfield.worker", "Worker", "revfield.worker._loop"),
        ("revfield.memory", "recall", "revfield.memory._recall"),
        ("revfield.memory", "Store", "revfield.memory._store"),
        ("revfield.ingest", "run_import", "revfield.ingest._importers"),
        ("revfield.ingest", "ingest_file", "revfield.ingest._ingest"),
    ],
)
def test_a_lazy_name_of_a_package_is_its_homes(package, name, home):
    found = _fresh(f"""
        import importlib, json, sys
        package = importlib.import_module({package!r})
        loaded_early = {home!r} in sys.modules
        value = getattr(package, {name!r})
        same = value is getattr(importlib.import_module({home!r}), {name!r})
        listed = {name!r} in package.__all__
        print(json.dumps({{"early": loaded_early, "same": same, "all": listed}}))
    """)
    assert found == {"early": False, "same": True, "all": True}


def test_the_schema_head_read_from_the_migration_files_is_alembics(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    assert _scanned_head() == store.head_revision()
    store.dispose()


def test_a_database_behind_the_code_is_still_refused_with_the_fix(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    head = store.head_revision()
    store.migrate("0011")
    assert store.current_revision() == "0011"
    with pytest.raises(StoreError, match=rf"is at 0011; the code expects {head}(.|\n)*init"):
        store.check_current()
    store.migrate()
    store.check_current()
    store.dispose()
