"""Importers for real CRM-style exports (see the README's "Importing CRM exports")."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from revfield.clock import Clock
from revfield.ingest._crm import CrmImportError, ImportReport, TableCount
from revfield.ingest._maven import import_maven
from revfield.ingest._olist import import_olist
from revfield.ingest._ravenstack import import_ravenstack
from revfield.ingest._tickets import import_tickets
from revfield.memory import Store

__all__ = [
    "IMPORTERS",
    "CrmImportError",
    "ImportReport",
    "TableCount",
    "import_maven",
    "import_olist",
    "import_ravenstack",
    "import_tickets",
]

Importer = Callable[..., ImportReport]

IMPORTERS: dict[str, Importer] = {
    "maven": import_maven,
    "olist": import_olist,
    "ravenstack": import_ravenstack,
    "tickets": import_tickets,
}


def run_import(
    kind: str, store: Store, directory: Path, *, clock: Clock, **options: object
) -> ImportReport:
    """Import the CRM-style export of ``kind`` (``maven``, ``olist``, ``ravenstack``,
    ``tickets``) in ``directory`` into the memory, as ``revfield import-crm`` does. Every row
    gets a deterministic id, so importing the same export again adds nothing. ``options`` go to
    the importer (``tickets``: ``accounts``, ``start``, ``days``). Bad rows are dead-lettered
    (file, line, field, reason; see :attr:`ImportReport.dead_letters`) and the good rows around
    them imported. Raises :class:`CrmImportError` only for an export that can't be imported as
    a whole: an unknown kind, a missing directory, a missing or unreadable file or column."""
    try:
        importer = IMPORTERS[kind]
    except KeyError:
        raise CrmImportError(
            f"unknown export kind `{kind}`; one of {', '.join(IMPORTERS)}"
        ) from None
    if not directory.exists():
        raise CrmImportError(f"{directory}: no such directory")
    with _collector_paused():
        return importer(store, directory, clock=clock, **options)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an export is read and validated.

    An import holds every row of the export until it writes them (tens of thousands of small,
    acyclic objects); the collector would sweep that growing heap again and again, about a
    fifth of an import's time. It runs again as soon as the import is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
