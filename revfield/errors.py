"""Every error revfield raises on purpose derives from :class:`RevfieldError`, so a caller can
catch revfield's errors in one clause and let real bugs through. The tree::

    RevfieldError
    (tree filled in below)
"""

from __future__ import annotations

__all__ = ["RevfieldError"]


class RevfieldError(Exception):
    """The root of revfield's errors. The message says what is wrong and where; a second line
    starting with ``help:`` says what to do, when there is something to do."""
