"""Read signal files row by row, without judging the rows.

A reader yields :class:`RawRow` values: the row's first line number, its raw text (kept for
the dead-letter table) and either the data to validate or a problem already found (invalid
UTF-8, an oversized row, a broken ``payload`` cell). Only a file that can't be read as a whole
raises :class:`IngestFileError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revfield.errors import RevfieldError
from revfield.ingest._diagnostics import RowProblem
from revfield.ingest._schema import MAX_LINE_BYTES, REQUIRED_FIELDS, SIGNAL_FIELDS

__all__ = ["FORMATS", "IngestFileError", "RawRow", "count_lines", "read_rows"]

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class IngestFileError(RevfieldError):
    """The file as a whole can't be ingested (missing, a directory, an unknown extension, empty,
    a CSV header that can't be read or lacks a required column); nothing was read from it. Bad
    rows are dead-lettered instead, and ``revfield ingest`` exits non-zero only for this."""

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


def count_lines(path: Path) -> int:
    """Physical lines in ``path`` (for progress bars); cheap, reads in 1 MiB blocks."""
    n = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def read_rows(path: Path) -> Iterator[RawRow]:
    """Rows of a ``.jsonl``/``.ndjson``/``.csv`` file. Raises :class:`IngestFileError` first
    when the file is missing, of an unknown type, empty, or (CSV) lacks a required column."""
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
    with path.open("rb") as f:
        head = f.read(4096)
        if not head.strip(b" \t\r\n\xef\xbb\xbf"):
            rest = f.read()
            if not rest.strip():
                raise IngestFileError(path, "file is empty: there are no signals to ingest")
    return fmt


def _decode(data: bytes) -> tuple[str, RowProblem | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        return text, RowProblem(
            None, f"invalid UTF-8 at byte {exc.start + 1} of the row; re-export the file as UTF-8"
        )


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as f:
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
            yield RawRow(number, number, text, None if problem else line, problem)


def _csv_rows(path: Path) -> Iterator[RawRow]:
    # surrogateescape keeps undecodable bytes, so a bad row can be found and dead-lettered
    # on its own instead of failing the whole file.
    f = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise IngestFileError(path, f"CSV header can't be read: {exc}", line=1) from exc
        columns = [h.strip() for h in header]
        missing = [c for c in REQUIRED_FIELDS if c not in columns]
        if missing:
            raise IngestFileError(
                path,
                f"CSV header is missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(f'`{c}`' for c in missing)} (found: {', '.join(columns) or 'none'})",
                line=1,
            )
        extra = [c for c in columns if c not in SIGNAL_FIELDS]
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RawRow(start, reader.line_num, "", None, RowProblem(None, f"CSV: {exc}"))
                start = reader.line_num + 1
                continue
            end = reader.line_num
            row_start, start = start, end + 1
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
            try:
                yield RawRow(row_start, end, raw, _csv_record(columns, extra, cells))
            except RowProblem as problem:
                yield RawRow(row_start, end, raw, None, problem)


def _csv_record(columns: list[str], extra: list[str], cells: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=True):
        if cell == "":
            continue  # an empty cell is an absent value
        if name == "payload":
            try:
                loaded = json.loads(cell)
            except json.JSONDecodeError as exc:
                raise RowProblem(
                    "payload", f"`payload`: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(loaded, dict):
                raise RowProblem("payload", "`payload` must be a JSON object")
            payload = {**loaded, **payload}
        elif name in extra:
            payload[name] = cell
        else:
            record[name] = cell
    if payload:
        record["payload"] = payload
    return record


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()
