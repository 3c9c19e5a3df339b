"""Rich renderings of memory values: reports people would rather look at than read."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # what the commands hand over, loaded by them
    from revfield.ingest import ImportReport, IngestReport
    from revfield.memory import AccountMemory

__all__ = ["account_panel", "chain_table", "counts_chart", "import_table", "ingest_table"]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _money(value: float | None, currency: str = "USD") -> str:
    return f"{value:,.0f} {currency}" if value is not None else "—"


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("../../") else path


def ingest_table(report: IngestReport, title: str) -> RenderableType:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("rows", justify="right")
    table.add_column("note", style="dim")
    table.add_row("accepted", f"{report.accepted:,}", "stored once, however often sent")
    table.add_row("duplicates", f"{report.duplicates:,}", _dup_note(report))
    table.add_row(
        "dead-lettered",
        Text(f"{report.dead_lettered:,}", style="bold red" if report.dead_lettered else ""),
        "see `revfield dead-letters`" if report.dead_lettered else "",
    )
    if report.unattributed:
        table.add_row(
            "unattributed",
            f"{report.unattributed:,}",
            "free-mail senders: stored without an account",
        )
    if report.accounts_created or report.contacts_created:
        table.add_row(
            "new accounts", f"{report.accounts_created:,}", "prospects started from a domain"
        )
        table.add_row("new contacts", f"{report.contacts_created:,}", "")
    table.add_row(
        "rate", f"{report.rate:,.0f}/s", f"{report.rows:,} rows in {report.seconds:.2f} s"
    )
    parts: list[RenderableType] = [table]
    if report.problems:
        parts.append(_problems(report))
    return Group(*parts)


def _dup_note(report: IngestReport) -> str:
    if not report.duplicate_lines:
        return ""
    shown = ", ".join(f"line {line} = signal #{sid}" for line, sid in report.duplicate_lines[:3])
    return f"already stored: {shown}{' …' if report.duplicates > 3 else ''}"


def _problems(report: IngestReport) -> RenderableType:
    lines = Text()
    for note in report.problems:
        where = f"{_short(note.file or report.source)}:{note.line}"
        lines.append(f"{where}: ", style="bold")
        lines.append(note.reason + "\n")
    more = report.dead_lettered - len(report.problems)
    if more > 0:
        lines.append(f"… and {more:,} more in the dead_letters table\n", style="dim")
    return Panel(
        lines, title="dead letters", title_align="left", border_style="red", box=box.ROUNDED
    )


def import_table(report: ImportReport) -> RenderableType:
    table = Table(
        title=f"import {report.kind} from {_short(report.directory)}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("table", "new", "updated", "unchanged"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, count in report.tables.items():
        table.add_row(name, f"{count.inserted:,}", f"{count.updated:,}", f"{count.unchanged:,}")
    if report.signals:
        s = report.signals
        table.add_row("signals", f"{s.accepted:,}", "—", f"{s.duplicates:,}")
    dead = report.dead_lettered
    table.add_section()
    table.add_row(
        Text("total", style="bold"),
        Text(f"{report.new_rows:,}", style="bold"),
        f"{report.updated_rows:,}",
        "",
    )
    parts: list[RenderableType] = [table]
    if report.files:
        read = Table(box=box.SIMPLE_HEAD, title="rows read", title_justify="left")
        for col in ("file", "rows", "dead-lettered", "repeated"):
            read.add_column(col, justify="left" if col == "file" else "right")
        for name, n in report.files.items():
            read.add_row(
                name,
                f"{n.rows:,}",
                Text(f"{n.dead_lettered:,}", style="red" if n.dead_lettered else ""),
                f"{n.repeated:,}",
            )
        parts.append(read)
    summary = Text(
        f"{report.new_rows:,} new rows", style="bold green" if report.new_rows else "bold"
    )
    if not report.new_rows and not report.updated_rows:
        summary.append(" — the memory already holds this export", style="")
    if dead:
        summary.append(f"; {dead:,} rows dead-lettered (see `revfield dead-letters`)", style="red")
    parts.append(summary)
    if dead:
        parts.append(_import_problems(report))
    if report.notes:
        notes = Text("data quirks handled:\n", style="dim")
        for note in report.notes:
            notes.append(f"  • {note}\n", style="dim")
        parts.append(notes)
    return Group(*parts)


def _import_problems(report: ImportReport, show: int = 5) -> RenderableType:
    lines = Text()
    for line in report.dead_letter_summary():
        lines.append(f"{line}\n")
    notes = [*report.dead_letters, *(report.signals.problems if report.signals else [])]
    for note in notes[:show]:
        lines.append(f"{os.path.basename(note.file or '')}:{note.line}: ", style="bold")
        lines.append(note.reason + "\n")
    more = report.dead_lettered - min(len(notes), show)
    if more > 0:
        lines.append(f"… and {more:,} more in the dead_letters table\n", style="dim")
    return Panel(
        lines, title="dead letters", title_align="left", border_style="red", box=box.ROUNDED
    )


def account_panel(ctx: AccountMemory) -> RenderableType:
    a = ctx.account
    head = Table.grid(padding=(0, 2))
    head.add_column(style="dim")
    head.add_column()
    head.add_row("state", Text(a.customer_state.value, style="bold"))
    head.add_row(
        "segment",
        f"{a.segment.value if a.segment else '—'} · {a.industry or '—'} · {a.region or '—'}",
    )
    if a.employees:
        head.add_row("employees", f"{a.employees:,}")
    head.add_row("owner", f"{a.owner.name} ({a.owner.id})" if a.owner else "—")
    if a.plan or a.seats or a.mrr:
        head.add_row("plan", f"{a.plan or '—'} · {a.seats or '—'} seats · MRR {_money(a.mrr)}")
    head.add_row("source", f"{a.source} · in memory since {_when(a.created_at)}")
    parts: list[RenderableType] = [head]

    if ctx.contacts:
        t = Table(title="contacts", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("id", "name", "email", "role", "do not contact"):
            t.add_column(col)
        for c in ctx.contacts:
            t.add_row(
                str(c.id),
                c.name or "—",
                c.email or "—",
                c.role or "—",
                "yes" if c.do_not_contact else "",
            )
        parts.append(t)

    for title, deals in (
        ("open deals", ctx.open_deals),
        ("recently closed deals", ctx.closed_deals),
    ):
        if not deals:
            continue
        t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("deal", "stage", "since", "amount", "product", "close", "owner"):
            t.add_column(col, justify="right" if col == "amount" else "left")
        for d in deals:
            t.add_row(
                d.id,
                d.stage,
                _when(d.stage_entered_at),
                _money(d.amount, d.currency),
                d.product or "—",
                d.close_date.isoformat() if d.close_date else "—",
                d.owner_id or "—",
            )
        parts.append(t)

    if ctx.facts:
        t = Table(title=f"facts ({ctx.fact_count()})", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("type", "fact", "confidence", "from signal", "observed"):
            t.add_column(col)
        for facts in ctx.facts.values():
            for f in facts:
                t.add_row(
                    f.type.value,
                    f.value,
                    f"{f.confidence:.2f}",
                    f"#{f.source_signal_id} {f.source_signal_kind.value} "
                    f"({f.source_signal_source})",
                    _when(f.observed_at),
                )
        parts.append(t)
    else:
        parts.append(Text("facts: none yet", style="dim"))

    if ctx.signals:
        t = Table(
            title=f"latest signals ({len(ctx.signals)} of {ctx.signal_count:,})",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        for col in ("#", "when", "kind", "source", "detail"):
            t.add_column(col)
        for s in ctx.signals:
            detail = s.text or ", ".join(f"{k}={v}" for k, v in list(s.payload.items())[:4])
            t.add_row(
                str(s.id),
                _when(s.occurred_at),
                s.kind.value,
                s.source,
                Text(detail[:90] + ("…" if len(detail) > 90 else "")),
            )
        parts.append(t)
    if ctx.actions:
        parts.append(chain_table(ctx.actions))
    return Panel(
        Group(*parts),
        title=Text.assemble((a.name, "bold"), " ", (a.id, "dim")),
        title_align="left",
        box=box.ROUNDED,
    )


def counts_chart(title: str, counts: Counter[str], column: str = "kind") -> Table:
    """``counts`` as a table of bars, largest first, ties by name (field events by kind, …)."""
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column(column)
    t.add_column("events", justify="right")
    t.add_column("", style="cyan")
    top = max(counts.values(), default=1)
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        t.add_row(key, f"{n:,}", "█" * max(1, round(30 * n / top)))
    return t


STATUS_STYLE = {
    "executed": "green",
    "queued": "green",
    "approved": "green",
    "pending_review": "yellow",
    "blocked": "red",
    "rejected": "red",
    "failed": "bold red",
    "cancelled": "dim",
}


def chain_table(actions: list[dict[str, Any]]) -> RenderableType:
    """Each action with its whole trace: signal → facts → field event → decision → review →
    outbox."""
    t = Table(
        title=f"actions and why ({len(actions)} newest)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_lines=True,
    )
    t.add_column("action", ratio=2)
    t.add_column("because", ratio=3)
    t.add_column("decided · answered · done", ratio=3)
    for a in actions:
        what = Text()
        what.append(f"#{a['id']} {a['kind'].replace('_', ' ')}", style="bold")
        what.append(f"\n{a['subject'][:80]}")
        what.append(f"\n{a['status']}", style=STATUS_STYLE.get(a["status"], ""))
        why = Text()
        ev = a["event"]
        if ev:
            why.append(f"event #{ev['id']} {ev['kind']}: ", style="cyan")
            why.append(ev["detail"][:90])
        if a["signal_ids"]:
            why.append("\nsignals " + ", ".join(f"#{i}" for i in a["signal_ids"][:8]), style="dim")
        for f in a["facts"][:4]:
            why.append(
                f"\nfact #{f['id']} {f['type']} (signal #{f['source_signal_id']}): ", style="dim"
            )
            why.append(f["value"][:70])
        for concern in a.get("concerns", []):
            why.append(f"\n⚠ {concern}", style="yellow")
        done = Text()
        for d in a["decisions"]:
            done.append(f"{d['verdict']}", style="bold")
            done.append(
                f" by {', '.join(d['rules']) or 'default'} · "
                f"policy {d['policy_version'].removeprefix('sha256:')[:10]}"
            )
            if d["guardrails"]:
                done.append(f" · guardrails {', '.join(d['guardrails'])}", style="dim")
            done.append("\n")
        for r in a["reviews"]:
            if r["status"] == "pending":
                done.append(f"review #{r['id']}: waiting for the {r['role']}\n", style="yellow")
            else:
                note = f" — {r['note']}" if r["note"] else ""
                edits = f" with edits {r['edits']}" if r["edits"] else ""
                done.append(f"review #{r['id']}: {r['status']} by {r['by']}{edits}{note}\n")
        if (o := a["outbox"]) is not None:
            when = f" at {o['executed_at'][:16].replace('T', ' ')}" if o["executed_at"] else ""
            after = f", after #{o['after']}" if o["after"] and o["status"] == "waiting" else ""
            error = (
                f": {o['error']}" if o["error"] and o["status"] in ("failed", "cancelled") else ""
            )
            done.append(
                f"outbox {o['status']}{error} via {o['executor']}{when}{after}\nkey {o['key']}",
                style="green" if o["status"] == "sent" else "",
            )
        t.add_row(what, why, done)
    return t
