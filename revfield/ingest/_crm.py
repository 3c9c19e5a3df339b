"""Shared machinery for the CRM importers: reading exports, buffering signals, reporting.

An importer maps one export format into users/teams, accounts, contacts, deals and signals,
with deterministic ids, so that importing the same export twice changes nothing: reference
rows are upserted with :func:`revfield.memory.upsert` (inserted when new, updated only when a
value changed) and signals go through the same idempotent ingest as ``revfield ingest``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from revfield.clock import Clock
from revfield.domain import Segment
from revfield.errors import RevfieldError
from revfield.ingest._ingest import DeadLetterNote, IngestReport, ingest_signals
from revfield.memory import Store, TableCount

__all__ = [
    "CrmImportError",
    "CsvRow",
    "ImportReport",
    "SignalBuffer",
    "TableCount",
    "as_day",
    "as_time",
    "read_csv",
    "segment_for_employees",
    "slug",
]


class CrmImportError(RevfieldError):
    """The export can't be imported as a whole: an unknown export kind, a missing directory,
    file or column. Bad rows inside a readable export are dead-lettered instead."""


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
    dead_letters: list[DeadLetterNote] = field(default_factory=list)
    """Rows of the export that could not be imported, with the reason (file, line, field)."""
    notes: list[str] = field(default_factory=list)
    """Quirks of the data that the importer handled, in words, with counts."""

    @property
    def new_rows(self) -> int:
        """Rows added, signals included (0: the memory already holds this export)."""
        rows = sum(t.inserted for t in self.tables.values())
        return rows + (self.signals.accepted if self.signals else 0)

    @property
    def updated_rows(self) -> int:
        """Reference rows whose values changed since an earlier import."""
        return sum(t.updated for t in self.tables.values())


class SignalBuffer:
    """Signals an importer derives, grouped by the export file and line they came from, so
    a dead letter points at the right place."""

    def __init__(self) -> None:
        self._by_file: dict[Path, list[tuple[int, dict[str, Any]]]] = {}

    def add(self, path: Path, line: int, record: dict[str, Any]) -> None:
        self._by_file.setdefault(path, []).append((line, record))

    def ingest(self, store: Store, clock: Clock, label: str) -> IngestReport:
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


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    data: dict[str, str]
    raw: str


def read_csv(path: Path, required: Sequence[str]) -> Iterator[CsvRow]:
    """Rows of one export file with their first line numbers; checks the header first."""
    if not path.is_file():
        raise CrmImportError(f"{path}: no such file")
    f = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(f)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        f.close()
        raise CrmImportError(f"{path}: file is empty") from None
    missing = [c for c in required if c not in header]
    if missing:
        f.close()
        raise CrmImportError(
            f"{path}:1: header is missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(f'`{c}`' for c in missing)} (found: {', '.join(header)})"
        )

    def rows() -> Iterator[CsvRow]:
        with f:
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                buf = io.StringIO()
                csv.writer(buf, lineterminator="").writerow(cells)
                data = {h: c.strip() for h, c in zip(header, cells, strict=False)}
                yield CsvRow(line, data, buf.getvalue())

    return rows()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def as_day(value: str) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def as_time(value: str, tz: ZoneInfo | None = None) -> datetime | None:
    """A naive export timestamp (``2017-03-01`` or ``2018-02-26 19:58:54``) in the export's
    time zone (UTC unless stated), as an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=tz or UTC).astimezone(UTC)


def segment_for_employees(employees: int | None) -> Segment | None:
    """Company size bands: SMB under 200 employees, mid-market under 1,000, else enterprise."""
    if employees is None:
        return None
    if employees < 200:
        return Segment.SMB
    if employees < 1000:
        return Segment.MID_MARKET
    return Segment.ENTERPRISE
