"""Every error revfield raises on purpose derives from :class:`RevfieldError`, so a caller can
catch revfield's errors in one clause and let real bugs through.

Errors a package only uses inside itself (a rejected ingest row, a YAML or CEL problem while
a pack loads, a condition failing at run time) derive from :class:`RevfieldError` too, but are
not part of the API. Four errors also keep the builtin they always derived from (in brackets),
so an ``except ValueError``, ``LookupError`` or ``RuntimeError`` that caught them still does.
The errors the packages export, with the package that raises each and when::

    RevfieldError
    ├── ProposalError         domain: an action the catalog refuses (kind, field) [ValueError]
    ├── AgentError            agents: an installed agent can't be used (entry point, name)
    ├── ModelError            llm: a model failed (timeout, 429/5xx, bad output, refusal, no key)
    ├── StoreError            memory: database unreachable or its schema not current [RuntimeError]
    │   └── TransitionError   memory: a status change the table never allows (a caller's bug)
    ├── AccountNotFoundError  memory: no account has that id, name or domain [LookupError]
    ├── UserError             memory: a user can't be added or found (id taken, unknown team)
    ├── IngestFileError       ingest: a signal file can't be read at all (bad rows: dead letters)
    ├── CrmImportError        ingest: a CRM export can't be imported (unknown kind, missing file)
    ├── PackError             policies: the pack (or its tests) was refused; none of it is in force
    ├── ContextError          policies: a context given by hand breaks the schema [ValueError]
    ├── ReviewError           review: an answer can't be taken (not yours, answered, a bad edit)
    │   └── AnswerFormError   review: an interrupt's answer in no form revfield takes
    ├── DeliveryError         outbox: an executor could not carry an action out (retry or refused)
    ├── ScenarioError         evals: a scenario file refused (file, line, field of each problem)
    ├── EvalError             evals: a scenario can't be run as written (a pack change, a cassette)
    └── CassetteError         evals: a cassette file can't be read (not JSON, wrong shape)
"""

from __future__ import annotations

__all__ = ["RevfieldError"]


class RevfieldError(Exception):
    """The root of revfield's errors. The message says what is wrong and where; a second line
    starting with ``help:`` says what to do, when there is something to do."""
