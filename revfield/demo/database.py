"""Where the demo may keep its memory on PostgreSQL: a database it creates, an empty one it is
told to use, or one an earlier ``revfield demo`` made (reset first). Any other database is
refused, untouched, with what was found in it. The demo never drops a database.

    prepare_postgres(store)   → "created" | "empty" | "reset", or a DemoDatabaseError
    judge(contents, known)    → the same decision, pure, from what the database holds
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from revfield.errors import RevfieldError
from revfield.field import CHECKPOINT_TABLES
from revfield.memory import (
    MAINTENANCE_DATABASE,
    MEMORY_TABLES,
    DatabaseContents,
    Store,
    create_database_if_missing,
    database_contents,
    drop_memory,
    mark_database,
)

__all__ = [
    "DEFAULT_DATABASE",
    "DEMO_MARK",
    "DEMO_TABLES",
    "DemoDatabaseError",
    "Prepared",
    "Refusal",
    "demo_store",
    "judge",
    "prepare_postgres",
]

DEMO_MARK = "revfield demo"
"""What the demo writes in its database's mark (``revfield_made_by``): this one is a demo's."""

DEFAULT_DATABASE = "revfield_demo"
"""The database the demo uses when a PostgreSQL URL names none."""

DEMO_TABLES = MEMORY_TABLES | frozenset(CHECKPOINT_TABLES["postgresql"])
"""Every table a demo leaves in its PostgreSQL database: revfield's own, Alembic's version,
the mark, and the checkpointer's."""

_SERVER_DATABASES = frozenset({MAINTENANCE_DATABASE, "template0", "template1"})
_SHOWN = 6  # tables a refusal lists before "and N more"

Prepared = Literal["created", "empty", "reset"]
"""What the demo did to have its database: created it, found it empty, or reset a demo's."""


class DemoDatabaseError(RevfieldError):
    """The demo may not use the database it was given; nothing in it was changed."""


@dataclass(frozen=True)
class Refusal:
    """A database the demo must leave alone."""

    found: str
    """What the database holds, as the message says it."""


def judge(contents: DatabaseContents, known: frozenset[str] = DEMO_TABLES) -> Prepared | Refusal:
    """Pure: ``empty`` for a database with no table at all; ``reset`` for one whose mark says
    a demo made it and that holds only the demo's tables (``known``); else a refusal saying
    what was found: any other table or view, or a revfield memory no demo made (even one
    without rows: it may be a team's, about to be used)."""
    if contents.empty:
        return "empty"
    foreign = [t for t in contents.tables if t.name not in known or t.kind != "table"]
    if foreign:
        return Refusal(_listed([t.describe() for t in foreign]))
    if contents.made_by == DEMO_MARK:
        return "reset"
    rows = [t.name for t in contents.tables if t.has_rows and t.name != "alembic_version"]
    held = (
        f"a revfield memory with rows in {_listed(rows)}"
        if rows
        else f"a revfield schema ({len(contents.tables)} tables, no rows yet)"
    )
    return Refusal(f"{held}, not marked as made by `revfield demo`")


def demo_store(url: str) -> Store:
    """The store for the demo's database at ``url``; a PostgreSQL URL that names no database
    means :data:`DEFAULT_DATABASE` on that server."""
    store = Store.from_url(url)
    if store.dialect != "postgresql" or store.engine.url.database:
        return store
    named = store.engine.url.set(database=DEFAULT_DATABASE)
    store.dispose()
    return Store.from_url(named.render_as_string(hide_password=False))


def prepare_postgres(store: Store) -> Prepared:
    """Make ``store``'s PostgreSQL database ready for a fresh demo, or refuse it: create it if
    it is missing, use it if it holds nothing, reset it (drop the demo's tables) if a demo
    made it. Then mark it as the demo's, before anything else is written, so a demo cut off
    half-way can be run again. A refusal is a :class:`DemoDatabaseError`, and the database
    was not touched."""
    url = store.engine.url
    name = str(url.database)
    where = f"`{name}` on {url.host or 'localhost'}:{url.port or 5432}"
    suggested = url.set(database=DEFAULT_DATABASE).render_as_string(hide_password=True)
    if name in _SERVER_DATABASES:
        raise DemoDatabaseError(
            f"the database {where} is one of the server's own; the demo does not write there\n"
            f"  help: name a new database, e.g. --db {suggested} (the demo creates it)"
        )
    created = create_database_if_missing(store)
    verdict = judge(database_contents(store))
    if isinstance(verdict, Refusal):
        made = " (the demo just created it, from a template that holds tables)" if created else ""
        other = f"--db {suggested}" if name != DEFAULT_DATABASE else "another name in --db"
        raise DemoDatabaseError(
            f"the database {where}{made} holds {verdict.found}; the demo uses only a new or "
            "empty database, or one an earlier demo made, and left this one alone\n"
            f"  help: name a new database, e.g. {other} (the demo creates it)"
        )
    if verdict == "reset":
        drop_memory(store, also=CHECKPOINT_TABLES["postgresql"])
    mark_database(store, DEMO_MARK)
    return "created" if created else verdict


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more
