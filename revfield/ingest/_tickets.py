"""Customer-support tickets (Tobi-Bueck multilingual set) → ``support_ticket`` signals with text.

The file holds subject, body, the agent's answer, type, queue, priority, language and tags,
but no customer, no ticket id and no timestamp. What revfield does about each gap:

- **customer**: tickets are attached to customer accounts already in memory, chosen by a
  stable hash of the ticket (by default the RavenStack customers, else every customer; or
  the accounts passed with ``--account``). This is a synthetic join, stated as such;
- **id**: ``row<N>-<hash of subject and body>``, stable across imports of the same file;
- **time**: spread deterministically over ``--days`` days from ``--start`` (default the last
  quarter of 2024, the RavenStack window), again from the ticket's hash.

Subject and body become the signal's ``text`` (untrusted data for later fact extraction;
blank subjects are left out); answer, type, queue, language, business type and tags go into
the payload. The business type ``_IT_Services_`` is read as ``IT Services``.

Every row is validated: a row with neither subject nor body, an unknown priority, text over a
signal's limit or a cell that can't be read is dead-lettered; a row repeating an earlier one
exactly is skipped (it would be the same ticket twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import model_validator

from revfield.clock import Clock
from revfield.ingest._crm import (
    CrmImportError,
    ExportFile,
    ExportRow,
    ImportReport,
    SignalBuffer,
    maybe_choice,
    maybe_text,
    row_error,
    write_export_dead_letters,
)
from revfield.ingest._schema import MAX_TEXT_CHARS
from revfield.memory import Store, customer_account_ids, existing_account_ids

__all__ = ["import_tickets"]

SOURCE = "tickets"
DEFAULT_START = date(2024, 10, 1)
DEFAULT_DAYS = 92
PRIORITIES = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "urgent",
    "urgent": "urgent",
}
MAX_TAG = 200


class SupportTicket(ExportRow):
    """A row of the tickets CSV (``tag_*`` columns are read as they are)."""

    subject: Annotated[str | None, maybe_text(MAX_TEXT_CHARS)] = None
    body: Annotated[str | None, maybe_text(MAX_TEXT_CHARS)] = None
    answer: Annotated[str | None, maybe_text(MAX_TEXT_CHARS)] = None
    type: Annotated[str | None, maybe_text(64)] = None
    queue: Annotated[str | None, maybe_text(120)] = None
    priority: Annotated[str | None, maybe_choice("priority", PRIORITIES)] = None
    language: Annotated[str | None, maybe_text(32)] = None
    business_type: Annotated[str | None, maybe_text(120)] = None

    @model_validator(mode="after")
    def _text(self) -> SupportTicket:
        if not self.subject and not self.body:
            raise row_error(
                "body", "`subject` and `body` are both blank: a ticket needs words to read"
            )
        if len(self.text) > MAX_TEXT_CHARS:
            raise row_error(
                "body",
                f"`body`: subject and body are {len(self.text):,} characters, over the "
                f"{MAX_TEXT_CHARS:,}-character limit of a signal's text; shorten the ticket",
            )
        return self

    @property
    def text(self) -> str:
        """Subject and body, as the signal's text."""
        if self.subject and self.body:
            return f"{self.subject}\n\n{self.body}"
        return self.subject or self.body or ""


def _reads(column: str) -> bool:
    return column in SupportTicket.model_fields or column.startswith("tag_")


def import_tickets(
    store: Store,
    directory: Path,
    *,
    clock: Clock,
    accounts: Sequence[str] = (),
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> ImportReport:
    """Import a tickets CSV, or every CSV of a folder (see the module's docstring)."""
    report = ImportReport("tickets", str(directory))
    paths = (
        sorted(p for p in directory.glob("*.csv") if p.is_file())
        if directory.is_dir()
        else [directory]
    )
    if not paths or not paths[0].exists():
        raise CrmImportError(f"{directory}: no tickets CSV found")
    files = [
        ExportFile(p, ["subject", "body", "priority"], reads=_reads, what="tickets CSV")
        for p in paths
    ]
    pool = _account_pool(store, accounts)
    signals = SignalBuffer()
    fixed_types = 0
    for f in files:
        for row in f.rows():
            t = f.parse(SupportTicket, row)
            if t is None:
                continue
            tags = [row.data[k] for k in sorted(row.data) if k.startswith("tag_") and row.data[k]]
            long_tag = next(
                (
                    k
                    for k in sorted(row.data)
                    if k.startswith("tag_") and len(row.data[k]) > MAX_TAG
                ),
                None,
            )
            if long_tag is not None:
                f.refuse(
                    row,
                    long_tag,
                    f"`{long_tag}`: {len(row.data[long_tag]):,} characters is over the "
                    f"{MAX_TAG}-character limit of a tag",
                )
                continue
            if not f.claim(tuple(row.cells), row, "subject", "this ticket", "tickets have no id"):
                continue
            subject, body = t.subject or "", t.body or ""
            digest = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()
            spot = int(digest[:12], 16)
            when = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
                days=spot % max(days, 1), hours=8 + (spot >> 8) % 10, minutes=(spot >> 16) % 60
            )
            written = t.business_type or ""
            business = written.strip("_ ").replace("_", " ")
            fixed_types += business != written
            payload: dict[str, object] = {
                "priority": PRIORITIES[t.priority] if t.priority else None,
                "type": t.type,
                "queue": t.queue,
                "language": t.language,
                "business_type": business or None,
                "tags": tags,
                "answer": t.answer,
            }
            signals.add(
                f.path,
                row.line,
                {
                    "source": SOURCE,
                    "external_id": f"row{row.line}-{digest[:12]}",
                    "kind": "support_ticket",
                    "occurred_at": when.isoformat(),
                    "account_id": pool[spot % len(pool)],
                    "text": t.text,
                    "payload": {k: v for k, v in payload.items() if v not in (None, [])},
                },
            )
    with store.session() as session:
        write_export_dead_letters(session, files, report, clock.now())
    report.signals = signals.ingest(store, clock, str(directory))
    report.notes.append(
        f"tickets carry no customer: attached to {len(pool):,} customer account(s) by a stable "
        "hash (synthetic join)"
    )
    report.notes.append(f"tickets carry no time: spread over {days} days from {start.isoformat()}")
    if fixed_types:
        report.notes.append(
            f"business type `_IT_Services_` read as `IT Services` on {fixed_types} ticket(s)"
        )
    return report


def _account_pool(store: Store, wanted: Sequence[str]) -> list[str]:
    with store.read() as session:
        if wanted:
            found = existing_account_ids(session, wanted)
            unknown = [w for w in wanted if w not in found]
            if unknown:
                raise CrmImportError(
                    f"--account: no account {', '.join(f'`{u}`' for u in unknown)} in memory"
                )
            return list(wanted)
        pool = customer_account_ids(session, source="ravenstack")
        pool = pool or customer_account_ids(session)
    if not pool:
        raise CrmImportError(
            "tickets name no customer and there are no customer accounts to attach them to\n"
            "  help: import the RavenStack export first (`revfield import-crm ravenstack DIR`) "
            "or pass `--account ID`"
        )
    return pool
