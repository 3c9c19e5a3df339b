"""``revfield demo``: a fresh memory (an embedded SQLite file, or a PostgreSQL database), a
generated book of business, 30 days replayed through the whole field, and a summary. Offline;
no API key.

What the command needs beyond Typer is imported when it runs: importing the CLI stays fast
for every other command."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from revfield.cli._app import app, console, fail, pack_help, state
from revfield.demo.book import DAYS, SEED, START, Book, generate_book

if TYPE_CHECKING:
    from revfield.config import Settings
    from revfield.demo.replay import ReplayReport
    from revfield.memory import FieldSummary, Store
    from revfield.policies import CompiledPack, GovernanceReport

DEMO_APPLICATION_ID = 0x52564644  # "RVFD" in SQLite's header: this file is a revfield demo


def sample_path() -> Path:
    return Path(__file__).resolve().parent.parent / "samples" / "signals.jsonl"


@cache
def _book_figures() -> dict[str, int]:
    book = generate_book()
    states = Counter(a["customer_state"] for a in book.accounts)
    return {
        "accounts": len(book.accounts),
        "prospects": states["prospect"],
        "customers": states["customer"],
        "days": DAYS,
    }


class _BookHelp(TyperCommand):
    """A command whose help quotes the generated book's own figures (``{accounts}``…),
    generated only when the help is shown."""

    @property
    def help(self) -> str | None:
        return self._help.format(**_book_figures()) if self._help else self._help

    @help.setter
    def help(self, value: str | None) -> None:
        self._help = value


@app.command(cls=_BookHelp)
def demo(
    path: Annotated[
        Path | None,
        typer.Option(
            help=(
                "SQLite file for the demo memory (default: the database `revfield --db` or "
                "REVFIELD_DATABASE_URL names, else revfield.db)."
            ),
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=(
                "Database for the demo memory, instead of --path: sqlite:///FILE or "
                "postgresql+psycopg://user@host/NAME (created if missing; NAME defaults to "
                "revfield_demo). An existing database is used only if it is empty or an "
                "earlier demo made it."
            ),
            metavar="URL",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace the SQLite file even if it isn't a demo database."),
    ] = False,
    days: Annotated[int, typer.Option(help="Days of the book to replay.", min=1, max=DAYS)] = DAYS,
    seed: Annotated[int, typer.Option(help="Seed of the generated book of business.")] = SEED,
) -> None:
    """Fresh memory (a SQLite file, or a PostgreSQL database with --db), a generated book of
    business ({accounts} accounts: {prospects} prospects, {customers} customers, with the
    default seed), {days} days of signals replayed through detection → agents → policies →
    people → outbox; prints what the field did and leaves the database so `revfield inbox`
    shows what waits. Offline, no API key."""
    from revfield.demo.database import demo_store
    from revfield.policies import PackError, load_pack

    st = state()
    if path is not None and db is not None:
        fail(
            "--path and --db both name the demo's database; pass one\n"
            "  help: --path FILE for a SQLite file, --db URL for SQLite or PostgreSQL"
        )
    url = _demo_url(path, db, st.settings)
    st.database_url = url
    pack_dir = st.settings.policies
    if not pack_dir.exists():
        if "policies" in st.settings.model_fields_set:  # named, and not there: say so
            fail(f"the policy pack {pack_dir} does not exist" + pack_help(pack_dir))
        pack_dir = bundled_policies()
    try:
        pack = load_pack(pack_dir)
    except PackError as exc:
        fail(f"the policy pack was refused\n{exc}")
    store = demo_store(url)  # connects only when first used
    st.database_url = store.engine.url.render_as_string(hide_password=False)
    log = st.settings.outbox_log or store.beside("outbox.jsonl")
    try:
        _make_room(store, force=force, outbox_log=log)
        _run(store, pack, log, days=days, seed=seed)
    finally:
        store.dispose()
    # answering decides again, so later commands need the pack the demo used
    use_pack = (
        "" if pack_dir == st.settings.policies else f"  export REVFIELD_POLICIES={pack_dir}\n"
    )
    console.print(_next_steps(store, use_pack), soft_wrap=True)  # commands to copy whole


def _make_room(store: Store, *, force: bool, outbox_log: Path) -> None:
    """Make the demo's database ready for a fresh replay, or refuse with what to do: a SQLite
    file is replaced if it is a demo's (or ``force``); a PostgreSQL database is created, or
    used if empty, or reset if a demo made it, and any other is left alone (``force`` or not).
    The outbox log of a database made afresh starts afresh."""
    from revfield.demo.database import DemoDatabaseError, prepare_postgres

    file = store.file
    if file is not None:
        _reset(file, force=force, outbox_log=outbox_log)
        return
    try:
        prepared = prepare_postgres(store)
    except DemoDatabaseError as exc:
        fail(str(exc))
    # the log named after this database is the demo's; one named in the settings is removed
    # only when the demo's own database was reset, as for a SQLite file
    if prepared == "reset" or outbox_log == store.beside("outbox.jsonl"):
        outbox_log.unlink(missing_ok=True)


def _run(store: Store, pack: CompiledPack, log: Path, *, days: int, seed: int) -> None:
    """Migrate the demo's fresh database, replay ``days`` of the book of ``seed`` into it, and
    print what the field did."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from revfield.cli._render import counts_chart
    from revfield.clock import ManualClock
    from revfield.demo.replay import load_book, replay
    from revfield.field import Field, open_checkpointer
    from revfield.llm import OfflineModel
    from revfield.memory import field_summary
    from revfield.outbox import LogExecutor
    from revfield.policies import governance_report

    started = time.perf_counter()
    store.migrate()
    if store.file is not None:
        store.set_application_id(DEMO_APPLICATION_ID)
    console.rule(Text.from_markup("[bold]revfield demo[/] — one revenue field, offline"))
    book = generate_book(seed)
    load_book(store, book)
    clock = ManualClock(START)
    with open_checkpointer(store) as saver:
        fld = Field(store, pack, OfflineModel(), clock, saver, executor=LogExecutor(path=log))
        with Progress(
            TextColumn("[bold]replay[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("days", total=days)
            report = replay(
                store, book, fld, clock, days=days, on_day=lambda d: bar.update(task, completed=d)
            )
    with store.read() as session:
        summary = field_summary(session)
        governance = governance_report(session, pack, clock.now())
    seconds = time.perf_counter() - started
    console.print(_book_table(book, report))
    console.print(_field_table(summary, report, governance))
    console.print(counts_chart("3. field events by kind", summary.events))
    console.print(
        f"[dim]replayed in {seconds:.1f} s ({report.agent_runs:,} agent runs, "
        f"{report.agent_runs / report.seconds_agents if report.seconds_agents else 0:,.0f}/s); "
        f"executed actions are in {escape(str(log))}[/]",
        markup=True,
    )


def _demo_url(path: Path | None, db: str | None, settings: Settings) -> str:
    """The URL of the demo's database: ``--path``'s file, else ``--db``'s database, else the
    database setting's (``--db`` before the command, ``REVFIELD_DATABASE_URL``,
    revfield.toml) when it is set, else ``revfield.db``. A database the demo can't keep its
    memory in (SQLite in memory) is refused rather than ignored."""
    from revfield.memory import Store

    if path is not None:
        return f"sqlite:///{path}"
    if db is not None:
        url, source = db, "--db"
    elif "database_url" in settings.model_fields_set:
        url, source = settings.database_url, "--db, REVFIELD_DATABASE_URL or revfield.toml"
    else:
        return "sqlite:///revfield.db"
    if Store.sqlite_file(url) is None and url.partition(":")[0].startswith("sqlite"):
        fail(
            f"the demo keeps its memory in an embedded SQLite file, and `{url}` (from "
            f"{source}) is not one\n"
            "  help: pass --path FILE, or --db sqlite:///FILE, for the demo's database"
        )
    return url


def _next_steps(store: Store, use_pack: str) -> Text:
    """Where the memory is, and the commands that use it next."""
    file = store.file
    if file is not None:
        where = str(file)
        shown = shlex.quote(f"sqlite:///{file}")
    else:
        url = store.engine.url
        where = f"the PostgreSQL database {url.database} on {url.host or 'localhost'}"
        shown = shlex.quote(store.url)  # without the password, if the URL had one
    password = (
        "  (the password is left out: set PGPASSWORD, or put it back in the URL)\n"
        if file is None and store.engine.url.password
        else ""
    )
    return Text.assemble(
        "\nthe memory is in ",
        (where, "bold"),
        f"; try\n{use_pack}{password}"
        f"  revfield --db {shown} inbox\n"
        f"  revfield --db {shown} approve <#>\n"
        f"  revfield --db {shown} account show <account>\n",
    )


def bundled_policies() -> Path:
    """The default pack shipped next to the package (a source checkout's ``policies/``)."""
    return Path(__file__).resolve().parents[2] / "policies"


def _book_table(book: Book, report: ReplayReport) -> Table:
    t = Table(
        title="1. the book of business",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_header=False,
    )
    t.add_column()
    t.add_column(justify="right")
    t.add_column(style="dim")
    states = Counter(a["customer_state"] for a in book.accounts)
    t.add_row(
        "accounts",
        f"{len(book.accounts):,}",
        f"{states['prospect']} prospects, {states['customer']} customers",
    )
    t.add_row("contacts · open deals", f"{len(book.contacts):,} · {len(book.deals):,}", "")
    t.add_row("signals replayed", f"{report.signals:,}", f"over {report.days} days")
    return t


def _field_table(s: FieldSummary, report: ReplayReport, gov: GovernanceReport) -> Table:
    t = Table(
        title="2. what the field did", box=box.SIMPLE_HEAD, title_justify="left", show_header=False
    )
    t.add_column()
    t.add_column(justify="right")
    t.add_column(style="dim")
    t.add_row("field events", f"{sum(s.events.values()):,}", f"{len(s.events)} kinds (chart below)")
    t.add_row(
        "actions proposed by the agents", f"{s.actions:,}", f"{report.agent_runs:,} agent runs"
    )
    for verdict, note in (
        ("auto", "executed through the outbox"),
        ("review", "waited for the owner"),
        ("escalate", "went up the ladder"),
        ("block", "recorded, never executed"),
    ):
        t.add_row(f"  decided {verdict}", f"{s.verdicts.get(verdict, 0):,}", note)
    shown = [v for v in ("auto", "review", "escalate", "block") if v != "auto" or s.discounts[v]]
    t.add_row(
        "discounts offered",
        f"{sum(s.discounts.values()):,}",
        "the deal desk's: " + ", ".join(f"{v} {s.discounts[v]}" for v in shown),
    )
    t.add_row(
        "renewals raised",
        f"{s.events['renewal_due']:,}",
        f"{s.events['renewal_at_risk']} of them with a churn risk open (to the deal desk)",
    )
    t.add_row(
        "guardrail trips",
        f"{sum(s.guardrail_trips.values()):,}",
        ", ".join(f"{g} {n}" for g, n in s.guardrail_trips.most_common(4)),
    )
    t.add_row(
        "information conserved at handover",
        f"{s.conservation:.0%}",
        f"{s.facts_carried} of {s.facts_known} acquisition facts in {s.handovers} briefs; "
        f"{s.unsupported_promises} unsupported promises escalated",
    )
    rules = Counter(d.rule for d in gov.deviations)
    t.add_row(
        "governance deviations",
        f"{len(gov.deviations):,}",
        ", ".join(f"{r} {n}" for r, n in rules.most_common()),
    )
    t.add_row(
        "ICP adherence",
        f"{gov.icp_adherence:.0%}",
        f"of {gov.open_deals} open deals meet every ICP criterion",
    )
    t.add_row(
        "people answered",
        f"{report.approved + report.rejected:,}",
        f"{report.approved} approved, {report.rejected} rejected, "
        f"{report.climbed} moved up the ladder",
    )
    t.add_row(
        "executed through the outbox",
        f"{s.executed:,}",
        "exactly once, each with an idempotency key"
        + (
            f"; {s.outbox_cancelled} cancelled: the email they followed did not go out"
            if s.outbox_cancelled
            else ""
        ),
    )
    t.add_row("waiting in the inbox", f"{s.pending_reviews:,}", "revfield inbox")
    return t


def _reset(path: Path, *, force: bool, outbox_log: Path | None = None) -> None:
    if not path.exists():
        return
    if not force and not _is_demo(path):
        fail(
            f"{path} exists and is not a revfield demo database; it was left alone\n"
            "  help: pass --path to use another file, or --force to replace it"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if outbox_log is not None:  # the previous demo's executed actions
        outbox_log.unlink(missing_ok=True)


def _is_demo(path: Path) -> bool:
    from revfield.memory import Store

    return Store.application_id_of(path) == DEMO_APPLICATION_ID
