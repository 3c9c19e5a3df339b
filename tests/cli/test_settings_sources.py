"""Where each setting comes from, as ``pydantic-settings`` read them before revfield read them
itself: keyword arguments over the environment over ``revfield.toml`` over the defaults; names
in any case; the OpenAI SDK's own variables first; other variables ignored; a misspelt key in
the file an error that names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from revfield.config import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for var in list(os.environ):
        if var.upper().startswith(("REVFIELD_", "OPENAI_")):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


def test_every_source_in_its_order(monkeypatch, tmp_path):
    (tmp_path / "revfield.toml").write_text(
        'model = "m-file"\nexecutor = "webhook"\nwebhook_retries = 5\n'
    )
    monkeypatch.setenv("REVFIELD_EXECUTOR", "log")
    monkeypatch.setenv("REVFIELD_WEBHOOK_RETRIES", "7")
    s = Settings(webhook_retries=1)
    assert (s.model, s.executor, s.webhook_retries, s.model_max_retries) == ("m-file", "log", 1, 2)


def test_names_match_in_any_case(monkeypatch, tmp_path):
    (tmp_path / "revfield.toml").write_text('Model = "m-file"\n')
    monkeypatch.setenv("revfield_database_url", "sqlite:///lower.db")
    s = load_settings()
    assert (s.database_url, s.model) == ("sqlite:///lower.db", "m-file")


def test_the_openai_sdks_variables_come_before_revfields_own(monkeypatch):
    monkeypatch.setenv("REVFIELD_OPENAI_API_KEY", "sk-revfield")
    assert load_settings().openai_api_key.get_secret_value() == "sk-revfield"  # type: ignore[union-attr]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sdk")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = load_settings()
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-sdk"
    assert (s.openai_base_url, s.llm_backend) == ("http://127.0.0.1:9/v1", "openai")


def test_the_file_may_name_the_openai_settings_either_way(tmp_path):
    (tmp_path / "revfield.toml").write_text(
        'OPENAI_API_KEY = "sk-file"\nopenai_base_url = "http://127.0.0.1:9/v1"\n'
    )
    s = load_settings()
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-file"
    assert s.openai_base_url == "http://127.0.0.1:9/v1"


def test_variables_that_are_not_settings_are_ignored(monkeypatch):
    monkeypatch.setenv("REVFIELD_NO_SUCH_SETTING", "x")
    monkeypatch.setenv("REVFIELD_CONFIG", "/no/such/revfield.toml")  # no file: defaults
    assert load_settings().database_url == "sqlite:///revfield.db"


def test_an_invalid_value_is_an_error_naming_the_setting(monkeypatch):
    monkeypatch.setenv("REVFIELD_INGEST_BATCH_SIZE", "many")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    [error] = caught.value.errors()
    assert error["loc"] == ("ingest_batch_size",)


def test_a_misspelt_key_in_the_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "revfield.toml").write_text('databse_url = "sqlite:///x.db"\n')
    with pytest.raises(ValidationError) as caught:
        load_settings()
    [error] = caught.value.errors()
    assert (error["loc"], error["type"]) == (("databse_url",), "extra_forbidden")


def test_a_file_that_is_not_toml_is_a_value_error(tmp_path):
    (tmp_path / "revfield.toml").write_text("database_url = sqlite:///x.db\n")
    with pytest.raises(ValueError, match="line 1"):
        load_settings()


def test_an_unset_flag_does_not_hide_the_environment(monkeypatch):
    monkeypatch.setenv("REVFIELD_DATABASE_URL", "sqlite:///env.db")
    assert load_settings(database_url=None).database_url == "sqlite:///env.db"
