"""What the quick commands load, each in a fresh interpreter (this test process has imported
everything already): reading the memory, ingesting and asking for help never load the agent
run's libraries (LangGraph, LangChain, the OpenAI SDK, the policy compiler's parser) nor
``pydantic-settings``; the memory's tables load neither the PostgreSQL dialect (on SQLite) nor
the action models; and ``revfield.domain`` resolves each name from its home on first use."""

from __future__ import annotations

import json

from tests.test_cli_startup import _fresh

AGENT_RUN = ("langgraph", "langchain_core", "langsmith", "openai", "lark", "celpy", "structlog")
"""What only a command that runs or resumes the field needs."""

SETTINGS_LIBRARY = "pydantic_settings"
"""The settings are read by revfield itself; this library's import cost more than a query."""


def _loaded_by(*commands: list[str]) -> list[dict[str, object]]:
    """Run revfield ``commands`` in turn in one new interpreter: each one's exit code, output,
    and which of the agent run's libraries (and the settings library) it had loaded by then."""
    watched = (*AGENT_RUN, SETTINGS_LIBRARY)
    found = _fresh(
        f"""
        import contextlib, io, json, sys
        from revfield.cli import main

        runs = []
        for argv in json.loads(sys.argv[1]):
            sys.argv = ["revfield", *argv]
            out = io.StringIO()
            code = 0
            with contextlib.redirect_stdout(out):
                try:
                    main()
                except SystemExit as exc:
                    code = exc.code or 0
            runs.append({{
                "argv": argv, "code": code, "out": out.getvalue(),
                "loaded": [m for m in {watched!r} if m in sys.modules],
            }})
        print(json.dumps({{"runs": runs}}))
        """,
        json.dumps(commands),
    )
    runs = found["runs"]
    assert isinstance(runs, list)
    return runs


def test_the_quick_commands_load_neither_the_agent_run_nor_the_settings_library(small_db, tmp_path):
    db = ["--db", small_db]
    runs = _loaded_by(
        ["--help"],
        [*db, "ingest", str(tmp_path / "tiny.jsonl")],
        [*db, "inbox", "--json"],
        [*db, "account", "show", "northwind.io"],
        [*db, "approve", "--help"],
    )
    assert [(r["argv"], r["code"], r["loaded"]) for r in runs] == [(r["argv"], 0, []) for r in runs]
    assert json.loads(str(runs[2]["out"])) == []  # nothing waits in a new memory
    assert "northwind.io" in str(runs[3]["out"])


def test_the_memorys_tables_load_without_the_postgresql_dialect_or_the_action_models():
    """On SQLite the tables never need PostgreSQL's dialect (``JSONB`` loads when a
    PostgreSQL database first asks for it), and they need the domain's vocabulary only."""
    found = _fresh("""
        import json, sys
        import revfield.memory.models
        watched = ("sqlalchemy.dialects.postgresql", "revfield.domain._actions",
                   "revfield.domain._catalog", "revfield.domain._events")
        print(json.dumps({"loaded": [m for m in watched if m in sys.modules]}))
    """)
    assert found["loaded"] == []


def test_json_columns_are_jsonb_on_postgresql_and_json_elsewhere():
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateTable

    from revfield.memory.models import Base

    signals = Base.metadata.tables["signals"]
    on_pg = str(CreateTable(signals).compile(dialect=postgresql.psycopg.dialect()))
    on_sqlite = str(CreateTable(signals).compile(dialect=sqlite.dialect()))
    assert "payload JSONB NOT NULL" in on_pg
    assert "payload JSON NOT NULL" in on_sqlite
    insert = signals.insert().compile(dialect=postgresql.psycopg.dialect())
    assert "%(payload)s::JSONB" in str(insert)  # psycopg is told the parameter's type


def test_the_vocabulary_loads_without_the_action_models():
    found = _fresh("""
        import json, sys
        from revfield.domain import Role, ActionStatus
        before = "revfield.domain._actions" in sys.modules
        from revfield.domain import ProposedAction
        print(json.dumps({"before": before, "role": Role.SELLER.value,
                          "model": ProposedAction.__module__}))
    """)
    assert found == {"before": False, "role": "seller", "model": "revfield.domain._actions"}
