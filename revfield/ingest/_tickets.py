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
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from revfield.clock import Clock
from revfield.ingest._crm import CrmImportError, ImportReport, SignalBuffer, read_csv
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


def import_tickets(
    store: Store,
    directory: Path,
    *,
    clock: Clock,
    accounts: Sequence[str] = (),
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> ImportReport:
    report = ImportReport("tickets", str(directory))
    files = sorted(directory.glob("*.csv")) if directory.is_dir() else [directory]
    if not files or not files[0].is_file():
        raise CrmImportError(f"{directory}: no tickets CSV found")
    pool = _account_pool(store, accounts)
    signals = SignalBuffer()
    fixed_types = 0
    for path in files:
        for row in read_csv(path, ["subject", "body", "priority"]):
            d = row.data
            digest = hashlib.sha256(f"{d['subject']}\n{d['body']}".encode()).hexdigest()
            spot = int(digest[:12], 16)
            when = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
                days=spot % max(days, 1), hours=8 + (spot >> 8) % 10, minutes=(spot >> 16) % 60
            )
            business = d.get("business_type", "").strip("_ ").replace("_", " ")
            fixed_types += business != d.get("business_type", "")
            payload: dict[str, object] = {
                "priority": PRIORITIES.get(d["priority"].lower()),
                "type": d.get("type") or None,
                "queue": d.get("queue") or None,
                "language": d.get("language") or None,
                "business_type": business or None,
                "tags": [d[k] for k in sorted(d) if k.startswith("tag_") and d[k]],
                "answer": d.get("answer") or None,
            }
            text = f"{d['subject']}\n\n{d['body']}" if d["subject"] else d["body"]
            signals.add(
                path,
                row.line,
                {
                    "source": SOURCE,
                    "external_id": f"row{row.line}-{digest[:12]}",
                    "kind": "support_ticket",
                    "occurred_at": when.isoformat(),
                    "account_id": pool[spot % len(pool)],
                    "text": text,
                    "payload": {k: v for k, v in payload.items() if v not in (None, [])},
                },
            )
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
