"""People and the audit trail from the command line: ``user add`` (prints a bearer token
once), ``user list``, ``user revoke``, and ``audit``. Who typed a command is the operator (the
local machine's user, :func:`operator`): recorded beside what they did, in the audit trail."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from revfield._text import shorten
from revfield.cli._app import account_filter, app, console, fail, state

if TYPE_CHECKING:  # the memory loads with the command that reads it
    from revfield.memory import AuditView

__all__ = ["operator"]

user_app = typer.Typer(
    help="People who answer review items, and their tokens for the service.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

CLI_ACTOR = "local-admin"
"""Who the command line acts as when no ``--as`` says otherwise (the operator, RevOps)."""


def operator() -> str:
    """The person at this terminal, as the audit trail records them: the local machine's user
    and host (``pat@laptop``), at most 64 characters."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name in the environment nor passwd
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'localhost'}"[:64]


def _print_token(user_id: str, token: str) -> None:
    console.print(f"token: {token}", soft_wrap=True)
    console.print(
        "This token is shown only this once: store it now (revfield keeps only its hash).\n"
        f"Use it as the header `Authorization: Bearer {token}`.\n"
        f"Lost or leaked: `revfield user revoke {user_id} --new-token` replaces it.",
        soft_wrap=True,
    )


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help='The person\'s name, e.g. "Ana Lima".')],
    role: Annotated[str, typer.Option(help="seller, manager or revops.", show_default=False)] = ...,  # type: ignore[assignment]
    team: Annotated[
        str | None, typer.Option(help="Their team's id (a manager needs one).", metavar="T")
    ] = None,
    new_team: Annotated[
        bool, typer.Option("--new-team", help="Create the team --team names if there is none.")
    ] = False,
    email: Annotated[str | None, typer.Option(help="Their email address.", metavar="E")] = None,
    user_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Their user id (default: from the name, `ana-lima`).", metavar="ID"
        ),
    ] = None,
) -> None:
    """Add a person who answers review items, and print their bearer token (shown only this
    once; revfield stores only its SHA-256)."""
    from revfield.memory import UserError, add_user, issue_token, user_id_from_name

    st = state()
    wanted = user_id if user_id is not None else user_id_from_name(name)
    if not wanted:
        fail(f"`{name}` makes no user id\n  help: give one with --id")
    now = st.clock.now()
    with st.store().session() as session:
        try:
            user = add_user(
                session,
                id=wanted,
                name=name,
                role=role.strip().lower(),
                team_id=team,
                email=email,
                now=now,
                new_team=new_team,
                actor=CLI_ACTOR,
                operator=operator(),
            )
            token = issue_token(session, user.id, now=now, actor=CLI_ACTOR, operator=operator())
        except UserError as exc:
            fail(str(exc))
    team_part = f" in team {user.team_id}" if user.team_id else ""
    console.print(
        Text.assemble("added user ", (user.id, "bold"), f": {name.strip()}, {user.role}{team_part}")
    )
    _print_token(user.id, token)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


@user_app.command("list")
def user_list() -> None:
    """Every user: role, team, whether they have a working token, and when it was last used."""
    from revfield.memory import list_users

    with state().store().read() as session:
        users = list_users(session)
    if not users:
        console.print("no users yet; add one with `revfield user add NAME --role seller`")
        return
    with_token = sum(1 for u in users if u.active_tokens)
    table = Table(
        title=f"users ({len(users)}, {with_token} with a token)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("id", "name", "role", "team", "token", "last used"):
        table.add_column(col, overflow="fold")
    for u in users:
        token = (
            Text("active" + (f" ×{u.active_tokens}" if u.active_tokens > 1 else ""), "green")
            if u.active_tokens
            else Text("none", "dim")
        )
        table.add_row(u.id, u.name, u.role.value, u.team_id or "—", token, _when(u.last_used_at))
    console.print(table)


@user_app.command("revoke")
def user_revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user's id or name.")],
    new_token: Annotated[
        bool, typer.Option("--new-token", help="Then issue a fresh token (printed once).")
    ] = False,
) -> None:
    """Revoke every token of a user: from now on they are refused. ``--new-token`` issues a
    fresh one in the same step."""
    from revfield.memory import UserError, issue_token, resolve_user_id, revoke_tokens

    st = state()
    now = st.clock.now()
    token = None
    with st.store().session() as session:
        try:
            user_id = resolve_user_id(session, name)
            count = revoke_tokens(session, user_id, now=now, actor=CLI_ACTOR, operator=operator())
            if new_token:
                token = issue_token(session, user_id, now=now, actor=CLI_ACTOR, operator=operator())
        except UserError as exc:
            fail(str(exc))
    if count:
        console.print(f"revoked {count} token{'s' if count > 1 else ''} of {user_id}")
    else:
        console.print(f"{user_id} had no working token")
    if token is not None:
        _print_token(user_id, token)


def _summary(entry: AuditView) -> str:
    """The detail of an entry on one line: its non-empty values, shortened."""
    parts = []
    for key, value in entry.detail.items():
        if key == "operator" or value in (None, "", [], {}):
            continue
        if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            shown = ", ".join(map(str, value))
        else:
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key} {shorten(shown, 60)}")
    return shorten("; ".join(parts), 160)


def _actor(entry: AuditView) -> str:
    """``ana``, or ``pat@laptop as ana`` (on two lines) when an operator acted on the actor's
    behalf."""
    by = entry.detail.get("operator")
    return f"{by}\nas {entry.actor}" if by else entry.actor


def _entry_json(entry: AuditView) -> dict[str, Any]:
    return {**asdict(entry), "at": entry.at.isoformat()}


@app.command("audit")
def audit_command(
    account: Annotated[
        str | None, typer.Option(help="Only this account's (id, domain or exact name).")
    ] = None,
    action: Annotated[
        int | None, typer.Option(help="Only this action's entries.", metavar="N", min=1)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.", metavar="N")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
) -> None:
    """The audit trail, newest first: every decision, review answer, edit, execution and
    login, who did it and when. The database refuses to change or delete an entry."""
    from revfield.memory import audit_trail

    with state().store().read() as session:
        account_id = account_filter(session, account)
        entries = audit_trail(session, account_id=account_id, action_id=action, limit=limit)
    if as_json:
        typer.echo(json.dumps([_entry_json(e) for e in entries], indent=2, default=str))
        return
    if not entries:
        console.print(
            "the audit trail is empty" + (" for that filter" if account or action else "")
        )
        return
    scope = [f"of {account_id}"] if account_id else []
    scope += [f"of action #{action}"] if action else []
    where = f" {' and '.join(scope)}" if scope else ""
    table = Table(
        title=f"audit trail{where}: newest {len(entries)}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    columns: list[tuple[str, Callable[[AuditView], str]]] = [
        ("at", lambda e: f"{e.at:%Y-%m-%d}\n{e.at:%H:%M:%S}"),
        ("actor", _actor),
        ("event", lambda e: e.event),
        ("account", lambda e: e.account_id or ""),
        ("action", lambda e: f"#{e.action_id}" if e.action_id else ""),
        ("review", lambda e: f"#{e.review_id}" if e.review_id else ""),
    ]
    cells = [[cell(e) for _, cell in columns] for e in entries]
    shown = [i for i in range(len(columns)) if any(row[i] for row in cells)]
    for i in shown:  # a column no entry fills (no account, say) is left out
        name = columns[i][0]
        if name == "event":  # the widest column: the event, and what it recorded below it
            table.add_column("event, detail", overflow="fold", ratio=1, min_width=16)
        elif name in ("action", "review"):
            table.add_column(name, no_wrap=True, justify="right")
        else:
            table.add_column(name, overflow="fold", max_width=20, no_wrap=name == "at")
    for entry, row in zip(entries, cells, strict=True):
        summary = _summary(entry)
        event = Text(entry.event, style="bold")
        if summary:
            event.append("\n" + summary, style="dim")
        table.add_row(*(event if columns[i][0] == "event" else row[i] for i in shown))
    console.print(table)
