"""Getting signals into the memory: files and API records, validated, attributed to accounts,
stored once however often they are sent; bad rows dead-lettered with the reason. And the
importers for real CRM-style exports (Maven, Olist, RavenStack, support tickets)::

    from revfield.ingest import ingest_file

    report = ingest_file("signals.jsonl", store=store)
    report.accepted, report.duplicates, report.dead_lettered
"""

from revfield.ingest._crm import CrmImportError, FileCount, ImportReport, TableCount
from revfield.ingest._importers import IMPORTERS, run_import
from revfield.ingest._ingest import DeadLetterNote, IngestReport, ingest_file, ingest_signals
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
