"""Shared machinery for the CRM importers: reading export files, validating their rows,
dead-lettering the bad ones, buffering signals, reporting.

An importer maps one export format into users/teams, accounts, contacts, deals and signals,
with deterministic ids, so that importing the same export twice changes nothing: reference
rows are upserted with :func:`revfield.memory.upsert` (inserted when new, updated only when a
value changed) and signals go through the same idempotent ingest as ``revfield ingest``.

Every row is checked before anything is written. :class:`ExportFile` reads one CSV file row by
row; a row that can't be read (invalid UTF-8, a broken quote, missing or extra cells, a NUL
byte), that its pydantic model (a subclass of :class:`ExportRow`) refuses, that repeats an id
with different content, or that names something the export doesn't hold is dead-lettered with
its file, line, field and a one-line reason, and the good rows around it are kept. Only an
export that can't be read as a whole (a missing or unreadable file, a missing column) raises
:class:`CrmImportError`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from revfield._text import did_you_mean, plural, shorten
from revfield.clock import Clock
from revfield.domain import Segment
from revfield.errors import RevfieldError
from revfield.ingest._ingest import DeadLetterNote, IngestReport, ingest_signals
from revfield.memory import Session, Store, TableCount, write_dead_letters

__all__ = [
    "COUNT",
    "FLAG",
    "MAYBE_COUNT",
    "MAYBE_FLAG",
    "MAYBE_MOMENT",
    "MAYBE_MONEY",
    "MAYBE_NUMBER",
    "MOMENT",
    "MONEY",
    "NUMBER",
    "CrmImportError",
    "CsvRow",
    "ExportFile",
    "ExportRow",
    "FileCount",
    "ImportReport",
    "SignalBuffer",
    "TableCount",
    "bad",
    "choice",
    "maybe_choice",
    "maybe_text",
    "optional",
    "required",
    "row_error",
    "segment_for_employees",
    "slug",
    "text",
    "utc_time",
    "where",
    "write_export_dead_letters",
]

MAX_AMOUNT = 1_000_000_000_000
"""Amounts are stored as NUMERIC(14, 2): below a trillion."""
MAX_COUNT = 2_147_483_647
"""Counts (employees, seats) are stored as 32-bit integers."""
YEARS = (1900, 2100)
"""Dates outside these years are typos (``0217``, ``20177``), not CRM history."""


class CrmImportError(RevfieldError):
    """The export can't be imported as a whole: an unknown export kind, a missing directory,
    a missing or unreadable file, a missing column. Bad rows inside a readable export are
    dead-lettered instead, and the import goes on."""


@dataclass
class FileCount:
    """What became of the data rows of one export file."""

    rows: int = 0
    """Data rows read (blank lines aside)."""
    dead_lettered: int = 0
    """Rows refused, each in the ``dead_letters`` table with its line, field and reason."""
    repeated: int = 0
    """Rows that repeat an earlier row of the file exactly: skipped, nothing to add."""


@dataclass
class ImportReport:
    """What one CRM import did: rows added, updated and left unchanged per table, the signals
    it derived, the rows it could not import, and the quirks of the data it handled."""

    kind: str
    """The export format: ``maven``, ``olist``, ``ravenstack`` or ``tickets``."""
    directory: str
    tables: dict[str, TableCount] = field(default_factory=dict)
    """Reference rows (users, teams, accounts, contacts, deals) by table."""
    signals: IngestReport | None = None
    """The signals derived from the export, through the same idempotent ingest."""
    files: dict[str, FileCount] = field(default_factory=dict)
    """Rows read, dead-lettered and skipped as exact repeats, by export file name."""
    dead_letters: list[DeadLetterNote] = field(default_factory=list)
    """Every row of the export that could not be imported, with file, line, field and reason
    (all of them are also in the ``dead_letters`` table)."""
    notes: list[str] = field(default_factory=list)
    """Quirks of the data the importer handled, and rows it skipped or filled in, in words,
    with counts and the lines to look at."""

    @property
    def new_rows(self) -> int:
        """Rows added, signals included (0: the memory already holds this export)."""
        rows = sum(t.inserted for t in self.tables.values())
        return rows + (self.signals.accepted if self.signals else 0)

    @property
    def updated_rows(self) -> int:
        """Reference rows whose values changed since an earlier import."""
        return sum(t.updated for t in self.tables.values())

    @property
    def dead_lettered(self) -> int:
        """Rows not imported: export rows refused, plus derived signals ingest refused."""
        return len(self.dead_letters) + (self.signals.dead_lettered if self.signals else 0)

    def dead_letter_summary(self) -> list[str]:
        """One line per file with dead letters: how many, which fields, the first lines, and
        the command that lists them all."""
        by_file: dict[Path, list[DeadLetterNote]] = {}
        for note in self.dead_letters:
            by_file.setdefault(Path(note.file or "?"), []).append(note)
        out = []
        for path, notes in by_file.items():
            fields = Counter(f"`{n.field}`" if n.field else "whole row" for n in notes)
            parts = ", ".join(f"{f} {n:,}" for f, n in fields.most_common())
            out.append(
                f"{path.name}: {plural(len(notes), 'row')} dead-lettered ({parts}) at "
                f"{where([n.line for n in notes])}; `revfield dead-letters --file "
                f"{path.parent.name}/{path.name}` lists them with the reason"
            )
        return out


class SignalBuffer:
    """Signals an importer derives, grouped by the export file and line they came from, so
    a dead letter points at the right place."""

    def __init__(self) -> None:
        self._by_file: dict[Path, list[tuple[int, dict[str, Any]]]] = {}

    def add(self, path: Path, line: int, record: dict[str, Any]) -> None:
        """Queue one signal record derived from ``line`` of ``path``."""
        self._by_file.setdefault(path, []).append((line, record))

    def ingest(self, store: Store, clock: Clock, label: str) -> IngestReport:
        """Store the queued signals through the idempotent ingest, one file at a time."""
        total = IngestReport(label)
        for path, items in self._by_file.items():
            part = ingest_signals(
                (r for _, r in items),
                store=store,
                clock=clock,
                source=str(path.resolve()),
                lines=(n for n, _ in items),
            )
            for name in (
                "rows",
                "accepted",
                "duplicates",
                "dead_lettered",
                "unattributed",
                "accounts_created",
                "contacts_created",
                "seconds",
            ):
                setattr(total, name, getattr(total, name) + getattr(part, name))
            total.problems.extend(part.problems)
            total.duplicate_lines.extend(part.duplicate_lines)
        return total


# -- reading export files -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of an export file: its first line, its cells as written and by column
    (stripped)."""

    line: int
    cells: list[str]
    data: dict[str, str]

    @property
    def raw(self) -> str:
        """The row as CSV text, for the dead-letter table."""
        return _csv_line(self.cells)


Model = TypeVar("Model", bound="ExportRow")


class ExportFile:
    """One CSV file of an export. Checks the file and its header when created (raising
    :class:`CrmImportError`), then hands the importer its readable rows; every row refused on
    the way is kept here as a dead letter with its line, field and reason."""

    def __init__(
        self,
        path: Path,
        required: Sequence[str],
        *,
        reads: Callable[[str], bool] | type[ExportRow] | None = None,
        what: str = "export file",
    ) -> None:
        self.path = path
        self.name = path.name
        self._reads: Callable[[str], bool] | None = (
            frozenset(cast("type[ExportRow]", reads).model_fields).__contains__
            if isinstance(reads, type)
            else reads
        )
        """Which columns the importer reads (all, if None): a cell it doesn't read can't make
        a row unreadable."""
        self.dead: list[tuple[int, str | None, str, str]] = []
        self.count = FileCount()
        self.refused: dict[Hashable, int] = {}
        """Keys of dead-lettered rows → their line: what a row of another file that names
        them is told."""
        self.repeats: list[int] = []
        self.blanks: list[int] = []
        """Lines whose cells are all blank (a spreadsheet's trailing `,,,`): skipped, named."""
        self._claimed: dict[Hashable, tuple[int, tuple[str, ...]]] = {}
        self.header = self._check(required, what)

    # the file as a whole

    def _open(self) -> io.TextIOWrapper:
        # surrogateescape keeps undecodable bytes, so a row of invalid UTF-8 is found and
        # dead-lettered on its own instead of failing the whole file.
        try:
            return self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise self._unreadable_file(exc) from None

    def _check(self, required: Sequence[str], what: str) -> list[str]:
        if not self.path.exists():
            raise CrmImportError(f"{self.path}: no such file ({what})")
        if not self.path.is_file():
            raise CrmImportError(f"{self.path}: is not a file ({what})")
        with self._open() as f:
            try:
                header = next(csv.reader(f))
            except StopIteration:
                raise CrmImportError(f"{self.path}: file is empty ({what})") from None
            except csv.Error as exc:
                raise CrmImportError(f"{self.path}:1: CSV header can't be read: {exc}") from None
            except OSError as exc:
                raise self._unreadable_file(exc) from None
        columns = [_printable(h.strip()) for h in header]
        missing = [c for c in required if c not in columns]
        if missing:
            raise CrmImportError(
                f"{self.path}:1: header is missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(f'`{c}`' for c in missing)} "
                f"(found: {shorten(', '.join(columns) or 'none', 200)})"
            )
        twice = sorted(c for c, n in Counter(columns).items() if n > 1 and c)
        if twice:
            raise CrmImportError(
                f"{self.path}:1: header names column{'s' if len(twice) > 1 else ''} "
                f"{', '.join(f'`{c}`' for c in twice)} more than once"
            )
        return columns

    # its rows

    def rows(self) -> Iterator[CsvRow]:
        """The readable rows, in file order; unreadable ones are dead-lettered on the way."""
        columns = self.header
        with self._open() as f:
            reader = csv.reader(f)
            try:
                next(reader)
                start = reader.line_num + 1
                while True:
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        self.count.rows += 1
                        self._dead(start, None, f"CSV: {exc}; fix the quoting of this row", "")
                        start = reader.line_num + 1
                        continue
                    line, start = start, reader.line_num + 1
                    if not any(c.strip() for c in cells):
                        if cells:  # an empty line is no row; `,,,` is a row with nothing in it
                            self.blanks.append(line)
                        continue
                    self.count.rows += 1
                    problem = _unreadable(cells, columns, self._reads)
                    if problem is not None:
                        column, reason = problem
                        end = start - 1
                        if end > line and column is None:
                            reason += (
                                f" (the row runs from line {line} to {end}: is a quote left open?)"
                            )
                        self._dead(line, column, reason, _csv_line(cells))
                        continue
                    data = {h: c.strip() for h, c in zip(columns, cells, strict=True)}
                    yield CsvRow(line, cells, data)
            except OSError as exc:
                raise self._unreadable_file(exc) from None

    def _unreadable_file(self, exc: OSError) -> CrmImportError:
        return CrmImportError(f"{self.path}: can't be read ({exc.strerror or exc})")

    def parse(self, model: type[Model], row: CsvRow, key: Hashable = None) -> Model | None:
        """The row as ``model``, or None when the model refuses it (dead-lettered, and ``key``
        remembered as refused so that rows naming it can say why it is missing)."""
        try:
            return model.model_validate(row.data)
        except ValidationError as exc:
            column, reason = _describe(exc, model)
            self.refuse(row, column, reason, key)
            return None

    def refuse(self, row: CsvRow, column: str | None, reason: str, key: Hashable = None) -> None:
        """Dead-letter ``row``: ``column`` is to blame, for ``reason``."""
        self._dead(row.line, column, reason, row.raw)
        if key is not None:
            self.refused.setdefault(key, row.line)

    def claim(self, key: Hashable, row: CsvRow, column: str, shown: str, what: str) -> bool:
        """True for the first row with ``key``. A later row with the same content is a repeat
        (skipped, counted); with other content it is a conflict, dead-lettered naming the
        first row's line, and the first row stands."""
        first = self._claimed.get(key)
        content = tuple(row.data.values())
        if first is None:
            self._claimed[key] = (row.line, content)
            return True
        line, seen = first
        if seen == content:
            self.repeats.append(row.line)
            self.count.repeated += 1
        else:
            self._dead(
                row.line,
                column,
                f"`{column}`: {shown} is already at line {line} with different content; "
                f"{what} — keep one of the two rows (line {line} was imported)",
                row.raw,
            )
        return False

    def missing(self, column: str, value: str, key: Hashable, advice: str) -> str:
        """The reason for a row of another file that names ``value`` (``key`` here) when this
        file doesn't hold it: refused here, or never written."""
        line = self.refused.get(key)
        if line is not None:
            return (
                f"`{column}`: `{shorten(value, 60)}` was not imported: its row in {self.name} "
                f"(line {line}) was dead-lettered; fix that row and import again"
            )
        return f"`{column}`: `{shorten(value, 60)}` is not in {self.name}; {advice}"

    def _dead(self, line: int, column: str | None, reason: str, raw: str) -> None:
        # a column's name comes from the file's header: keep it to what the table holds
        self.dead.append((line, column[:200] if column else None, reason, raw))
        self.count.dead_lettered += 1

    def skipped_notes(self) -> list[str]:
        """The report's lines about rows skipped without a dead letter: exact repeats of an
        earlier row, and rows whose cells are all blank."""
        notes = []
        if self.repeats:
            one = len(self.repeats) == 1
            notes.append(
                f"{plural(len(self.repeats), 'row')} of {self.name} "
                f"{'repeats' if one else 'repeat'} an earlier row exactly and "
                f"{'was' if one else 'were'} skipped ({where(self.repeats)})"
            )
        if self.blanks:
            one = len(self.blanks) == 1
            notes.append(
                f"{plural(len(self.blanks), 'row')} of {self.name} "
                f"{'has' if one else 'have'} only blank cells and "
                f"{'was' if one else 'were'} skipped ({where(self.blanks)})"
            )
        return notes


def write_export_dead_letters(
    session: Session, files: Iterable[ExportFile], report: ImportReport, now: datetime
) -> None:
    """Store the dead letters of ``files`` (the same row again is stored once) and put them
    in ``report``, with each file's counts."""
    for f in files:
        entries = sorted(f.dead, key=lambda d: d[0])
        source = str(f.path.resolve())
        write_dead_letters(session, source, entries, now=now)
        report.dead_letters.extend(DeadLetterNote(n, c, r, source) for n, c, r, _ in entries)
        report.files[f.name] = f.count
        report.notes.extend(f.skipped_notes())


def _unreadable(
    cells: list[str], columns: list[str], reads: Callable[[str], bool] | None
) -> tuple[str | None, str] | None:
    """What makes this row unreadable: undecodable bytes or a NUL in a cell the importer
    reads, or a count of cells that doesn't match the header."""
    joined = "".join(cells)
    if not joined.isascii() and _undecodable(joined):
        for column, cell in zip(columns, cells, strict=False):
            if (reads is None or reads(column)) and _undecodable(cell):
                return column or None, (
                    f"`{column}`: invalid UTF-8 in this cell; re-export the file as UTF-8"
                )
        if len(cells) > len(columns) and any(map(_undecodable, cells[len(columns) :])):
            return None, "invalid UTF-8 in this row; re-export the file as UTF-8"
    if "\x00" in joined:
        for column, cell in zip(columns, cells, strict=False):
            if (reads is None or reads(column)) and "\x00" in cell:
                return column or None, (
                    f"`{column}`: contains a NUL character (byte 0); remove it and export again"
                )
    if len(cells) != len(columns):
        return None, (
            f"row has {len(cells)} cells but the header has {len(columns)} columns; "
            "a cell is missing, or a comma in a value is not quoted"
        )
    return None


def _undecodable(cell: str) -> bool:
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _printable(value: str) -> str:
    # the dead-letter table keeps text: undecodable bytes and NULs become U+FFFD
    if value.isascii() and "\x00" not in value:
        return value
    fixed = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return fixed.replace("\x00", "\ufffd")


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return _printable(buf.getvalue())


def where(lines: Sequence[int], limit: int = 5) -> str:
    """``line 7`` or ``lines 7, 9, 12 and 40 more``: where to look."""
    shown = ", ".join(str(n) for n in lines[:limit])
    more = len(lines) - limit
    if len(lines) == 1:
        return f"line {shown}"
    return f"lines {shown}" + (f" and {more:,} more" if more > 0 else "")


# -- row models -----------------------------------------------------------------------------


class ExportRow(BaseModel):
    """A row of an export file, validated: each field a column, typed with the validators of
    this module, so that a refused value reads as one line naming the column, the value and
    what to do. ``blank`` holds the reason for a blank required column, when the generic one
    (``is blank; fill it in``) does not say enough."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    blank: ClassVar[Mapping[str, str]] = {}


def row_error(column: str, reason: str) -> PydanticCustomError:
    """An error of a whole row (raise it from a model validator): ``column`` to blame."""
    return PydanticCustomError("row", "{reason}", {"column": column, "reason": reason})


def bad(reason: str) -> PydanticCustomError:
    """A refused value (raise it from a column's parser): ``reason`` names the value and says
    what to write instead; the column's name is put in front."""
    return PydanticCustomError("value", "{reason}", {"reason": reason})


T = TypeVar("T")


def required(parse: Callable[[str], T]) -> PlainValidator:
    """A required column: blank is refused, anything else goes through ``parse`` (which
    raises :func:`bad` for a value it refuses)."""

    def check(value: Any) -> T:
        if not isinstance(value, str) or not value:
            raise PydanticCustomError("blank", "is blank")
        return parse(value)

    return PlainValidator(check)


def optional(parse: Callable[[str], T]) -> PlainValidator:
    """An optional column: blank is None, anything else goes through ``parse``."""

    def check(value: Any) -> T | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise bad(f"`{shorten(value)}` is not text")
        return parse(value)

    return PlainValidator(check)


def _length(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > limit:
            raise bad(f"{len(value):,} characters is over the {limit:,}-character limit")
        return value

    return parse


def text(limit: int) -> PlainValidator:
    """A required text column of at most ``limit`` characters."""
    return required(_length(limit))


def maybe_text(limit: int) -> PlainValidator:
    """An optional text column (blank: None) of at most ``limit`` characters."""
    return optional(_length(limit))


def _choice(label: str, values: Iterable[str]) -> Callable[[str], str]:
    canonical = {v.lower(): v for v in values}
    shown = ", ".join(canonical.values())

    def parse(value: str) -> str:
        found = canonical.get(value.lower())
        if found is None:
            raise bad(
                f"unknown {label} `{shorten(value, 40)}`"
                f"{did_you_mean(value, canonical.values())} (one of {shown})"
            )
        return found

    return parse


def choice(label: str, values: Iterable[str]) -> PlainValidator:
    """A required column holding one of ``values`` (any case; the canonical spelling kept)."""
    return required(_choice(label, values))


def maybe_choice(label: str, values: Iterable[str]) -> PlainValidator:
    """An optional column holding one of ``values``, or blank (None)."""
    return optional(_choice(label, values))


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WHOLE = re.compile(r"[+-]?\d+(?:\.0*)?")


def _number(value: str) -> float:
    if not _DECIMAL.fullmatch(value):
        raise bad(
            f"`{shorten(value, 40)}` is not a number; write digits with a `.` for decimals, "
            "e.g. `1054` or `1054.50`"
        )
    number = float(value)
    if not math.isfinite(number):
        raise bad(f"`{shorten(value, 40)}` is too large to be a number")
    if number < 0:
        raise bad(f"`{shorten(value, 40)}` is negative; it can't be below 0")
    return number


def _money(value: str) -> float:
    amount = _number(value)
    if amount >= MAX_AMOUNT:
        raise bad(f"`{shorten(value, 40)}` is too large: amounts must be below {MAX_AMOUNT:,}")
    return amount


def _count(value: str) -> int:
    if not _WHOLE.fullmatch(value):
        raise bad(f"`{shorten(value, 40)}` is not a whole number; write digits only, e.g. `12`")
    count = int(float(value)) if "." in value else int(value)
    if count < 0:
        raise bad(f"`{shorten(value, 40)}` is negative; it can't be below 0")
    if count > MAX_COUNT:
        raise bad(f"`{shorten(value, 40)}` is too large: at most {MAX_COUNT:,}")
    return count


_FLAGS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _flag(value: str) -> bool:
    found = _FLAGS.get(value.lower())
    if found is None:
        raise bad(f"`{shorten(value, 40)}` is not a flag; write `True` or `False`")
    return found


_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


def _moment(value: str) -> datetime:
    if not _MOMENT.fullmatch(value):
        raise bad(
            f"`{shorten(value, 40)}` is not a date; write it as YYYY-MM-DD (or YYYY-MM-DD HH:MM:SS)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise bad(f"`{shorten(value, 40)}` is not a date ({exc}); fix the date") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise bad(
            f"`{shorten(value, 40)}`: the year {moment.year} can't be right "
            f"(expected {YEARS[0]}–{YEARS[1]}); fix the date"
        )
    return moment


MOMENT = required(_moment)
"""A required date or timestamp column (``2017-03-01``, ``2018-02-26 19:58:54``), as written:
naive unless it states its offset."""
MAYBE_MOMENT = optional(_moment)
"""An optional date or timestamp column."""
NUMBER = required(_number)
"""A required non-negative, finite number."""
MAYBE_NUMBER = optional(_number)
"""An optional non-negative, finite number."""
MONEY = required(_money)
"""A required amount: a non-negative number below a trillion."""
MAYBE_MONEY = optional(_money)
"""An optional amount."""
COUNT = required(_count)
"""A required non-negative whole number (``12``; ``12.0`` is read as 12)."""
MAYBE_COUNT = optional(_count)
"""An optional non-negative whole number."""
FLAG = required(_flag)
"""A required flag: ``True``/``False`` (any case), ``1``/``0``, ``yes``/``no``."""
MAYBE_FLAG = optional(_flag)
"""An optional flag."""


def _describe(exc: ValidationError, model: type[ExportRow]) -> tuple[str | None, str]:
    """The first error of ``exc`` as (column, one-line reason), the others counted."""
    errors = exc.errors(include_url=False)
    described = [_one(e, model) for e in errors]
    column, reason = described[0]
    if len(described) > 1:
        others = [c for c, _ in described[1:] if c]
        more = ", ".join(f"`{c}`" for c in others[:3])
        n = len(described) - 1
        reason += f" (and {n} more problem{'s' if n > 1 else ''}{': ' + more if more else ''})"
    return column, reason


def _one(err: Any, model: type[ExportRow]) -> tuple[str | None, str]:
    loc = ".".join(str(p) for p in err["loc"])
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind in ("blank", "missing"):
        return loc, model.blank.get(loc, f"`{loc}` is blank; fill it in and import again")
    if kind == "value":
        return loc, f"`{loc}`: {ctx['reason']}"
    if kind == "row":
        return str(ctx["column"]), str(ctx["reason"])
    return loc or None, f"`{loc}`: {err['msg']}"


# -- small helpers shared by the importers --------------------------------------------------


def slug(value: str) -> str:
    """Lower-case letters and digits, runs of anything else made one ``-``: an id part."""
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def utc_time(moment: datetime, tz: ZoneInfo | None = None) -> datetime:
    """An export timestamp as an aware UTC datetime: a naive one is in the export's time zone
    (UTC unless stated); one with an offset keeps it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz or UTC)
    return moment.astimezone(UTC)


def segment_for_employees(employees: int | None) -> Segment | None:
    """Company size bands: SMB under 200 employees, mid-market under 1,000, else enterprise."""
    if employees is None:
        return None
    if employees < 200:
        return Segment.SMB
    if employees < 1000:
        return Segment.MID_MARKET
    return Segment.ENTERPRISE
