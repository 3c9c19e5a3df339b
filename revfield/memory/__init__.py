"""The account memory: one continuous context per account, from first visit to expansion.

The only package that speaks SQL. Every other stage reads and writes the memory through the
functions here, each taking a :class:`Session` from :meth:`Store.session` (a unit of work,
committed when the block ends) or :meth:`Store.read`::

    from revfield.memory import Store, recall

    store = Store.from_url("sqlite:///revfield.db")
    store.migrate()
    with store.read() as session:
        memory = recall(session, "acme.com")
"""

from revfield.memory._audit import audit, audit_row, write_audit
from revfield.memory._facts import NewFact, add_fact, add_facts, fact_history
from revfield.memory._recall import (
    AccountMemory,
    AccountNotFoundError,
    AccountView,
    ContactView,
    DealView,
    FactView,
    SignalView,
    find_account_id,
    recall,
)
from revfield.memory._store import Store, StoreError
from revfield.memory._summary import FieldSummary, field_summary, high_water

__all__ = [
    "AccountMemory",
    "AccountNotFoundError",
    "AccountView",
    "ContactView",
    "DealView",
    "FactView",
    "FieldSummary",
    "NewFact",
    "SignalView",
    "Store",
    "StoreError",
    "add_fact",
    "add_facts",
    "audit",
    "audit_row",
    "fact_history",
    "field_summary",
    "find_account_id",
    "high_water",
    "recall",
    "write_audit",
]
