"""``revfield risk``: the churn risks on record, and resolving one with a reason."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from revfield.cli._app import account_filter, app, console, fail, state

if TYPE_CHECKING:  # the memory loads with the command that reads it
    from revfield.memory import ChurnRiskView

risk_app = typer.Typer(
    help="Churn risks: open until a save play works them off or someone resolves them.",
    no_args_is_help=True,
)
app.add_typer(risk_app, name="risk")

STYLE = {"open": "bold red", "addressed": "yellow", "resolved": "green"}


@risk_app.command("list")
def risk_list(
    status: Annotated[
        str | None, typer.Option(help="Only risks in this state: open, addressed, resolved.")
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="Only this account's (id, domain or exact name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the risks as JSON.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
) -> None:
    """Churn risks, newest first: since when, the facts behind each, its save play, and how
    it was resolved."""
    from revfield.domain import RiskStatus
    from revfield.memory import list_risks

    try:
        wanted = RiskStatus(status) if status else None
    except ValueError:
        fail(f"--status `{status}`: one of {', '.join(s.value for s in RiskStatus)}")
    with state().store().read() as session:
        account_id = account_filter(session, account)
        risks = list_risks(session, status=wanted, account_id=account_id, limit=limit)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in risks], indent=2, default=str))
        return
    if not risks:
        console.print("no churn risks" + (f" {status}" if status else ""))
        return
    table = Table(title=f"churn risks ({len(risks)})", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("#", "account", "state", "since", "facts", "save play", "resolution"):
        table.add_column(col, overflow="fold", justify="right" if col == "#" else "left")
    for r in risks:
        table.add_row(
            str(r.id),
            r.account_name or r.account_id,
            Text(r.status.value, style=STYLE[r.status.value]),
            f"{r.opened_at:%Y-%m-%d}",
            str(len(r.fact_ids)),
            _play(r),
            f"{r.resolved_by}: {r.resolution}" if r.resolution else "",
        )
    console.print(table)
    console.print("[dim]resolve one with `revfield risk resolve ID --reason TEXT`[/]", markup=True)


def _play(r: ChurnRiskView) -> str:
    if r.save_play_action_id is None:
        return "none yet"
    return f"#{r.save_play_action_id} {r.save_play_status.value if r.save_play_status else ''}"


@risk_app.command("resolve")
def risk_resolve(
    risk_id: Annotated[int, typer.Argument(metavar="ID", help="The risk's number.")],
    reason: Annotated[str, typer.Option(help="What changed (kept with the risk).")] = ...,  # type: ignore[assignment]
    as_user: Annotated[
        str | None, typer.Option("--as", help="Resolve as this user.", metavar="USER")
    ] = None,
) -> None:
    """Resolve a churn risk with a reason: expansion is proposed again for the account (still
    decided by the policy pack)."""
    from revfield.review import ReviewError, resolve_actor, resolve_churn_risk

    st = state()
    with st.store().session() as session:
        try:
            actor = resolve_actor(session, as_user)
            risk = resolve_churn_risk(
                session, risk_id, actor=actor, reason=reason, now=st.clock.now()
            )
        except ReviewError as exc:
            fail(str(exc))
    console.print(
        Text.assemble(
            f"churn risk #{risk.id} at {risk.account_name or risk.account_id}: ",
            ("resolved", "green"),
            f" by {risk.resolved_by} — {risk.resolution}",
        )
    )
