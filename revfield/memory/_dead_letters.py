"""Dead letters: rows of a file or an export that could not be accepted, with the reason.

A dead letter is stored whatever the row held: NUL characters and halves of surrogate pairs,
which no database column takes, are written as the escapes ``\\u0000`` and ``\\ud800``, and
the file name and field are cut to their columns' lengths, identically on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._sql import chunks, insert_ignore
from revfield.memory._tables import DEAD_LETTERS

__all__ = ["DeadLetterEntry", "count_dead_letters", "recent_dead_letters", "write_dead_letters"]

INSERT_CHUNK = 500
SOURCE_FILE_CHARS = 1024
FIELD_CHARS = 200


class DeadLetterEntry(NamedTuple):
    """One stored dead letter: where it came from, the field to blame, why, and the raw row."""

    source_file: str
    line: int
    field: str | None
    reason: str
    raw: str


def write_dead_letters(
    session: Session,
    source_file: str,
    entries: Sequence[tuple[int, str | None, str, str]],
    *,
    now: datetime,
) -> None:
    """Store ``(line, field, reason, raw)`` entries; the same row of the same file twice is
    stored once, so re-running an ingest or import does not pile up copies. Any text is
    stored: see the module's docstring."""
    if not entries:
        return
    dialect = session.get_bind().dialect.name
    source_file = _storable(source_file, SOURCE_FILE_CHARS)
    values = sorted(
        (
            {
                "source_file": source_file,
                "line": line,
                "field": None if field is None else _storable(field, FIELD_CHARS),
                "reason": _storable(reason),
                "raw": _storable(raw),
                "raw_digest": hashlib.blake2b(
                    raw.encode("utf-8", "replace"), digest_size=16
                ).hexdigest(),
                "created_at": now,
            }
            for line, field, reason, raw in entries
        ),
        key=lambda v: (v["line"], v["raw_digest"]),
    )
    for part in chunks(values, INSERT_CHUNK):
        session.execute(insert_ignore(dialect, DEAD_LETTERS), list(part))


def _storable(text: str, limit: int | None = None) -> str:
    """``text`` as any column takes it: NUL characters and lone surrogates as escapes, cut to
    ``limit`` characters."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def recent_dead_letters(
    session: Session, *, file: str | None = None, limit: int = 20
) -> list[DeadLetterEntry]:
    """The newest dead letters first, only from files whose path contains ``file`` if given."""
    D = DEAD_LETTERS
    q = sa.select(D.c.source_file, D.c.line, D.c.field, D.c.reason, D.c.raw)
    if file:
        q = q.where(D.c.source_file.contains(file))
    return [
        DeadLetterEntry(*row) for row in session.execute(q.order_by(D.c.id.desc()).limit(limit))
    ]


def count_dead_letters(session: Session, *, file: str | None = None) -> int:
    """How many dead letters are stored (from files whose path contains ``file`` if given)."""
    q = sa.select(sa.func.count()).select_from(DEAD_LETTERS)
    if file:
        q = q.where(DEAD_LETTERS.c.source_file.contains(file))
    return int(session.execute(q).scalar_one())
