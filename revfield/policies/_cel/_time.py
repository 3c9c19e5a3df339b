"""Time: CEL's timestamps and durations on Python's aware ``datetime`` and ``timedelta`` —
parsing, printing, their ranges, time zones and the accessors (``getHours``, ``getDayOfWeek``…).

The ranges are the language definition's ("Overflow"): a timestamp lies between
0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z, a duration within a signed 64-bit
count of nanoseconds (about ±292 years); parsing, arithmetic and timestamp differences outside
them are errors. Python keeps microseconds, so finer digits are dropped (truncated toward
zero) when a literal is read. A timestamp is an instant: it is kept in UTC, and an accessor
reads it in UTC unless given a time zone — an IANA name (``"Europe/Paris"``) or a fixed
offset (``"+05:30"``, ``"-08:00"``), as cel-go reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

from revfield.policies._cel._errors import CelEvalError

__all__ = [
    "DURATION_ACCESSORS",
    "MAX_DURATION",
    "TIMESTAMP_ACCESSORS",
    "check_duration",
    "check_timestamp",
    "duration_part",
    "format_duration",
    "format_timestamp",
    "parse_duration",
    "parse_timestamp",
    "time_zone",
    "timestamp_from_seconds",
    "timestamp_part",
]

MAX_DURATION = timedelta(microseconds=(2**63 - 1) // 1000)
"""The largest duration (2^63-1 nanoseconds, in whole microseconds); the smallest is its
negation."""
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_duration(value: timedelta) -> timedelta:
    """``value`` if it is within CEL's duration range, else an error."""
    if -MAX_DURATION <= value <= MAX_DURATION:
        return value
    raise CelEvalError("duration out of range")


def check_timestamp(value: datetime) -> datetime:
    """``value`` in UTC; an error if that is outside CEL's timestamp range."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise CelEvalError("timestamp out of range") from None


# -- durations -------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def parse_duration(text: str) -> timedelta:
    """A duration as Go writes them: ``72h``, ``1h30m``, ``90s``, ``1.5s``, ``250ms``,
    ``-2.5h``; read exactly, kept to the microsecond."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text.startswith(("+", "-")) else text
    if body == "0":
        return timedelta(0)
    pos, nanos = 0, Fraction(0)
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        nanos += Fraction(match.group(1)) * _NANOS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        raise CelEvalError(f"invalid duration `{text}` (expected e.g. 72h, 1h30m, 90s, 1.5s)")
    whole = int(nanos)  # toward zero
    if whole > (2**63 - 1 if sign > 0 else 2**63):
        raise CelEvalError(f"duration `{text}` out of range (at most about ±292 years)")
    return timedelta(microseconds=sign * (whole // 1000))


def format_duration(value: timedelta) -> str:
    """``string(duration)``: seconds with as many decimals as needed, as cel-go prints them
    (``1000000s``, ``1.5s``, ``-0.25s``)."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    decimals = f".{fraction:06d}".rstrip("0") if fraction else ""
    return f"{sign}{seconds}{decimals}s"


def duration_part(name: str, value: timedelta) -> int:
    """A duration's ``getHours()``, ``getMinutes()``, ``getSeconds()``, ``getMilliseconds()``:
    the whole duration in that unit, truncated toward zero (as cel-go)."""
    micros = value // timedelta(microseconds=1)
    unit = DURATION_ACCESSORS[name]
    whole = abs(micros) // unit
    return whole if micros >= 0 else -whole


DURATION_ACCESSORS = {
    "getHours": 3_600_000_000,
    "getMinutes": 60_000_000,
    "getSeconds": 1_000_000,
    "getMilliseconds": 1_000,
}
"""The accessors of a duration, and the unit each counts in microseconds."""

# -- timestamps ------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4,})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 timestamp with its offset, ``2026-11-02T09:30:00Z`` or
    ``2026-11-02T10:30:00.5+01:00``; kept in UTC."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise CelEvalError(
            f"invalid timestamp `{text}` (expected RFC 3339, e.g. 2026-11-02T09:30:00Z)"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8)
    if not 1 <= year <= 9999:
        raise CelEvalError(f"timestamp `{text}` out of range (years 0001 to 9999)")
    offset = timedelta(0)
    if zone not in ("Z", "z"):
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    try:
        value = datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            int(fraction[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
    except ValueError:
        raise CelEvalError(f"invalid timestamp `{text}` (no such date or time)") from None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise CelEvalError(f"timestamp `{text}` out of range (years 0001 to 9999)") from None


def timestamp_from_seconds(seconds: int) -> datetime:
    """``timestamp(int)``: seconds since 1970-01-01T00:00:00Z."""
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise CelEvalError(f"timestamp {seconds} out of range (years 0001 to 9999)")
    return _EPOCH + timedelta(seconds=seconds)


def format_timestamp(value: datetime) -> str:
    """``string(timestamp)``: RFC 3339 in UTC, fractional seconds only as needed."""
    t = value.astimezone(UTC)
    fraction = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f"{fraction}Z"
    )


_OFFSET = re.compile(r"([+-]?)(\d\d?):(\d\d)", re.ASCII)
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*", re.ASCII)


@lru_cache(maxsize=512)
def time_zone(name: str) -> tzinfo:
    """The time zone ``name``: an IANA name (``Europe/Paris``, ``UTC``) or an offset from UTC
    (``+05:30``, ``-08:00``, ``02:00``); an error for anything else."""
    match = _OFFSET.fullmatch(name)
    if match:
        hours, minutes = int(match.group(2)), int(match.group(3))
        if hours > 23 or minutes > 59:
            raise CelEvalError(f"time zone offset `{name}` out of range")
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if match.group(1) == "-" else offset)
    if _ZONE_NAME.fullmatch(name) and name != "Local":
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            pass
    raise CelEvalError(
        f"unknown time zone `{name}` (expected an IANA name like Europe/Paris, "
        "or an offset like +05:30)"
    )


TIMESTAMP_ACCESSORS: dict[str, Callable[[datetime], int]] = {
    "getFullYear": lambda t: t.year,
    "getMonth": lambda t: t.month - 1,
    "getDayOfYear": lambda t: t.timetuple().tm_yday - 1,
    "getDayOfMonth": lambda t: t.day - 1,
    "getDate": lambda t: t.day,
    "getDayOfWeek": lambda t: (t.weekday() + 1) % 7,
    "getHours": lambda t: t.hour,
    "getMinutes": lambda t: t.minute,
    "getSeconds": lambda t: t.second,
    "getMilliseconds": lambda t: t.microsecond // 1000,
}
"""The accessors of a timestamp. As in CEL, months, days of the year and ``getDayOfMonth``
count from 0, ``getDate`` from 1, and ``getDayOfWeek`` is 0 for Sunday."""


def timestamp_part(name: str, value: datetime, zone: tzinfo = UTC) -> int:
    """``timestamp.name()`` read in ``zone``."""
    try:
        local = value.astimezone(zone)
    except OverflowError:
        raise CelEvalError("timestamp out of range in that time zone") from None
    return TIMESTAMP_ACCESSORS[name](local)
