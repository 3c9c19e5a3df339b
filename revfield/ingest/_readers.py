"""Read signal files row by row, without judging the rows.

A reader yields :class:`RawRow` values: the row's first line number, its raw text (kept for
the dead-letter table) and either the data to validate or a problem already found (invalid
UTF-8, an oversized row, a quote that never closes, a broken ``payload`` cell). Only a file
that can't be read as a whole raises :class:`IngestFileError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from revfield._text import shorten
from revfield.domain import SignalKind
from revfield.errors import RevfieldError
from revfield.ingest._diagnostics import MAX_PAYLOAD_DEPTH, RowProblem
from revfield.ingest._schema import MAX_LINE_BYTES, REQUIRED_FIELDS, SIGNAL_FIELDS

__all__ = ["FORMATS", "IngestFileError", "RawRow", "count_lines", "read_rows"]

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

_KINDS = frozenset(k.value for k in SignalKind)
_BACKSLASH = ord("\\")  # a byte: `int in bytes` is one memchr, faster than `b"\\" in bytes`


class IngestFileError(RevfieldError):
    """The file as a whole can't be ingested (missing, a directory, unreadable, an unknown
    extension, empty, a CSV header that can't be read, lacks a required column or names one
    twice); nothing was read from it. Bad rows are dead-lettered instead, and
    ``revfield ingest`` exits non-zero only for this."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    """First line of the row in its file (1-based)."""
    end_line: int
    raw: str
    data: bytes | dict[str, Any] | None
    """JSONL: the line's bytes; CSV: the row as a dict; None when ``problem`` is set."""
    problem: RowProblem | None = None
    clean: bool = False
    """True when the reader has seen that the row holds no NUL character and no half of a
    surrogate pair anywhere, so its strings need no search for them."""


def count_lines(path: Path) -> int:
    """Physical lines in ``path`` (for progress bars); cheap, reads in 1 MiB blocks. 0 when
    the file can't be read (:func:`read_rows` then says why)."""
    n = 0
    last = b"\n"
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                n += block.count(b"\n")
                last = block[-1:]
    except OSError:
        return 0
    return n + (last != b"\n")


def read_rows(path: Path) -> Iterator[RawRow]:
    """Rows of a ``.jsonl``/``.ndjson``/``.csv`` file. Raises :class:`IngestFileError` first
    when the file is missing, unreadable, of an unknown type, empty, or (CSV) has a header
    that can't be used."""
    fmt = _check_file(path)
    return _jsonl_rows(path) if fmt == "jsonl" else _csv_rows(path)


def _check_file(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if not path.exists():
        raise IngestFileError(path, "no such file")
    if path.is_dir():
        raise IngestFileError(path, "is a directory; pass a .jsonl or .csv file")
    if fmt is None:
        raise IngestFileError(
            path,
            f"unknown file type `{path.suffix or '(none)'}`; "
            "revfield reads JSON Lines (.jsonl, .ndjson) and CSV (.csv)",
        )
    with _opened(path, "rb") as f:
        head = f.read(4096)
        if not head.strip(b" \t\r\n\xef\xbb\xbf"):
            rest = f.read()
            if not rest.strip():
                raise IngestFileError(path, "file is empty: there are no signals to ingest")
    return fmt


@contextmanager
def _opened(path: Path, mode: str = "r", **kwargs: Any) -> Iterator[IO[Any]]:
    """``path`` opened; an operating-system error (no permission, an I/O error part-way)
    becomes an :class:`IngestFileError` naming the file."""
    try:
        with path.open(mode, **kwargs) as f:
            yield f
    except OSError as exc:
        raise IngestFileError(path, f"can't be read: {exc.strerror or exc}") from exc


def _decode(data: bytes) -> tuple[str, RowProblem | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        return text, RowProblem(
            None, f"invalid UTF-8 at byte {exc.start + 1} of the row; re-export the file as UTF-8"
        )


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with _opened(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                continue
            if len(line) > MAX_LINE_BYTES:
                yield RawRow(
                    number,
                    number,
                    line[:4096].decode("utf-8", "replace") + "…",
                    None,
                    RowProblem(
                        None, f"line is {len(line):,} bytes, over the {MAX_LINE_BYTES:,}-byte limit"
                    ),
                )
                continue
            text, problem = _decode(line.rstrip(b"\r\n"))
            # JSON holds a NUL character only as the escape \u0000 (a raw one is malformed),
            # and the parser refuses half a surrogate pair: without that escape it is clean.
            clean = _BACKSLASH not in line or b"\\u0000" not in line
            yield RawRow(number, number, text, None if problem else line, problem, clean)


class _TooLong(RevfieldError):
    """Raised from inside the CSV parser when one row runs past :data:`MAX_LINE_BYTES`."""


class _Lines:
    """The physical lines of a CSV file, fed to ``csv.reader`` one at a time, remembering the
    lines of the row being read (its *span*) and taking lines back to read them again."""

    def __init__(self, f: IO[str]) -> None:
        self._f = f
        self._back: list[tuple[int, str]] = []
        self.number = 0
        """Number of the last line handed out."""
        self.span: list[tuple[int, str]] = []
        self._size = 0
        self.at_end = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            self.number, line = self._back.pop()
        else:
            line = self._f.readline()
            if not line:
                self.at_end = True
                raise StopIteration
            self.number += 1
        self.span.append((self.number, line))
        self._size += len(line)
        if self._size > MAX_LINE_BYTES + 2:
            raise _TooLong
        return line

    def new_row(self) -> None:
        self.span = []
        self._size = 0

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        """Hand ``lines`` out again, in order, before reading on."""
        self._back.extend(reversed(lines))
        self.at_end = False


def _csv_rows(path: Path) -> Iterator[RawRow]:
    # surrogateescape keeps undecodable bytes, so a bad row can be found and dead-lettered
    # on its own instead of failing the whole file.
    with _opened(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        lines = _Lines(f)
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except (csv.Error, _TooLong) as exc:
            raise IngestFileError(path, f"CSV header can't be read: {exc}", line=1) from exc
        except StopIteration:
            raise IngestFileError(path, "file is empty: there are no signals to ingest") from None
        columns = [h.strip() for h in header]
        missing = [c for c in REQUIRED_FIELDS if c not in columns]
        if missing:
            raise IngestFileError(
                path,
                f"CSV header is missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(f'`{c}`' for c in missing)} (found: {', '.join(columns) or 'none'})",
                line=1,
            )
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise IngestFileError(
                path,
                f"CSV header names {', '.join(f'`{c}`' for c in twice)} more than once; "
                "which column holds the value?",
                line=1,
            )
        extra = [c for c in columns if c not in SIGNAL_FIELDS]
        payload_at = columns.index("payload") + 1 if "payload" in columns else 0
        while True:
            lines.new_row()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, _TooLong) as exc:
                yield _unreadable(lines, exc)
                reader = csv.reader(lines)  # start afresh after the line given up on
                continue
            span = lines.span
            if len(span) > 1 and (why := _runaway_quote(span, cells, columns, lines.at_end)):
                yield _runaway(lines, why)
                reader = csv.reader(lines)
                continue
            row_start, end = span[0][0], span[-1][0]
            if not any(c.strip() for c in cells):
                continue
            raw = _csv_line(cells)
            if any("\udc80" <= ch <= "\udcff" for cell in cells for ch in cell):
                raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                yield RawRow(
                    row_start,
                    end,
                    raw,
                    None,
                    RowProblem(None, "invalid UTF-8 in this row; re-export the file as UTF-8"),
                )
                continue
            if len(cells) != len(columns):
                yield RawRow(
                    row_start,
                    end,
                    raw,
                    None,
                    RowProblem(
                        None,
                        f"row has {len(cells)} cells but the header has {len(columns)} columns",
                    ),
                )
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield RawRow(
                    row_start,
                    end,
                    raw[:4096] + "…",
                    None,
                    RowProblem(
                        None, f"row is {len(raw):,} characters, over the {MAX_LINE_BYTES:,} limit"
                    ),
                )
                continue
            # Cells hold NUL characters as they are; a payload cell's JSON may escape one, or
            # half a surrogate pair, as \u…, and nest deeper than a payload may.
            clean = (
                "\x00" not in raw
                and "\\u" not in raw
                and not (payload_at and cells[payload_at - 1])
            )
            try:
                record = _csv_record(columns, extra, cells)
            except RowProblem as problem:
                yield RawRow(row_start, end, raw, None, problem)
                continue
            yield RawRow(row_start, end, raw, record, None, clean)


def _unreadable(lines: _Lines, exc: Exception) -> RawRow:
    """A row the CSV parser gave up on (a cell over its limit, a row over the size limit):
    its line is dead-lettered with its text; when the row had run on over the lines after
    it, those are read again as rows of their own."""
    span = lines.span
    if isinstance(exc, _TooLong):
        what = f"the row runs past the {MAX_LINE_BYTES:,}-character limit"
    elif "field limit" in str(exc):
        what = f"a cell runs past the {csv.field_size_limit():,}-character limit"
    else:
        what = f"CSV: {exc}"
    if not span:  # the parser failed before taking a line
        return RawRow(lines.number, lines.number, "", None, RowProblem(None, what))
    if len(span) > 1:
        return _runaway(lines, what)
    number, line = span[0]
    return RawRow(number, number, _excerpt(line), None, RowProblem(None, what))


def _runaway(lines: _Lines, why: str) -> RawRow:
    """Dead-letter the first line of a row whose quote runs on over the lines after it, and
    take those lines back to read them as rows of their own."""
    (number, first), rest = lines.span[0], lines.span[1:]
    lines.push_back(rest)
    reason = (
        f"unterminated quote: a quoted cell opened on this line runs on over "
        f"{len(rest):,} more line{'s' if len(rest) != 1 else ''} ({why}); this line is "
        f"dead-lettered alone and reading resumes at line {number + 1:,}"
    )
    return RawRow(number, number, _excerpt(first), None, RowProblem(None, reason))


def _runaway_quote(
    span: list[tuple[int, str]], cells: list[str], columns: list[str], at_end: bool
) -> str | None:
    """Why a row spanning several lines is a quote left open rather than a cell holding line
    breaks, or None: the row does not fit the header, the quote is still open at the end of
    the file, or a line it swallowed reads as a signal row of its own."""
    if at_end:
        try:
            for _ in csv.reader((line for _, line in span), strict=True):
                pass
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return "to the end of the file"
    if len(cells) != len(columns):
        return f"the row it makes has {len(cells)} cells for {len(columns)} columns"
    required = [columns.index(c) for c in REQUIRED_FIELDS]
    kind = columns.index("kind")
    for number, line in span[1:]:
        try:
            alone = next(csv.reader([line]), [])
        except csv.Error:
            continue
        if (
            len(alone) == len(columns)
            and all(alone[i].strip() for i in required)
            and alone[kind].strip() in _KINDS
        ):
            return f"swallowing line {number:,}, which reads as a row of its own"
    return None


def _excerpt(text: str) -> str:
    text = text.rstrip("\r\n")
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text if len(text) <= 4096 else text[:4096] + "…"


def _strict_json(cell: str) -> Any:
    """A JSON cell, refusing what ``json.loads`` would let through: a key given twice (it
    keeps the last value), NaN and Infinity (not JSON)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise RowProblem(
                        "payload",
                        f"`payload`: key `{shorten(key, 60)}` is given twice in one JSON "
                        "object; keys must be unique (which value is meant?)",
                    )
                seen.add(key)
        return obj

    def constant(name: str) -> Any:
        raise RowProblem(
            "payload",
            f"`payload`: {name} is not a JSON value; send a finite number, null, "
            "or leave the key out",
        )

    try:
        return json.loads(cell, object_pairs_hook=unique, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise RowProblem(
            "payload", f"`payload`: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise RowProblem(
            "payload", f"`payload` is nested more than {MAX_PAYLOAD_DEPTH} levels deep"
        ) from None
    except ValueError as exc:  # an integer too long to read
        raise RowProblem("payload", f"`payload`: {shorten(str(exc), 80)}") from None


def _csv_record(columns: list[str], extra: list[str], cells: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    from_columns: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=True):
        if cell == "":
            continue  # an empty cell is an absent value
        if name == "payload":
            loaded = _strict_json(cell)
            if not isinstance(loaded, dict):
                raise RowProblem("payload", "`payload` must be a JSON object")
            payload = loaded
        elif name in extra:
            from_columns[name] = cell
        else:
            record[name] = cell
    for name in sorted(from_columns.keys() & payload.keys()):
        raise RowProblem(
            name,
            f"`{shorten(name, 60)}` is given twice: as a column and as a key of the `payload` "
            "cell (which value is meant?)",
        )
    payload.update(from_columns)
    if payload:
        record["payload"] = payload
    return record


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()
