from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PACK = REPO / "policies"


@pytest.fixture
def write_pack(tmp_path):
    """Write YAML files into a fresh pack folder: ``write_pack(a="...", b="...")``."""

    def write(**files: str) -> Path:
        folder = tmp_path / "pack"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return folder

    return write
