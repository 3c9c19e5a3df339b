"""The README is the user's manual: it must name every command, signal kind and policy field,
and its examples must print what they claim."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer

from revfield.cli import app
from revfield.domain import SignalKind
from revfield.policies._context import SCHEMA

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "revfield") -> list[str]:
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer may bundle its own click)
            out += _commands(command, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


@pytest.mark.parametrize("command", _commands(typer.main.get_command(app)))  # type: ignore[arg-type]
def test_every_command_is_in_the_cli_reference(command):
    assert f"`{command}" in README


@pytest.mark.parametrize("kind", [k.value for k in SignalKind])
def test_every_signal_kind_is_documented(kind):
    assert f"`{kind}`" in README


def _fields() -> list[str]:
    out = []
    for var, spec in SCHEMA.items():
        if spec.fields is None:
            out.append(var)
            continue
        out += [
            f"{var}.{name}.<type>" if f.fields else f"{var}.{name}"
            for name, f in spec.fields.items()
        ]
    return out


@pytest.mark.parametrize("field", _fields())
def test_every_policy_context_field_is_documented(field):
    assert f"`{field}`" in README


def test_the_python_policy_example_prints_what_the_readme_says():
    from revfield.policies import decide, load_pack, merge_context

    pack = load_pack(Path(__file__).resolve().parents[1] / "policies")
    d = decide(
        pack,
        merge_context(
            {"action": {"kind": "offer_discount", "motion": "acquisition", "discount_pct": 20}}
        ),
    )
    assert repr((d.verdict, d.matched, d.explanation)) in README


def test_the_python_examples_run_as_written(tmp_path, monkeypatch):
    """Every Python example of the README that uses revfield runs, in order, in a new folder
    (the first creates the database the others read)."""
    import re

    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").symlink_to(Path(__file__).resolve().parents[1] / "policies")
    examples = [
        block
        for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL)
        if "import revfield" in block or "from revfield" in block
    ]
    assert len(examples) >= 4
    for block in examples:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
