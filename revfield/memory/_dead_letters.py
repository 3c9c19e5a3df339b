"""Dead letters: rows of a file or an export that could not be accepted, with the reason."""

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
    stored once, so re-running an ingest or import does not pile up copies."""
    if not entries:
        return
    dialect = session.get_bind().dialect.name
    values = sorted(
        (
            {
                "source_file": source_file,
                "line": line,
                "field": field,
                "reason": reason,
                "raw": raw,
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
