"""``revfield demo``: a fresh embedded SQLite memory filled from the sample that ships inside
the package, then a summary of what the memory holds. Offline; no API key."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich import box
from rich.table import Table

from revfield.cli._app import app, console, fail, state
from revfield.cli._render import account_panel, ingest_table
from revfield.memory import Store, context, ingest_file
from revfield.memory.models import Account, Contact, DeadLetter, Signal

DEMO_APPLICATION_ID = 0x52564644  # "RVFD" in SQLite's header: this file is a revfield demo


def sample_path() -> Path:
    return Path(__file__).resolve().parent.parent / "samples" / "signals.jsonl"


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="SQLite file for the demo memory.")] = Path(
        "revfield.db"
    ),
    force: Annotated[
        bool, typer.Option(help="Replace the file even if it isn't a demo database.")
    ] = False,
) -> None:
    """Fresh SQLite memory from the shipped sample; prints what the memory holds."""
    _reset(path, force=force)
    store = Store.from_url(f"sqlite:///{path}")
    store.migrate()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    console.rule("[bold]revfield demo[/] — one account memory, offline")
    report = ingest_file(sample_path(), store=store, clock=state().clock)
    console.print(ingest_table(report, "1. signals from the sample ingested"))
    console.print(_summary(store))
    with store.read() as session:
        console.print(account_panel(context(session, "northwind.io", signals=8)))
    console.print(
        f"\nthe memory is in [bold]{path}[/]; try\n"
        f"  revfield --db sqlite:///{path} account list\n"
        f"  revfield --db sqlite:///{path} account show oakline.de\n"
    )


def _reset(path: Path, *, force: bool) -> None:
    if not path.exists():
        return
    if not force and not _is_demo(path):
        fail(
            f"{path} exists and is not a revfield demo database; it was left alone\n"
            "  help: pass --path to use another file, or --force to replace it"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _is_demo(path: Path) -> bool:
    try:
        with sqlite3.connect(path) as conn:
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    except sqlite3.DatabaseError:
        return False
    return bool(app_id == DEMO_APPLICATION_ID)


def _summary(store: Store) -> Table:
    A, C, S, D = (m.__table__ for m in (Account, Contact, Signal, DeadLetter))
    with store.read() as session:
        states: dict[str, int] = dict(
            session.execute(
                sa.select(A.c.customer_state, sa.func.count()).group_by(A.c.customer_state)
            )
            .tuples()
            .all()
        )
        contacts = session.execute(sa.select(sa.func.count()).select_from(C)).scalar_one()
        kinds = session.execute(
            sa.select(S.c.kind, sa.func.count()).group_by(S.c.kind).order_by(sa.func.count().desc())
        ).all()
        unattributed = session.execute(
            sa.select(sa.func.count()).where(S.c.account_id.is_(None))
        ).scalar_one()
        dead = session.execute(sa.select(sa.func.count()).select_from(D)).scalar_one()
    table = Table(title="2. what the memory holds", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("", style="cyan")
    for name, n in sorted(states.items()):
        table.add_row(f"accounts: {name}", f"{n:,}", "")
    table.add_row("contacts", f"{contacts:,}", "")
    table.add_section()
    top = max((n for _, n in kinds), default=1)
    for kind, n in kinds:
        table.add_row(f"signals: {kind}", f"{n:,}", "█" * max(1, round(24 * n / top)))
    table.add_section()
    table.add_row("signals without an account (free-mail)", f"{unattributed:,}", "")
    table.add_row("dead letters", f"{dead:,}", "")
    return table
