"""Settings: environment over revfield.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from revfield.config import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in (
        "REVFIELD_DATABASE_URL",
        "REVFIELD_LLM",
        "REVFIELD_MODEL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "REVFIELD_POLICIES",
        "REVFIELD_CONFIG",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    s = load_settings()
    assert s.database_url == "sqlite:///revfield.db"
    assert s.llm_backend == "offline"
    assert str(s.policies) == "policies"


def test_toml_file_then_environment(monkeypatch, tmp_path):
    (tmp_path / "revfield.toml").write_text(
        'database_url = "sqlite:///from-file.db"\nmodel = "m-file"\n'
    )
    assert load_settings().database_url == "sqlite:///from-file.db"
    monkeypatch.setenv("REVFIELD_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = load_settings()
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.model == "m-file"


def test_config_file_path_from_environment(monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('llm = "openai"\n')
    monkeypatch.setenv("REVFIELD_CONFIG", str(other))
    assert load_settings().llm_backend == "openai"


def test_an_api_key_makes_openai_the_default_model_backend(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert load_settings().llm_backend == "openai"
    monkeypatch.setenv("REVFIELD_LLM", "offline")
    assert load_settings().llm_backend == "offline"


def test_an_unknown_key_in_the_file_is_an_error(tmp_path):
    (tmp_path / "revfield.toml").write_text('databse_url = "x"\n')
    with pytest.raises(ValidationError, match="databse_url"):
        load_settings()


def test_command_line_overrides_win(monkeypatch):
    monkeypatch.setenv("REVFIELD_DATABASE_URL", "sqlite:///env.db")
    assert load_settings(database_url="sqlite:///flag.db").database_url == "sqlite:///flag.db"


def test_the_log_executor_writes_next_to_the_database_not_where_the_command_runs(tmp_path):
    from revfield.cli._app import State
    from revfield.cli._field import open_field
    from revfield.memory import Store

    db = tmp_path / "data" / "book.db"
    db.parent.mkdir()
    Store.from_url(f"sqlite:///{db}").migrate()
    policies = Path(__file__).resolve().parents[1] / "policies"
    st = State(load_settings(database_url=f"sqlite:///{db}", policies=policies))
    with open_field(st) as field:
        assert field.executor is not None
        assert field.executor.path == db.with_name("book-outbox.jsonl")  # type: ignore[attr-defined]
    st.close()


def test_with_postgresql_the_log_sits_in_the_users_data_folder(monkeypatch, tmp_path):
    from revfield.memory import Store

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    store = Store.from_url("postgresql+psycopg://u@db.example:5432/gtm")
    assert store.beside("outbox.jsonl") == tmp_path / "share" / "revfield" / "gtm-outbox.jsonl"
