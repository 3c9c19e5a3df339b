"""The structure holds: memory alone speaks SQL, no package reaches into another's private
modules, and every stage imports only the stages to its left in the flow

    domain → llm → memory → ingest → detect → route → agents → policies → review → outbox
    → field → demo, evals, service → cli

(with ``revfield._text``, ``_yaml``, ``_json``, ``_lazy``, ``clock``, ``errors`` and ``config``
below them all).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "revfield"

FOUNDATION = (
    "revfield._text",
    "revfield._yaml",
    "revfield._json",
    "revfield._lazy",
    "revfield.clock",
    "revfield.errors",
    "revfield.config",
)
LAYERS: tuple[tuple[str, ...], ...] = (
    FOUNDATION,
    ("revfield.domain",),
    ("revfield.llm",),
    ("revfield.memory",),
    ("revfield.ingest",),
    ("revfield.detect",),
    ("revfield.route",),
    ("revfield.agents",),
    ("revfield.policies",),
    ("revfield.review",),
    ("revfield.outbox",),
    ("revfield.field",),
    ("revfield.testing", "revfield.demo", "revfield.evals", "revfield.service", "revfield.worker"),
    ("revfield.cli",),
)
"""Stages in flow order: a module may import its own stage and the stages before it."""

DRIVERS = ("sqlalchemy", "psycopg", "sqlite3", "alembic")
DRIVER_EXCEPTIONS = {
    "revfield/field/_checkpoints.py": {"sqlite3", "psycopg"},
}
"""LangGraph's checkpointers open their own connection to the memory's database."""


@dataclass(frozen=True)
class Import:
    file: str
    line: int
    module: str
    """The module imported (for ``from m import name``: ``m``, and ``m.name`` when it is a
    submodule)."""


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = str(path.relative_to(PACKAGE.parent))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(where, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(Import(where, node.lineno, node.module))
            for alias in node.names:
                sub = PACKAGE.parent / Path(*f"{node.module}.{alias.name}".split("."))
                if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                    out.append(Import(where, node.lineno, f"{node.module}.{alias.name}"))
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))
ALL_IMPORTS = [(p, i) for p in SOURCES for i in _imports(p)]


def _stage(module: str) -> int | None:
    for index, stage in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in stage):
            return index
    return None


def _package(module: str) -> str:
    """``revfield.memory._store`` → ``revfield.memory``; root modules are their own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_only_memory_imports_sqlalchemy_or_a_database_driver():
    found = [
        f"{i.file}:{i.line}: imports {i.module}"
        for p, i in ALL_IMPORTS
        if i.module.split(".")[0] in DRIVERS
        and not i.file.startswith("revfield/memory/")
        and i.module.split(".")[0] not in DRIVER_EXCEPTIONS.get(i.file, set())
    ]
    assert found == [], "SQL belongs to revfield.memory:\n" + "\n".join(found)


def test_no_package_imports_another_packages_private_module():
    found = []
    for path, i in ALL_IMPORTS:
        parts = i.module.split(".")
        if parts[0] != "revfield" or len(parts) < 3:
            continue
        private = any(p.startswith("_") for p in parts[2:])
        if private and _package(i.module) != _package(_module_of(path)):
            found.append(f"{i.file}:{i.line}: imports {i.module}")
    assert found == [], "import the package's public API instead:\n" + "\n".join(found)


def test_every_stage_imports_only_the_stages_to_its_left():
    found = []
    for path, i in ALL_IMPORTS:
        if not i.module.startswith("revfield") or path == PACKAGE / "__init__.py":
            continue
        mine, theirs = _stage(_module_of(path)), _stage(i.module)
        if i.module == "revfield" or (mine is not None and theirs is not None and theirs > mine):
            found.append(f"{i.file}:{i.line}: {_module_of(path)} imports {i.module}")
    assert found == [], "an import against the flow:\n" + "\n".join(found)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_every_module_belongs_to_a_stage(path):
    module = _module_of(path)
    assert module == "revfield" or _stage(module) is not None, f"{module} is in no stage"
