"""Hot reload: a long-running process picks up a changed pack; a broken one is refused.

``PackWatcher.current()`` is cheap (it stats the pack's files at most once per interval):
when they changed, the pack is loaded again; if the new pack is invalid, the error is logged
and the last good pack stays in force.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import structlog

from revfield.clock import Clock, SystemClock
from revfield.policies._errors import PackError
from revfield.policies._load import CompiledPack, load_pack, pack_files

__all__ = ["PackWatcher"]

log = structlog.get_logger("revfield.policies")


class PackWatcher:
    """The pack a long-running process decides with, reloaded when its files change. A broken
    new pack is refused (logged, kept in ``last_error``) and the last good pack stays in
    force; the first load must succeed. Pass ``watcher.current`` to
    :class:`~revfield.field.Field` as its pack."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.interval = interval
        self._pack = load_pack(self.path)  # the first load must succeed
        self._stamp = self._fingerprint()
        self._checked = self.clock.now()
        self.last_error: PackError | None = None

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        try:
            return tuple(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in pack_files(self.path)
            )
        except (PackError, OSError):
            return ()

    def current(self) -> CompiledPack:
        now = self.clock.now()
        if now - self._checked >= self.interval:
            self._checked = now
            self.refresh()
        return self._pack

    def refresh(self) -> bool:
        """Reload if the files changed. Returns True when a new pack took effect."""
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            pack = load_pack(self.path)
        except PackError as exc:
            self.last_error = exc
            log.error(
                "policy pack refused; keeping the last good pack",
                version=self._pack.version,
                problems=[p.render() for p in exc.problems],
            )
            return False
        self.last_error = None
        if pack.version != self._pack.version:
            log.info("policy pack reloaded", old=self._pack.version, new=pack.version)
        self._pack = pack
        return True
