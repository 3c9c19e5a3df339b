"""Re-sending a file: every accepted signal stays stored once, the report counts what the file
holds (new, duplicate, dead-lettered) whatever the batch size, a re-sent row with changed
content is dead-lettered as a conflict, and a file mixing stored and new rows adds only the
new ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from revfield.clock import ManualClock
from revfield.ingest import IngestReport, ingest_file, ingest_signals
from revfield.memory import Store
from revfield.memory.models import Account, Contact, DeadLetter, Signal
from tests.factories import make_account, signal, write_jsonl

BATCHES = [1, 7, 40, 5000]
"""One row per batch, batches smaller and larger than the sample that tells a re-send, and
the whole file in one batch."""


def _feed(n: int) -> list[dict[str, Any] | str]:
    """A mixed feed: company domains, contacts by email (some free mail), an account by id,
    free text, and a bad row every 25 lines."""
    records: list[dict[str, Any] | str] = []
    for i in range(1, n + 1):
        if i % 25 == 0:
            records.append(signal(i, occurred_at="yesterday"))
        elif i % 5 == 0:
            records.append(signal(i, account_domain=None, contact_email=f"p{i % 3}@gmail.com"))
        elif i % 3 == 0:
            records.append(
                signal(
                    i,
                    source="crm",
                    kind="email_replied",
                    account_domain=None,
                    contact_email=f"p{i % 4}@co{i % 6}.com",
                    text="Thanks, we are comparing options.",
                )
            )
        elif i % 7 == 0:
            records.append(signal(i, account_domain=None, account_id="acme"))
        else:
            records.append(signal(i, account_domain=f"co{i % 9}.com"))
    return records


def _signals(store: Store) -> list[tuple[Any, ...]]:
    """Every stored signal as stored, ids and receive times included."""
    with store.read() as s:
        return sorted(s.execute(sa.select(Signal.__table__)).all())


def _count(store: Store, table: type) -> int:
    with store.read() as s:
        return int(s.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _shown(report: IngestReport) -> tuple[Any, ...]:
    """What a report tells its reader, without the time it took."""
    return (
        report.rows,
        report.accepted,
        report.duplicates,
        report.dead_lettered,
        report.unattributed,
        report.accounts_created,
        report.contacts_created,
        [(p.line, p.field, p.reason) for p in report.problems],
        report.duplicate_lines,
    )


@pytest.mark.parametrize("batch", BATCHES)
def test_a_re_sent_file_stores_nothing_twice_and_counts_the_same(
    store: Store, clock: ManualClock, tmp_path: Path, batch: int
) -> None:
    make_account(store, "acme")
    path = write_jsonl(tmp_path / "feed.jsonl", _feed(120))
    first = ingest_file(path, store=store, clock=clock, batch_size=batch)
    stored = _signals(store)
    accounts, contacts, letters = (_count(store, t) for t in (Account, Contact, DeadLetter))

    clock.advance(timedelta(hours=1))
    again = ingest_file(path, store=store, clock=clock, batch_size=batch)

    assert (first.accepted, first.duplicates, first.dead_lettered) == (116, 0, 4)
    assert (again.rows, again.accepted, again.duplicates, again.dead_lettered) == (120, 0, 116, 4)
    assert (again.accounts_created, again.contacts_created, again.unattributed) == (0, 0, 0)
    assert [(p.line, p.field) for p in again.problems] == [
        (p.line, p.field) for p in first.problems
    ]
    ids = {(s.source, s.external_id): s.id for s in stored}
    assert again.duplicate_lines == [
        (line, ids[("crm" if line % 3 == 0 and line % 5 else "web", f"e-{line}")])
        for line in range(1, 21)
    ]
    assert _signals(store) == stored  # nothing added, nothing changed
    assert (_count(store, Account), _count(store, Contact), _count(store, DeadLetter)) == (
        accounts,
        contacts,
        letters,
    )


def test_the_report_of_a_re_send_does_not_depend_on_the_batch_size(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    make_account(store, "acme")
    path = write_jsonl(tmp_path / "feed.jsonl", _feed(90))
    ingest_file(path, store=store, clock=clock)
    reports = {
        b: _shown(ingest_file(path, store=store, clock=clock, batch_size=b)) for b in BATCHES
    }
    assert len(set(map(repr, reports.values()))) == 1, reports


@pytest.mark.parametrize("batch", BATCHES)
def test_a_re_sent_row_with_changed_content_is_a_conflict_and_the_stored_signal_stays(
    store: Store, clock: ManualClock, tmp_path: Path, batch: int
) -> None:
    records = [signal(n, account_domain=f"co{n % 4}.com") for n in range(1, 61)]
    ingest_file(write_jsonl(tmp_path / "a.jsonl", records), store=store, clock=clock)
    stored = _signals(store)
    changed = list(records)
    changed[9] = signal(10, account_domain="co2.com", payload={"url": "/changed"})
    changed[44] = signal(45, account_domain="brand-new.io")  # other content, a new company
    path = write_jsonl(tmp_path / "b.jsonl", changed)

    report = ingest_file(path, store=store, clock=clock, batch_size=batch)

    assert (report.accepted, report.duplicates, report.dead_lettered) == (0, 58, 2)
    ids = {s.external_id: s.id for s in stored}
    assert [(p.line, p.field) for p in report.problems] == [
        (10, "external_id"),
        (45, "external_id"),
    ]
    first, second = report.problems
    assert f"already stored as signal #{ids['e-10']} with different content" in first.reason
    assert f"already stored as signal #{ids['e-45']} with different content" in second.reason
    assert _signals(store) == stored
    with store.read() as s:
        letters = s.execute(sa.select(DeadLetter.line, DeadLetter.raw)).all()
        new_company = s.get(Account, "brand-new.io")
    assert sorted(line for line, _ in letters) == [10, 45]
    assert '"/changed"' in dict(letters)[10]  # the row as sent, to be looked at
    # The conflicting row went through identity resolution as before: its company started
    # a prospect account although the signal itself was refused.
    assert new_company is not None and report.accounts_created == 1


@pytest.mark.parametrize("batch", BATCHES)
def test_a_file_mixing_stored_and_new_rows_stores_only_the_new_ones(
    store: Store, clock: ManualClock, tmp_path: Path, batch: int
) -> None:
    old = [signal(n, account_domain=f"co{n % 5}.com") for n in range(1, 51)]
    ingest_file(write_jsonl(tmp_path / "old.jsonl", old), store=store, clock=clock)
    stored = _signals(store)
    new = [
        signal(
            n,
            account_domain=None,
            contact_email=f"kim{n}@new{n % 3}.com",
            occurred_at=datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
        )
        for n in range(51, 71)
    ]
    mixed = [row for pair in zip(old[:20], new, strict=True) for row in pair] + old[20:]
    clock.advance(timedelta(hours=1))

    report = ingest_file(
        write_jsonl(tmp_path / "mixed.jsonl", mixed), store=store, clock=clock, batch_size=batch
    )

    assert (report.rows, report.accepted, report.duplicates, report.dead_lettered) == (
        70,
        20,
        50,
        0,
    )
    assert (report.accounts_created, report.contacts_created) == (3, 20)
    after = _signals(store)
    assert after[: len(stored)] == stored  # what was accepted before is kept as it was
    added = after[len(stored) :]
    assert sorted(s.external_id for s in added) == sorted(f"e-{n}" for n in range(51, 71))
    assert {s.account_id for s in added} == {"new0.com", "new1.com", "new2.com"}
    assert all(s.contact_id is not None for s in added)
    ids = {s.external_id: s.id for s in stored}
    assert report.duplicate_lines[:3] == [(1, ids["e-1"]), (3, ids["e-2"]), (5, ids["e-3"])]


def test_a_key_sent_twice_in_a_re_sent_file_is_judged_against_the_stored_signal(
    store: Store, clock: ManualClock
) -> None:
    records = [signal(n) for n in range(1, 41)]
    ingest_signals(records, store=store, clock=clock)
    resent = [*records, signal(3), signal(5, text="changed"), signal(41)]
    report = ingest_signals(resent, store=store, clock=clock)
    assert (report.accepted, report.duplicates, report.dead_lettered) == (1, 41, 1)
    assert [(p.line, p.field) for p in report.problems] == [(42, "external_id")]
    assert _count(store, Signal) == 41


def test_batches_straddling_stored_and_new_rows_store_each_signal_once(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    """The first half of a file was sent before: sent whole, in batches of 30, one batch is
    all stored rows, one half stored and half new, one all new."""
    records = [signal(n, account_domain=f"co{n % 3}.com") for n in range(1, 81)]
    half = write_jsonl(tmp_path / "half.jsonl", records[:40])
    whole = write_jsonl(tmp_path / "whole.jsonl", records)
    ingest_file(half, store=store, clock=clock)
    report = ingest_file(whole, store=store, clock=clock, batch_size=30)
    again = ingest_file(whole, store=store, clock=clock, batch_size=30)
    assert (report.accepted, report.duplicates) == (40, 40)
    assert (again.accepted, again.duplicates) == (0, 80)
    with store.read() as s:
        keys = s.execute(sa.select(Signal.external_id)).scalars().all()
    assert sorted(keys) == sorted(f"e-{n}" for n in range(1, 81))
