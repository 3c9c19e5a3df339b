"""Getting signals into the memory: files and API records, validated, attributed to accounts,
stored once however often they are sent; bad rows dead-lettered with the reason. And the
importers for real CRM-style exports (Maven, Olist, RavenStack, support tickets)::

    from revfield.ingest import ingest_file

    report = ingest_file("signals.jsonl", store=store)
    report.accepted, report.duplicates, report.dead_lettered
"""

import typing

from revfield._lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from revfield.ingest._crm import CrmImportError, FileCount, ImportReport, TableCount
    from revfield.ingest._importers import IMPORTERS, run_import
    from revfield.ingest._ingest import (
        DeadLetterNote,
        IngestReport,
        ingest_file,
        ingest_signals,
    )
    from revfield.ingest._readers import IngestFileError, count_lines
    from revfield.ingest._schema import MAX_LINE_BYTES, MAX_TEXT_CHARS, SignalRecord

__all__ = [
    "IMPORTERS",
    "MAX_LINE_BYTES",
    "MAX_TEXT_CHARS",
    "CrmImportError",
    "DeadLetterNote",
    "FileCount",
    "ImportReport",
    "IngestFileError",
    "IngestReport",
    "SignalRecord",
    "TableCount",
    "count_lines",
    "ingest_file",
    "ingest_signals",
    "run_import",
]

_EXPORTS: dict[str, tuple[str, ...]] = {
    "revfield.ingest._crm": ("CrmImportError", "FileCount", "ImportReport", "TableCount"),
    "revfield.ingest._importers": ("IMPORTERS", "run_import"),
    "revfield.ingest._ingest": ("DeadLetterNote", "IngestReport", "ingest_file", "ingest_signals"),
    "revfield.ingest._readers": ("IngestFileError", "count_lines"),
    "revfield.ingest._schema": ("MAX_LINE_BYTES", "MAX_TEXT_CHARS", "SignalRecord"),
}
"""Where each name lives, imported the first time it is used (PEP 562): ``revfield ingest``
loads the signal reader without the CRM importers, and ``import-crm`` the importers."""

if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(
        __name__, {name: module for module, names in _EXPORTS.items() for name in names}, __all__
    )
