"""The account memory: one continuous context per account, from first visit to expansion.

Public API::

    from revfield.memory import Store, ingest, ingest_file, context

    store = Store.from_url("sqlite:///revfield.db")
    store.migrate()
    report = ingest([{"source": "web", "external_id": "v1", "kind": "web_visit",
                      "occurred_at": "2026-11-02T09:30:00Z", "account_domain": "acme.com"}],
                    store=store)
    with store.read() as session:
        ctx = context(session, "acme.com")
"""

from revfield.memory._context import (
    AccountContext,
    AccountNotFoundError,
    AccountView,
    ContactView,
    DealView,
    FactView,
    SignalView,
    context,
    find_account_id,
)
from revfield.memory._ingest import DeadLetterNote, IngestReport, ingest, ingest_file
from revfield.memory._readers import IngestFileError
from revfield.memory.facts import add_fact, fact_history
from revfield.memory.schema import SignalRecord
from revfield.memory.store import Store, StoreError

__all__ = [
    "AccountContext",
    "AccountNotFoundError",
    "AccountView",
    "ContactView",
    "DeadLetterNote",
    "DealView",
    "FactView",
    "IngestFileError",
    "IngestReport",
    "SignalRecord",
    "SignalView",
    "Store",
    "StoreError",
    "add_fact",
    "context",
    "fact_history",
    "find_account_id",
    "ingest",
    "ingest_file",
]
