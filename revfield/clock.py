"""The one source of time.

Logic never calls ``datetime.now()``: it asks a :class:`Clock`. Production code gets
:class:`SystemClock`; tests and the eval suite replay scenarios on a :class:`ManualClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["EARLIEST", "Clock", "ManualClock", "SystemClock", "days_before", "utc"]


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests and scenario replay."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


EARLIEST = datetime.min.replace(tzinfo=UTC)
"""The earliest moment a signal may carry (ingest accepts the years 1 to 9999 in UTC)."""


def days_before(moment: datetime, days: float) -> datetime:
    """``moment`` minus ``days``, or :data:`EARLIEST` when that would fall before the year 1:
    a window reaching back from a signal dated in the year 1 starts at the year 1, instead of
    overflowing."""
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return EARLIEST
