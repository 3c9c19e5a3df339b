"""Importers for real CRM-style exports (see the README's "Importing CRM exports")."""

from __future__ import annotations

from collections.abc import Callable
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
    the importer (``tickets``: ``accounts``, ``start``, ``days``). Raises
    :class:`CrmImportError` for an unknown kind or a missing directory, file or column."""
    try:
        importer = IMPORTERS[kind]
    except KeyError:
        raise CrmImportError(
            f"unknown export kind `{kind}`; one of {', '.join(IMPORTERS)}"
        ) from None
    if not directory.exists():
        raise CrmImportError(f"{directory}: no such directory")
    return importer(store, directory, clock=clock, **options)
