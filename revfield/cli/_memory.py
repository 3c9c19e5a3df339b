"""Commands that fill and read the account memory: init, ingest, import-crm, account,
dead-letters."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revfield._lazy import lazy_function
from revfield.cli._app import app, bounded, console, fail, state

if TYPE_CHECKING:
    from revfield.ingest import count_lines, ingest_file, run_import
    from revfield.memory import (
        count_dead_letters,
        find_account_id,
        list_accounts,
        recall,
        recent_dead_letters,
    )
else:  # module-level (a test may replace one), each loads its package when first called
    count_lines = lazy_function("revfield.ingest", "count_lines")
    ingest_file = lazy_function("revfield.ingest", "ingest_file")
    run_import = lazy_function("revfield.ingest", "run_import")
    count_dead_letters = lazy_function("revfield.memory", "count_dead_letters")
    find_account_id = lazy_function("revfield.memory", "find_account_id")
    list_accounts = lazy_function("revfield.memory", "list_accounts")
    recall = lazy_function("revfield.memory", "recall")
    recent_dead_letters = lazy_function("revfield.memory", "recent_dead_letters")

IMPORT_KINDS = ("maven", "olist", "ravenstack", "tickets")
"""The export formats ``import-crm`` names in its help: ``revfield.ingest.IMPORTERS``'s keys,
written out so that ``--help`` need not import the importers (a test holds them equal)."""

account_app = typer.Typer(help="Read one account's memory.", no_args_is_help=True)
app.add_typer(account_app, name="account")


@app.command()
def init() -> None:
    """Create the database schema, or upgrade it to the newest version. Safe to run again."""
    store = state().store(check=False)
    before = store.current_revision()
    store.migrate()
    after = store.current_revision()
    if before == after:
        console.print(f"database {store.url} is up to date (schema {after})")
    else:
        console.print(f"database {store.url}: schema {before or 'none'} → {after}")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="A .jsonl/.ndjson or .csv file of signals.")],
    batch_size: Annotated[int | None, typer.Option(help="Rows per transaction.", min=1)] = None,
) -> None:
    """Ingest signals. Each good row is stored once; bad rows go to the dead-letter table.

    Exits non-zero only when the file as a whole can't be read.
    """
    from revfield.cli._render import ingest_table
    from revfield.ingest import IngestFileError

    st = state()
    store = st.store()
    size = batch_size or st.settings.ingest_batch_size
    try:
        total = count_lines(file) if file.is_file() else 0
        with Progress(
            TextColumn("[bold]ingest[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("lines"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(escape(file.name), total=total)
            report = ingest_file(
                file,
                store=store,
                clock=st.clock,
                batch_size=size,
                on_progress=lambda done: bar.update(task, completed=done),
            )
    except IngestFileError as exc:
        fail(str(exc))
    console.print(ingest_table(report, f"ingested {file}"))


@app.command("import-crm")
def import_crm(
    kind: Annotated[str, typer.Argument(help=f"Export format: {', '.join(IMPORT_KINDS)}.")],
    directory: Annotated[Path, typer.Argument(help="Folder holding the export's CSV files.")],
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="tickets: attach tickets to these accounts."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="tickets: first day of the time window (YYYY-MM-DD).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(help="tickets: length of the time window in days.", min=1)
    ] = None,
) -> None:
    """Import a CRM-style export (Maven, Olist, RavenStack, support tickets). Idempotent.

    Bad rows are dead-lettered with file, line, field and reason, and the good rows around
    them imported; exits non-zero only when the export can't be read as a whole.
    """
    from revfield.cli._render import import_table
    from revfield.ingest import CrmImportError

    st = state()
    options: dict[str, object] = {}
    if kind == "tickets":
        if account:
            options["accounts"] = account
        if start:
            try:
                options["start"] = date.fromisoformat(start)
            except ValueError:
                fail(f"--start: `{start}` is not a date (YYYY-MM-DD)")
        if days:
            options["days"] = days
    elif account or start or days:
        fail("--account, --start and --days apply to `import-crm tickets` only")
    try:
        with console.status(f"importing {kind} export…"):
            report = run_import(kind, st.store(), directory, clock=st.clock, **options)
    except CrmImportError as exc:
        fail(str(exc))
    console.print(import_table(report))


@app.command("dead-letters")
def dead_letters(
    file: Annotated[
        str | None, typer.Option(help="Only rows from files whose path contains this.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many to show, newest first.", min=1)] = 20,
) -> None:
    """Rows that could not be accepted, with file, line, field and reason."""
    with state().store().read() as session:
        rows = recent_dead_letters(session, file=file, limit=limit)
        total = count_dead_letters(session, file=file)
    if not rows:
        console.print("no dead letters")
        return
    table = Table(
        title=f"dead letters ({len(rows)} of {total:,})", box=box.SIMPLE_HEAD, title_justify="left"
    )
    for col in ("where", "field", "reason", "raw"):
        table.add_column(col, overflow="fold")
    for r in rows:
        raw = r.raw
        table.add_row(
            f"{Path(r.source_file).name}:{r.line}",
            r.field or "—",
            r.reason,
            raw[:80] + ("…" if len(raw) > 80 else ""),
        )
    console.print(table)


@account_app.command("show")
@bounded
def account_show(
    account_id: Annotated[
        str, typer.Argument(metavar="ID", help="Account id, domain or exact name.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the AccountMemory as JSON.")
    ] = False,
    signals: Annotated[int, typer.Option(help="How many latest signals to include.", min=0)] = 20,
    actions: Annotated[int, typer.Option(help="How many newest actions to trace.", min=0)] = 10,
) -> None:
    """Everything the memory knows about one account: contacts, deals, facts, signals, and
    each action with its chain: signal → facts → field event → decision → review → outbox."""
    from revfield.cli._render import account_panel
    from revfield.memory import AccountNotFoundError

    with state().store().read() as session:
        try:
            found = find_account_id(session, account_id)
            ctx = recall(session, found, signals=signals, actions=actions)
        except AccountNotFoundError as exc:
            fail(str(exc))
    if as_json:
        typer.echo(ctx.model_dump_json(indent=2))
    else:
        console.print(account_panel(ctx))


@account_app.command("list")
@bounded
def account_list(
    search: Annotated[str | None, typer.Option(help="Part of the id, name or domain.")] = None,
    customer_state: Annotated[
        str | None, typer.Option("--state", help="prospect, customer or churned.")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Where accounts came from (maven, olist, signal…).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 25,
) -> None:
    """Accounts in memory, with their signal counts."""
    with state().store().read() as session:
        rows = list_accounts(
            session, search=search, customer_state=customer_state, source=source, limit=limit
        )
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("id", "name", "state", "segment", "owner", "source", "signals"):
        table.add_column(col, justify="right" if col == "signals" else "left")
    for r in rows:
        table.add_row(
            r.id,
            r.name,
            str(r.customer_state),
            str(r.segment or "—"),
            r.owner_id or "—",
            r.source,
            f"{r.signals:,}",
        )
    console.print(table)
