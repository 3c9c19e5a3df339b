"""Idempotent, batched ingestion of signals into the account memory.

Flow per batch: validate rows → when the batch looks re-sent (a sample of its keys is
stored), look all its keys up and set aside the rows stored with the same content →
resolve identities of the others (create prospect accounts and contacts as needed) → insert
signals with ``ON CONFLICT DO NOTHING`` → classify the rows that were not inserted (an
identical re-send is a duplicate; different content under a stored key is a conflict and is
dead-lettered) → store dead letters → commit. A batch commits whole or not at
all, so a run killed half-way and run again ends in the same state as one clean run.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from revfield._text import shorten
from revfield.clock import Clock, SystemClock
from revfield.ingest._diagnostics import (
    RowProblem,
    describe,
    may_repeat_a_key,
    repeated_key,
    storable_problem,
)
from revfield.ingest._identity import email_domain, is_free_mail
from revfield.ingest._readers import RawRow, read_rows
from revfield.ingest._schema import SignalRecord
from revfield.memory import (
    NewContact,
    Session,
    SignalRow,
    Store,
    accounts_by_domain,
    add_contacts,
    add_prospect_accounts,
    contacts_by_email,
    existing_account_ids,
    insert_signals,
    is_retryable,
    refused_row,
    stored_signals,
    write_dead_letters,
)

__all__ = ["DeadLetterNote", "IngestReport", "ingest_file", "ingest_signals"]

DEFAULT_BATCH = 5000
MAX_ATTEMPTS = 5
KEEP_NOTES = 20
RESEND_SAMPLE = 32
"""Keys of a batch looked up first to tell a re-sent batch from a new one."""


@dataclass(frozen=True, slots=True)
class DeadLetterNote:
    """One row that was not accepted, as reported to the person who sent it: where it is,
    the field to blame and why. The row itself is in the ``dead_letters`` table."""

    line: int
    """First line of the row in its file (1-based)."""
    field: str | None
    """The field to blame (``kind``, ``occurred_at``…), or None when the row as a whole is."""
    reason: str
    """What is wrong, and what to do about it when there is something to do."""
    file: str | None = None


@dataclass
class IngestReport:
    """What one ingest run did. Counts are of rows in the input."""

    source: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    unattributed: int = 0
    """Accepted signals that name no account (free-mail senders)."""
    accounts_created: int = 0
    contacts_created: int = 0
    seconds: float = 0.0
    problems: list[DeadLetterNote] = field(default_factory=list)
    """The first dead letters, for display; all of them are in the ``dead_letters`` table."""
    duplicate_lines: list[tuple[int, int]] = field(default_factory=list)
    """The first duplicates as ``(line, stored signal id)``."""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def ingest_signals(
    records: Iterable[SignalRecord | Mapping[str, Any]],
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    batch_size: int = DEFAULT_BATCH,
    source: str = "<api>",
    lines: Iterable[int] | None = None,
) -> IngestReport:
    """Store signals given as :class:`SignalRecord` objects or plain mappings.

    Bad records are dead-lettered under ``source`` (standing in for a file name) and their
    line: the matching entry of ``lines``, or else the record's 1-based position. Good
    records are stored once, however often they are sent.
    """
    store = store or _default_store()
    numbers = iter(lines) if lines is not None else itertools.count(1)

    def rows() -> Iterable[RawRow]:
        for n, rec in zip(numbers, records, strict=False):
            yield _api_row(n, rec)

    return _Ingestor(store, clock or SystemClock(), source).run(rows(), batch_size)


def _api_row(n: int, rec: object) -> RawRow:
    """A record given from Python as a row; its raw text is the record as JSON (or, if it
    can't be written as JSON, as Python shows it)."""
    if isinstance(rec, SignalRecord):
        try:
            raw = rec.model_dump_json()
        except ValueError:
            raw = _shown(rec)
        return RawRow(n, n, raw, {"__record__": rec})
    if not isinstance(rec, Mapping):
        return RawRow(
            n,
            n,
            _shown(rec),
            None,
            RowProblem(None, f"a signal must be a mapping, got {type(rec).__name__}"),
        )
    data = dict(rec)
    try:
        raw = json.dumps(data, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        raw = _shown(data)
    return RawRow(n, n, raw, data)


def _shown(value: object) -> str:
    """``repr(value)``, cut to 4,096 characters, for a value that can't be written as JSON."""
    try:
        return shorten(value, 4096)
    except Exception:  # repr() of a value from outside can fail in any way
        return f"(a {type(value).__name__} that can't be shown)"


def ingest_file(
    path: str | Path,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest a JSONL or CSV file. Raises ``IngestFileError`` only when the file as a whole
    can't be read; every row-level problem is a dead letter. ``on_progress`` gets the last
    line number done after each batch."""
    path = Path(path)
    rows = read_rows(path)  # raises before anything is written
    store = store or _default_store()
    ingestor = _Ingestor(store, clock or SystemClock(), str(path.resolve()))
    return ingestor.run(rows, batch_size, on_progress)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one batch.

    A batch allocates tens of thousands of short-lived, acyclic objects; the collector would
    otherwise sweep the growing heap many times per batch (about a sixth of ingest time).
    It runs again between batches, so no cyclic garbage piles up.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _default_store() -> Store:
    from revfield.config import load_settings

    return Store.from_url(load_settings().database_url)


@dataclass(slots=True)
class _Candidate:
    row: RawRow
    rec: SignalRecord
    payload_json: str
    """The payload serialised once, canonically: hashed into the digest and stored as is."""
    occurred: datetime
    """``occurred_at`` in UTC, converted once: hashed into the digest and stored."""
    digest: str
    account_id: str | None = None
    contact_id: int | None = None


@dataclass
class _BatchResult:
    accepted: int = 0
    duplicates: int = 0
    unattributed: int = 0
    accounts_created: int = 0
    contacts_created: int = 0
    dead: list[tuple[RawRow, RowProblem]] = field(default_factory=list)
    duplicate_lines: list[tuple[int, int]] = field(default_factory=list)
    known_accounts: set[str] = field(default_factory=set)
    domains: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, tuple[int, str | None]] = field(default_factory=dict)


class _Ingestor:
    def __init__(self, store: Store, clock: Clock, source: str) -> None:
        self.store = store
        self.clock = clock
        self.source = source
        # Identity caches, filled only from committed transactions.
        self.known_accounts: set[str] = set()
        self.domains: dict[str, str] = {}
        self.contacts: dict[str, tuple[int, str | None]] = {}

    def run(
        self,
        rows: Iterable[RawRow],
        batch_size: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        report = IngestReport(self.source)
        started = time.perf_counter()
        batch: list[RawRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                with _collector_paused():
                    self._batch(batch, report, on_progress)
                batch = []
        if batch:
            with _collector_paused():
                self._batch(batch, report, on_progress)
        report.seconds = time.perf_counter() - started
        return report

    def _batch(
        self,
        rows: list[RawRow],
        report: IngestReport,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        candidates: list[_Candidate] = []
        invalid: list[tuple[RawRow, RowProblem]] = []
        for row in rows:
            try:
                candidates.append(_candidate(row))
            except RowProblem as problem:
                invalid.append((row, problem))
        for result in self._commit(candidates, invalid):
            self._merge(result, report)
        report.rows += len(rows)
        if on_progress:
            on_progress(rows[-1].end_line)

    def _commit(
        self, candidates: list[_Candidate], invalid: list[tuple[RawRow, RowProblem]]
    ) -> list[_BatchResult]:
        """Write the batch in one transaction. Should the database refuse a value the checks
        let through, the batch is halved and each half written alone, down to the row at
        fault, which is dead-lettered with the database's reason: one row never fails the
        file."""
        refusal = self._attempt(candidates, invalid)
        if isinstance(refusal, _BatchResult):
            return [refusal]
        if len(candidates) > 1:
            half = len(candidates) // 2
            return self._commit(candidates[:half], invalid) + self._commit(candidates[half:], [])
        if candidates:
            problem = RowProblem(None, f"the database refused this row: {refusal}")
            return self._commit([], [*invalid, (candidates[0].row, problem)])
        if len(invalid) > 1:  # a dead letter itself refused: find it the same way
            half = len(invalid) // 2
            return self._commit([], invalid[:half]) + self._commit([], invalid[half:])
        ((row, problem),) = invalid
        stand_in = RawRow(row.line, row.end_line, f"(raw row not stored: {refusal})", None)
        with self.store.session() as session:  # refused even so: the database's error stands
            return [self._write(session, [], [(stand_in, problem)])]

    def _attempt(
        self, candidates: list[_Candidate], invalid: list[tuple[RawRow, RowProblem]]
    ) -> _BatchResult | str:
        """One transaction (run again after a lost race): its result, or the database's
        reason for refusing a value in it."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.store.session() as session:
                    return self._write(session, candidates, invalid)
            except Exception as exc:
                refusal = refused_row(exc)
                if refusal is not None:
                    return refusal
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def _merge(self, result: _BatchResult, report: IngestReport) -> None:
        self.known_accounts |= result.known_accounts
        self.domains.update(result.domains)
        self.contacts.update(result.contacts)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.unattributed += result.unattributed
        report.accounts_created += result.accounts_created
        report.contacts_created += result.contacts_created
        report.dead_lettered += len(result.dead)
        for row, issue in sorted(result.dead, key=lambda d: d[0].line):
            if len(report.problems) < KEEP_NOTES:
                report.problems.append(
                    DeadLetterNote(row.line, issue.field, issue.reason, self.source)
                )
        room = KEEP_NOTES - len(report.duplicate_lines)
        report.duplicate_lines.extend(result.duplicate_lines[: max(room, 0)])

    # -- one transaction --------------------------------------------------------------------

    def _write(
        self,
        session: Session,
        candidates: list[_Candidate],
        invalid: list[tuple[RawRow, RowProblem]],
    ) -> _BatchResult:
        result = _BatchResult(dead=list(invalid))
        now = self.clock.now()
        # A re-sent batch: a row stored before with the same content is a duplicate before
        # anything else is done for it (its account and contact were resolved when it was
        # stored); only the other rows are resolved and inserted.
        known = _stored_if_resent(session, candidates)
        repeats: list[_Candidate] = []
        if known:
            fresh: list[_Candidate] = []
            for cand in candidates:
                hit = known.get((cand.rec.source, cand.rec.external_id))
                (repeats if hit is not None and hit[1] == cand.digest else fresh).append(cand)
            candidates = fresh
        resolved = self._resolve(session, candidates, result, now)

        # Each key is inserted once per batch; keys already stored and repeats are judged
        # against what is stored: the same content is a duplicate, other content a conflict.
        first: dict[tuple[str, str], _Candidate] = {}
        for cand in resolved:
            key = (cand.rec.source, cand.rec.external_id)
            if key in first:
                repeats.append(cand)
            else:
                first[key] = cand
        rows: dict[tuple[str, str], SignalRow] = {
            key: (
                c.rec.source,
                c.rec.external_id,
                c.rec.kind.value,
                c.account_id,
                c.contact_id,
                c.rec.contact_email,
                c.occurred,
                c.rec.payload,
                c.payload_json,
                c.rec.text,
                c.digest,
            )
            for key, c in first.items()
        }
        if known:
            inserted, stored = insert_signals(session, rows, now=now, stored=known)
            stored = {**known, **stored}
        else:
            inserted, stored = insert_signals(session, rows, now=now)
        for key, cand in first.items():
            if key in inserted:
                result.accepted += 1
                result.unattributed += cand.account_id is None
            else:
                repeats.append(cand)
        if repeats:
            # Keys another writer stored between our lookup and our insert.
            raced = {(c.rec.source, c.rec.external_id) for c in repeats} - stored.keys()
            stored.update(stored_signals(session, raced))
            self._judge_repeats(repeats, stored, result)
        if result.dead:
            write_dead_letters(
                session,
                self.source,
                [(r.line, p.field, p.reason, r.raw) for r, p in result.dead],
                now=now,
            )
        return result

    @staticmethod
    def _judge_repeats(
        repeats: list[_Candidate],
        stored: dict[tuple[str, str], tuple[int, str]],
        result: _BatchResult,
    ) -> None:
        for cand in sorted(repeats, key=lambda c: c.row.line):
            sid, digest = stored[(cand.rec.source, cand.rec.external_id)]
            if digest == cand.digest:
                result.duplicates += 1
                result.duplicate_lines.append((cand.row.line, sid))
            else:
                result.dead.append(
                    (
                        cand.row,
                        RowProblem(
                            "external_id",
                            f"`external_id`: ({cand.rec.source!r}, {cand.rec.external_id!r}) "
                            f"is already stored as signal #{sid} with different content; "
                            "signals are append-only, "
                            "so send a new external_id for a new observation",
                        ),
                    )
                )

    # -- identity resolution ------------------------------------------------------------------

    def _resolve(
        self,
        session: Session,
        candidates: list[_Candidate],
        result: _BatchResult,
        now: datetime,
    ) -> list[_Candidate]:
        # Identities this batch needs, from the cache of committed ones or the database; new
        # ones are merged into the cache only after the batch commits.
        for cand in candidates:  # nothing from an attempt that was rolled back
            cand.account_id = cand.contact_id = None
        known: set[str] = set()
        emails = {c.rec.contact_email for c in candidates if c.rec.contact_email}
        contacts = {e: self.contacts[e] for e in emails if e in self.contacts}
        want_ids = {c.rec.account_id for c in candidates if c.rec.account_id} - self.known_accounts
        want_emails = emails - contacts.keys()
        known.update(existing_account_ids(session, want_ids))
        contacts.update(contacts_by_email(session, want_emails))

        # The domain that names each row's account, when no account id does.
        row_domains: list[str | None] = []
        for c in candidates:
            rec = c.rec
            d: str | None = None
            if not rec.account_id:
                if rec.account_domain:
                    d = rec.account_domain
                elif (email := rec.contact_email) and (
                    email not in contacts or contacts[email][1] is None
                ):
                    d = email_domain(email)
            row_domains.append(d)
        needed = {d for d in set(row_domains) if d and not is_free_mail(d)}
        domains = {d: self.domains[d] for d in needed if d in self.domains}
        want_domains = needed - domains.keys()
        domains.update(accounts_by_domain(session, want_domains))
        new_domains = sorted(want_domains - domains.keys())
        if new_domains:
            # The first signal from an unknown company domain starts that account's memory.
            result.accounts_created = add_prospect_accounts(session, new_domains, now=now)
            domains.update(accounts_by_domain(session, new_domains))

        resolved: list[_Candidate] = []
        new_contacts: dict[str, _Candidate] = {}
        for cand, d in zip(candidates, row_domains, strict=True):
            rec = cand.rec
            if rec.account_id:
                if rec.account_id not in known and rec.account_id not in self.known_accounts:
                    result.dead.append(
                        (
                            cand.row,
                            RowProblem(
                                "account_id",
                                f"`account_id`: no account `{rec.account_id}` in memory; "
                                "import the CRM "
                                "first or identify the account by `account_domain`",
                            ),
                        )
                    )
                    continue
                cand.account_id = rec.account_id
            elif d is not None:
                cand.account_id = domains.get(d)  # None for free-mail
            elif rec.contact_email:
                cand.account_id = contacts[rec.contact_email][1]
            email = rec.contact_email
            if email:
                if email in contacts:
                    cand.contact_id = contacts[email][0]
                elif cand.account_id is not None and email not in new_contacts:
                    new_contacts[email] = cand
            resolved.append(cand)

        if new_contacts:
            result.contacts_created = add_contacts(
                session,
                [
                    NewContact(email, cand.account_id, cand.rec.contact_name, cand.rec.contact_role)
                    for email, cand in new_contacts.items()
                    if cand.account_id is not None
                ],
                now=now,
            )
            contacts.update(contacts_by_email(session, new_contacts))
            for cand in resolved:
                if cand.contact_id is None and cand.rec.contact_email in contacts:
                    cand.contact_id = contacts[cand.rec.contact_email][0]

        result.known_accounts = known | set(domains.values())
        result.domains = domains
        result.contacts = contacts
        return resolved


def _stored_if_resent(
    session: Session, candidates: list[_Candidate]
) -> dict[tuple[str, str], tuple[int, str]] | None:
    """``(source, external_id) → (id, digest)`` of the batch's stored keys when the batch looks
    like a re-send (some of its keys are stored), else None.

    A sample of :data:`RESEND_SAMPLE` keys tells: when none is stored the batch goes straight
    to the insert, which finds any stored key by itself at no extra cost; when one is,
    all are looked up at once, so duplicates skip identity resolution and the insert."""
    keys = list(dict.fromkeys((c.rec.source, c.rec.external_id) for c in candidates))
    if not keys:
        return None
    sample = keys[:: -(-len(keys) // RESEND_SAMPLE)]
    found = stored_signals(session, sample)
    if found and len(sample) < len(keys):
        found = stored_signals(session, keys)
    return found or None


def _candidate(row: RawRow) -> _Candidate:
    """The row validated and made ready to store, or the :class:`RowProblem` that keeps it
    out: the schema's verdict, then what no database should be given (NUL characters, halves
    of surrogate pairs, NaN and Infinity…), then keys a JSON line gives twice."""
    rec = _parse(row)
    if not row.clean and (problem := storable_problem(rec)):
        raise problem
    try:
        payload_json = _CANONICAL.encode(rec.payload)
    except (ValueError, TypeError, RecursionError):  # NaN or Infinity, a key not a string…
        raise storable_problem(rec) or RowProblem(
            "payload", "`payload` can't be written as JSON"
        ) from None
    if (
        isinstance(row.data, bytes)
        and may_repeat_a_key(row.raw, rec, payload_json)
        and (problem := repeated_key(row.raw))
    ):
        raise problem
    occurred = rec.occurred_at.astimezone(UTC)
    return _Candidate(row, rec, payload_json, occurred, _digest(rec, occurred, payload_json))


def _parse(row: RawRow) -> SignalRecord:
    if row.problem is not None:
        raise row.problem
    data = row.data
    try:
        if isinstance(data, bytes):
            return SignalRecord.model_validate_json(data)
        assert data is not None
        if "__record__" in data:
            rec: SignalRecord = data["__record__"]
            return rec
        return SignalRecord.model_validate(data)
    except ValidationError as exc:
        raise describe(exc, row.raw) from None


# NaN and Infinity are not JSON: refused (ValueError) instead of written as invalid JSON.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False
)


def _digest(rec: SignalRecord, occurred: datetime, payload_json: str) -> str:
    """Content hash of a record: what makes a re-send identical or a conflict."""
    body = "\x1f".join(
        (
            rec.kind.value,
            occurred.isoformat(),
            rec.account_id or "",
            rec.account_domain or "",
            rec.contact_email or "",
            rec.text or "",
            payload_json,
        )
    )
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()
