"""The CEL parser's tables are kept in the user's cache folder: the second start reads them
instead of building them (about 0.2 s of every command that loads a pack), parses exactly as a
freshly built parser does, and a damaged, foreign or impossible cache is never trusted nor
fatal."""

from __future__ import annotations

import os
from pathlib import Path

import lark
import pytest

from revfield.policies._cel import CelError, _parse, compile_cel
from revfield.policies._cel._types import DYN

SOURCES = [
    "x.?name.orValue('') == 'Pat' && true",
    "x[?0].hasValue() || !false",
    "size(x.tags) > 2 ? x.a * 2.5 : -x.b",
]
BROKEN = "x.amount >\n  && true"


def _parsed() -> list[tuple[str, list[tuple[int, int, int]]]]:
    """Each source's tree, and where each of its nodes starts and ends."""
    out = []
    for source in SOURCES:
        tree = _parse.parse_tree(source)
        spans = [(n.meta.line, n.meta.column, n.meta.end_pos) for n in tree.iter_subtrees()]
        out.append((tree.pretty(), spans))
    return out


def _error() -> tuple[str, int, int]:
    with pytest.raises(CelError) as got:
        compile_cel(BROKEN, {"x": DYN})
    return got.value.message, got.value.line, got.value.column


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test's own; the parser is built anew for it and forgotten
    after (the next test reads the user's cache again)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _parse._parser.cache_clear()
    yield tmp_path / "cache"
    _parse._parser.cache_clear()


def _kept(home: Path) -> list[Path]:
    return sorted((home / "revfield").glob("cel-parser-*.pickle"))


def test_the_second_start_reads_the_parser_and_parses_the_same(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built, error = _parsed(), _error()
    kept = _kept(cache_home)
    assert len(kept) == 1 and lark.__version__ in kept[0].name
    assert (cache_home / "revfield").stat().st_mode & 0o777 == 0o700
    assert not list((cache_home / "revfield").glob("*.tmp"))  # written aside, moved in

    _parse._parser.cache_clear()

    def refuse(self: lark.Lark) -> None:
        raise AssertionError("the parser was built, not read from the cache")

    monkeypatch.setattr(lark.Lark, "_build_parser", refuse)
    assert _parsed() == built  # `true`/`false` are still literals, positions still kept
    assert _error() == error


def test_a_damaged_cache_file_is_rebuilt_not_trusted(cache_home: Path) -> None:
    built = _parsed()
    kept = _kept(cache_home)[0]
    kept.write_bytes(b"not a parser\n\x80\x04garbage")
    _parse._parser.cache_clear()

    assert _parsed() == built
    assert kept.read_bytes() != b"not a parser\n\x80\x04garbage"  # written anew
    _parse._parser.cache_clear()
    with kept.open("rb") as f:
        assert lark.Lark.load(f).parse(SOURCES[0]).pretty() == built[0][0]  # and it loads


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_others_can_write_is_not_used(cache_home: Path) -> None:
    folder = cache_home / "revfield"
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # anyone could plant a pickle here

    assert _parsed()
    assert _parse.cache_file(_parse._grammar()) is None
    assert not _kept(cache_home)


def test_no_cache_folder_still_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _parse._parser.cache_clear()
    try:
        assert _parse.cache_file(_parse._grammar()) is None
        assert len(_parsed()) == len(SOURCES)
        assert _error()[1:] == (2, 3)
    finally:
        _parse._parser.cache_clear()
