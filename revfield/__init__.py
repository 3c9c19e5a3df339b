"""revfield: run a B2B company's go-to-market as one revenue field.

Every signal lands in one account memory; detection turns signals into facts and field
events; agents read the memory and propose actions; the policy pack RevOps writes decides
what runs, what waits for a person and what is blocked; people answer in their inbox; the
outbox carries out what was decided, exactly once. The flow, and the package that owns each
stage::

    ingest → memory → detect → route → agents → policies → review / outbox
                             field (wires them together)

The names below are the public API; each package exports a little more for its own users::

    import revfield

    store = revfield.Store.from_url("sqlite:///revfield.db")
    store.migrate()
    revfield.ingest_file("signals.jsonl", store=store)
    pack = revfield.load_pack("policies")
    with revfield.open_checkpointer(store) as saver:
        field = revfield.Field(store, pack, revfield.OfflineModel(), revfield.SystemClock(), saver)
        revfield.run_detection(store, pack, field.model, field.clock)
        field.run_agents()
"""

import typing

from revfield._lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from revfield.clock import Clock, ManualClock, SystemClock
    from revfield.config import Settings, load_settings
    from revfield.domain import ActionKind, Motion, ProposedAction, Verdict
    from revfield.errors import RevfieldError
    from revfield.field import (
        Field,
        SubmitResult,
        await_review,
        governed,
        open_checkpointer,
        run_detection,
    )
    from revfield.ingest import ingest_file, ingest_signals, run_import
    from revfield.llm import Model, OfflineModel, OpenAIModel, make_model
    from revfield.memory import AccountMemory, Store, recall
    from revfield.outbox import Executor, LogExecutor, WebhookExecutor, load_executor
    from revfield.policies import CompiledPack, Decision, decide, load_pack, merge_context
    from revfield.review import Actor, InboxItem, answer_review, inbox

_EXPORTS: dict[str, tuple[str, ...]] = {
    "revfield.clock": ("Clock", "ManualClock", "SystemClock"),
    "revfield.config": ("Settings", "load_settings"),
    "revfield.domain": ("ActionKind", "Motion", "ProposedAction", "Verdict"),
    "revfield.errors": ("RevfieldError",),
    "revfield.field": (
        "Field",
        "SubmitResult",
        "await_review",
        "governed",
        "open_checkpointer",
        "run_detection",
    ),
    "revfield.ingest": ("ingest_file", "ingest_signals", "run_import"),
    "revfield.llm": ("Model", "OfflineModel", "OpenAIModel", "make_model"),
    "revfield.memory": ("AccountMemory", "Store", "recall"),
    "revfield.outbox": ("Executor", "LogExecutor", "WebhookExecutor", "load_executor"),
    "revfield.policies": ("CompiledPack", "Decision", "decide", "load_pack", "merge_context"),
    "revfield.review": ("Actor", "InboxItem", "answer_review", "inbox"),
}
"""Where each public name lives. A name is imported the first time it is used (PEP 562), so
``import revfield`` (and the CLI, which needs only a little of it) does not load LangGraph,
the OpenAI SDK or FastAPI until something asks for them."""
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = "0.1.0"

__all__ = [
    "AccountMemory",
    "ActionKind",
    "Actor",
    "Clock",
    "CompiledPack",
    "Decision",
    "Executor",
    "Field",
    "InboxItem",
    "LogExecutor",
    "ManualClock",
    "Model",
    "Motion",
    "OfflineModel",
    "OpenAIModel",
    "ProposedAction",
    "RevfieldError",
    "Settings",
    "Store",
    "SubmitResult",
    "SystemClock",
    "Verdict",
    "WebhookExecutor",
    "answer_review",
    "await_review",
    "decide",
    "governed",
    "inbox",
    "ingest_file",
    "ingest_signals",
    "load_executor",
    "load_pack",
    "load_settings",
    "make_model",
    "merge_context",
    "open_checkpointer",
    "recall",
    "run_detection",
    "run_import",
]


if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(__name__, _SOURCE, __all__)
