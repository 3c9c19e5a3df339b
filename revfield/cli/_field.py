"""The field from the command line: ``inbox``, ``approve``, ``reject``, ``submit``, and the
agent part of ``run``. Every command that answers resumes the paused agent run and carries out
what the answer released through the outbox; ``submit`` puts one action through the same path
as an agent's proposal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from revfield.cli._app import (
    State,
    app,
    bounded,
    collecting,
    console,
    fail,
    is_control,
    pack_help,
    report,
    state,
    stderr,
)
from revfield.cli._users import operator

if TYPE_CHECKING:
    # The field (LangGraph), the pack's compiler, the executors and even the memory are
    # imported by the commands that use them: `--help` starts without them, and `inbox`
    # without the field.
    from revfield.field import Field, SubmitResult
    from revfield.memory import Claims
    from revfield.outbox import OutboxReport
    from revfield.policies import CompiledPack
    from revfield.review import Actor, AnswerResult


def _acting(actor: Actor, as_user: str | None) -> Actor:
    """``--as USER``: the operator at this terminal acts as USER, and the audit trail
    records both."""
    return replace(actor, operator=operator()) if as_user else actor


def configured_pack(st: State) -> CompiledPack:
    """The policy pack the settings name, or one ``error:`` line saying why it was refused."""
    from revfield.policies import PackError, load_pack

    try:
        return load_pack(st.settings.policies)
    except PackError as exc:
        fail(
            f"the policy pack at {st.settings.policies} was refused\n{exc}"
            + pack_help(st.settings.policies)
        )


@contextmanager
def open_field(st: State, claims: Claims | None = None) -> Iterator[Field]:
    """The configured field: database, pack, model, executor and checkpointer (``claims``:
    a worker's own)."""
    from revfield.field import Field, open_checkpointer
    from revfield.llm import ModelError, make_model
    from revfield.outbox import load_executor

    store = st.store()
    pack = configured_pack(st)
    try:
        model = make_model(st.settings)
    except ModelError as exc:
        fail(str(exc))
    try:
        settings = st.settings
        if settings.outbox_log is None:  # the log executor writes next to the database
            settings = settings.model_copy(update={"outbox_log": store.beside("outbox.jsonl")})
        executor = load_executor(settings.executor, settings)
    except ValueError as exc:
        fail(f"executor: {exc}")
    try:
        with open_checkpointer(store) as saver:
            fld = Field(
                store,
                pack,
                model,
                st.clock,
                saver,
                executor=executor,
                lease=timedelta(seconds=st.settings.outbox_lease_seconds),
                claims=claims,
            )
            try:
                yield fld
            finally:
                fld.close()
    finally:
        executor.close()
        model.close()


@app.command("inbox")
@bounded
def inbox_command(
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Show only what this user may answer.", metavar="USER"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many items.")] = 50,
) -> None:
    """Actions waiting for a person, oldest deadline first, with the reason for each."""
    from revfield.review import ReviewError, inbox_page, resolve_actor

    with state().store().read() as session:
        try:
            actor = resolve_actor(session, as_user)
        except ReviewError as exc:
            fail(str(exc))
        page = inbox_page(session, actor, limit=limit)  # no --as: the operator (RevOps) sees all
    items = page.items
    if as_json:
        typer.echo(
            json.dumps(
                [{**i.__dict__, "deadline_at": i.deadline_at.isoformat()} for i in items],
                indent=2,
                default=str,
            )
        )
        return
    if not items:
        console.print("the inbox is empty" + (f" for {as_user}" if as_user else ""))
        return
    title = f"inbox: {page.waiting} waiting" + (f" for {as_user}" if as_user else "")
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_lines=True)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("action", ratio=3)
    t.add_column("why it waits", ratio=2)
    for i in items:
        verdict_style = "bold red" if i.verdict == "escalate" else "yellow"
        what = Text()
        what.append(i.account_name, style="bold")
        what.append(f"\n{i.kind.replace('_', ' ')}: {i.summary}")
        who = i.assignee_role + (f" {i.assignee_id}" if i.assignee_id else "")
        why = Text()
        why.append(i.verdict, style=verdict_style)
        why.append(f" → {who}, due {i.deadline_at:%b %d %H:%M}\n", style="dim")
        why.append(
            i.reason.split(": ", 1)[-1]
            if i.reason.startswith(("review:", "escalate:"))
            else i.reason
        )
        t.add_row(str(i.review_id), what, why)
    console.print(t)
    if page.more:
        rest = f"{page.total - len(items):,}" + ("+" if page.capped else "")
        console.print(f"[dim]… and {rest} more (--limit)[/]", markup=True)
    console.print(
        "[dim]answer with `revfield approve ID [--edit FIELD=VALUE]` "
        "or `revfield reject ID --reason TEXT`[/]",
        markup=True,
    )


def _edits(raw: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as given; the action's own model checks and converts the values."""
    out: dict[str, Any] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--edit `{item}`: write FIELD=VALUE, e.g. --edit discount_pct=10")
        out[name.strip()] = value
    return out


def _answer(
    review_id: int,
    *,
    approve: bool,
    as_user: str | None,
    edits: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Take the answer, then resume its run. The answer is recorded (one transaction) and
    printed before the field is loaded: a mistake (no such item, already answered, not yours)
    comes back at once, and the answer stands even if resuming fails — the next ``revfield
    run`` or worker resumes the run from memory."""
    from revfield.review import ReviewError, answer_review, resolve_actor

    st = state()
    # an edited action is decided again, and a pack that isn't there is said at once; else
    # the pack is loaded with the field, once the answer is in
    missing = not Path(st.settings.policies).exists()
    pack = configured_pack(st) if edits or missing else None
    with st.store().session() as session:
        try:
            actor = resolve_actor(session, as_user)
            result = answer_review(
                session,
                pack,
                review_id,
                approve=approve,
                actor=_acting(actor, as_user),
                now=st.clock.now(),
                edits=edits,
                note=reason,
            )
        except ReviewError as exc:
            fail(str(exc))
    _print_answer(result)
    console.file.flush()
    collecting()  # the run resumes and the outbox delivers: work that may grow
    try:
        with open_field(st) as field:
            field.resume_answer(result)
            delivered = field.deliver()
    except (typer.Exit, KeyboardInterrupt):  # said already (a pack or model that can't load)
        _answer_stands()
        raise
    except Exception as exc:  # the database gone, a bug: said here, before what it means
        if is_control(exc):
            raise
        report(exc, debug=st.debug)
        _answer_stands()
        raise typer.Exit(1) from None
    _print_delivered(delivered)


def _answer_stands() -> None:
    stderr.print(
        "[dim]the answer is recorded; its run resumes with the next `revfield run` "
        "(or a worker)[/]",
        markup=True,
    )


def _print_answer(result: AnswerResult) -> None:
    style = {
        "approved": "green",
        "rejected": "yellow",
        "re-escalated": "bold red",
        "blocked": "bold red",
    }[result.outcome]
    console.print(
        Text.assemble(
            f"review #{result.review_id} (action #{result.action_id}): ",
            (result.outcome, style),
            f" — {result.message}" if result.message else "",
        )
    )


def _print_delivered(delivered: OutboxReport) -> None:
    if delivered.sent or delivered.failed or delivered.cancelled:
        console.print(
            f"outbox: {delivered.sent} executed"
            + (f", {delivered.failed} failed" if delivered.failed else "")
            + (
                f", {len(delivered.cancelled)} cancelled (what they waited for won't go out)"
                if delivered.cancelled
                else ""
            )
        )
    for e in delivered.errors:
        console.print(Text(f"  {e}", style="red"))


@app.command()
@bounded
def approve(
    review_id: Annotated[
        int, typer.Argument(metavar="ID", help="The review item's number (see `revfield inbox`).")
    ],
    edit: Annotated[
        list[str] | None,
        typer.Option(
            "--edit", metavar="FIELD=VALUE", help="Change the action before approving (repeatable)."
        ),
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Answer as this user.", metavar="USER")
    ] = None,
) -> None:
    """Approve a waiting action; the paused agent run resumes and the outbox executes it.
    An edited action is decided again: an edit that needs a higher rung re-escalates."""
    _answer(review_id, approve=True, as_user=as_user, edits=_edits(edit or []) or None)


@app.command()
@bounded
def reject(
    review_id: Annotated[
        int, typer.Argument(metavar="ID", help="The review item's number (see `revfield inbox`).")
    ],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = ...,  # type: ignore[assignment]
    as_user: Annotated[
        str | None, typer.Option("--as", help="Answer as this user.", metavar="USER")
    ] = None,
) -> None:
    """Reject a waiting action; it is never executed and the agent run finishes."""
    if not reason.strip():
        fail("--reason must say why")
    _answer(review_id, approve=False, as_user=as_user, reason=reason)


SUBMIT_FIELDS = ("account", "contact", "cites", "idempotency_key")
"""What ``revfield submit`` reads beside the action's own fields."""


def _no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"`{key}` is given twice; JSON keys must be unique (which is meant?)")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a JSON number; send a finite number")


def _read_submission(raw: str) -> tuple[str, dict[str, Any]]:
    """The JSON object ``raw`` names (the text itself, ``@FILE`` or ``-`` for stdin), and
    where it came from for error messages."""
    if raw == "-":
        where, text = "stdin", sys.stdin.read()
    elif raw.startswith("@"):
        where = raw[1:]
        try:
            text = Path(where).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{where}: {exc.strerror or exc}\n  help: name a JSON file as @FILE")
        except UnicodeDecodeError as exc:
            fail(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    else:
        where, text = "ACTION_JSON", raw
    try:
        data = json.loads(text, object_pairs_hook=_no_twice, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        fail(
            f"{where}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}\n"
            "  help: give one JSON object, e.g. "
            """'{"kind": "offer_discount", "discount_pct": 10, "account": "acme.com"}', """
            "or @FILE, or - to read it from stdin"
        )
    except ValueError as exc:
        fail(f"{where}: {exc}")
    if not isinstance(data, dict):
        fail(
            f"{where}: expected a JSON object (the action's fields, `account`…), "
            f"got {type(data).__name__ if data is not None else 'null'}"
        )
    return where, data


def _submission(where: str, data: dict[str, Any]) -> dict[str, Any]:
    """The arguments of :meth:`Field.submit` from a submission object; a wrong one fails."""
    account = data.pop("account", None)
    if not isinstance(account, str) or not account.strip():
        fail(f"{where}: `account` is missing: the account's id, domain or name")
    contact = data.pop("contact", None)
    if contact is not None and (isinstance(contact, bool) or not isinstance(contact, (int, str))):
        fail(f"{where}: `contact` is a contact id or email, not {json.dumps(contact)}")
    cites = data.pop("cites", [])
    if not isinstance(cites, list) or any(
        isinstance(c, bool) or not isinstance(c, int) for c in cites
    ):
        fail(f"{where}: `cites` is a list of fact ids, e.g. [12, 15]")
    key = data.pop("idempotency_key", None)
    if key is not None and not isinstance(key, str):
        fail(f"{where}: `idempotency_key` is a string")
    if "kind" not in data:
        fail(f"{where}: `kind` is missing: the kind of action (offer_discount, send_email…)")
    return {
        "action": data,
        "account": account,
        "contact": contact,
        "cites": cites,
        "idempotency_key": key,
    }


def _submitted_json(result: SubmitResult, delivered: OutboxReport) -> str:
    out = {
        **{k: v for k, v in result.__dict__.items() if k != "deadline"},
        "rules": list(result.rules),
        "deadline": result.deadline.isoformat() if result.deadline else None,
        "message": result.message,
        "outbox": {"executed": delivered.sent, "failed": delivered.failed},
    }
    return json.dumps(out, indent=2)


@app.command()
def submit(
    action_json: Annotated[
        str,
        typer.Argument(
            metavar="ACTION_JSON",
            help="The action as a JSON object (or @FILE, or - for stdin): its fields (`kind`, "
            "`discount_pct`…) plus `account`, and optionally `contact` (id or email), `cites` "
            "(fact ids) and `idempotency_key`.",
        ),
    ],
    as_user: Annotated[
        str | None, typer.Option("--as", help="Submit as this user.", metavar="USER")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Put one action through the field: the policy decides, a person reviews it when the pack
    says so, and the outbox carries it out. The same idempotency key (default: the action
    itself) is the same action: submitting it again says what became of it."""
    from revfield.domain import ProposalError
    from revfield.review import ReviewError, resolve_actor

    where, data = _read_submission(action_json)
    args = _submission(where, data)
    st = state()
    with open_field(st) as field:
        with st.store().read() as session:
            try:
                actor = resolve_actor(session, as_user)
            except ReviewError as exc:
                fail(str(exc))
        try:
            by = f" (operator {operator()})" if as_user else ""
            result = field.submit(**args, source=f"cli:{actor.id}{by}")
        except (ProposalError, ReviewError) as exc:
            fail(f"the action was refused: {exc}")
        delivered = field.deliver()
    if as_json:
        typer.echo(_submitted_json(result, delivered))
        return
    style = {
        "pending_review": "yellow",
        "blocked": "bold red",
        "queued": "green",
        "executed": "green",
    }.get(result.status, "")
    console.print(Text(result.message, style=style), soft_wrap=True)
    if delivered.sent or delivered.failed:
        console.print(
            f"outbox: {delivered.sent} executed"
            + (f", {delivered.failed} failed" if delivered.failed else "")
        )
    for e in delivered.errors:
        console.print(Text(f"  {e}", style="red"))
