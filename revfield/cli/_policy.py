"""Commands RevOps uses to write and test policies, and to read governance."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from revfield.cli._app import app, console, fail, pack_help, state

if TYPE_CHECKING:  # the pack compiler (CEL, YAML) loads with the command that needs it
    from revfield.policies import (
        BacktestExample,
        BacktestReport,
        CompiledPack,
        Decision,
        RuleGroup,
        RuleOutcome,
    )

policy_app = typer.Typer(help="Write, test and explain RevOps policy packs.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

PathArg = Annotated[
    Path | None, typer.Argument(help="Pack folder or file (default: REVFIELD_POLICIES).")
]
STYLE = {"auto": "green", "review": "yellow", "escalate": "bold magenta", "block": "bold red"}


def _pack(path: Path | None, how: str = "--pack PATH") -> CompiledPack:
    """The pack at ``path`` (default: the ``policies`` setting). A refusal lists its problems;
    a pack that isn't there says how to name it: ``how`` (the command's option) or
    REVFIELD_POLICIES for the setting, or asks whether a path given was the one meant."""
    from revfield.policies import PackError, load_pack

    where = path or state().settings.policies
    try:
        return load_pack(where)
    except PackError as exc:
        if path is None:
            hint = pack_help(where, how)
        elif not where.exists():
            hint = f"\n  help: is `{where}` the path you meant? name a pack folder or file"
        else:
            hint = ""
        fail(
            f"the policy pack was refused ({len(exc.problems)} "
            f"problem{'s' if len(exc.problems) > 1 else ''}); "
            "nothing of it is in force\n" + str(exc) + hint
        )


def _verdict(label: str) -> Text:
    return Text(label, style=STYLE.get(label, ""))


@policy_app.command("check")
def check(path: PathArg = None) -> None:
    """Validate the pack and lint it: duplicate ids, rules that never match, shadowed rules."""
    from revfield.policies import lint_pack

    pack = _pack(path, "the pack as PATH")
    findings = lint_pack(pack)
    console.print(
        f"pack {pack.version}: {len(pack.rules)} rules, {len(pack.spec.definitions)} definitions, "
        f"{len(pack.stages)} stages, {len(pack.capabilities)} capabilities from "
        f"{', '.join(Path(f).name for f in pack.files)}"
    )
    if findings:
        for f in findings:
            console.print(Text(f.render(), style="yellow"), soft_wrap=True)
        fail(f"{len(findings)} lint finding{'s' if len(findings) > 1 else ''}")
    console.print("[green]ok[/]: valid, and every rule can match and decide", markup=True)


@policy_app.command("test")
def run_tests(
    path: PathArg = None,
    tests: Annotated[
        Path | None, typer.Option(help="Folder of test files (default: PACK/tests).")
    ] = None,
) -> None:
    """Run the policy tests (given a context, expect a decision and rule ids)."""
    from revfield.policies import PackError, run_policy_tests

    pack_path = path or state().settings.policies
    pack = _pack(path, "the pack as PATH")
    folder = tests or (pack_path if pack_path.is_dir() else pack_path.parent) / "tests"
    try:
        report = run_policy_tests(pack, folder)
    except PackError as exc:
        fail(str(exc))
    for result in report.failed:
        console.print(
            Text.assemble(
                ("FAIL", "bold red"), f" {Path(result.file).name}:{result.line} {result.name}"
            )
        )
        for line in result.diff:
            console.print(f"    {line}", soft_wrap=True)
    passed = len(report.results) - len(report.failed)
    console.print(
        f"{passed} passed, {len(report.failed)} failed; "
        f"{len(report.covered & {r.id for r in pack.rules})} of {len(pack.rules)} "
        "rules matched in some test"
    )
    if report.uncovered:
        console.print(
            Text.assemble(("not covered by any test:", "yellow"), f" {', '.join(report.uncovered)}")
        )
    if report.failed:
        raise typer.Exit(1)


def _read_json(arg: str) -> dict[str, Any]:
    text = Path(arg).read_text(encoding="utf-8") if Path(arg).is_file() else arg
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"ACTION_JSON: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "pass a file path or inline JSON"
        )
    if not isinstance(data, dict):
        fail("ACTION_JSON must be a JSON object")
    return data


@policy_app.command("explain")
def explain(
    action_json: Annotated[
        str,
        typer.Argument(
            metavar="ACTION_JSON",
            help=(
                "A proposed action (with `kind`, `motion`, `account_id`…: "
                "the context is assembled from "
                "memory) or a decision context (`action`, `account`, `contact`…), "
                "as a file or inline JSON."
            ),
        ),
    ],
    path: Annotated[Path | None, typer.Option("--pack", help="Pack folder or file.")] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=(
                "Print the explanation as JSON: every rule with its outcome (true, false or "
                "the error), the guardrails, the decision, escalate_to, why, the pack version."
            ),
        ),
    ] = False,
) -> None:
    """Every rule matched or not, the guardrail effects, the decision and why."""
    from pydantic import ValidationError

    from revfield.domain import ProposedAction
    from revfield.policies import ContextError, build_context, decide, merge_context
    from revfield.policies import explain as explain_rules

    pack = _pack(path)
    data = _read_json(action_json)
    st = state()
    try:
        if "kind" in data:
            action = ProposedAction.model_validate(data)
            with st.store().read() as session:
                ctx = build_context(session, pack, action, st.clock.now())
        else:
            ctx = merge_context(data)
            if "now" not in data:
                ctx["now"] = st.clock.now()
    except ValidationError as exc:
        err = exc.errors()[0]
        fail(f"ACTION_JSON: `{'.'.join(map(str, err['loc']))}`: {err['msg']}")
    except ContextError as exc:
        fail(f"ACTION_JSON: {exc}")
    decision = decide(pack, ctx)
    outcomes = explain_rules(pack, ctx)
    if as_json:
        typer.echo(json.dumps(explanation_json(pack, decision, outcomes), indent=2))
        return
    table = Table(title=f"rules of pack {pack.version}", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("", "rule", "decision", "reason / error"):
        table.add_column(col)
    reasons = {r.id: r.reason for r in pack.rules}
    for rule_id, outcome, verdict in outcomes:
        if outcome is True:
            table.add_row(
                Text("✔", style="green"),
                Text(rule_id, style="bold"),
                _verdict(verdict.label),
                reasons[rule_id],
            )
        elif outcome is False:
            table.add_row(
                Text("·", style="dim"),
                Text(rule_id, style="dim"),
                Text(verdict.label, style="dim"),
                "",
            )
        else:
            table.add_row(
                Text("!", style="red"),
                rule_id,
                _verdict("escalate"),
                Text(f"failed: {outcome}", style="red"),
            )
    console.print(table)
    if decision.guardrails:
        g = Table(title="guardrails and governance", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("guardrail", "at least", "changed the decision", "why"):
            g.add_column(col)
        for e in decision.guardrails:
            g.add_row(e.id, _verdict(e.at_least.label), "yes" if e.tightened else "no", e.reason)
        console.print(g)
    console.print(
        Text.assemble(
            "decision: ",
            _verdict(decision.verdict.label),
            f"{' → ' + decision.escalate_to if decision.escalate_to else ''}",
        )
    )
    console.print(f"why: {decision.explanation}", soft_wrap=True)


def explanation_json(
    pack: CompiledPack, decision: Decision, outcomes: list[RuleOutcome]
) -> dict[str, Any]:
    """``policy explain --json``: what the tables show, for a script."""
    reasons = {r.id: r.reason for r in pack.rules}
    return {
        "policy_version": decision.policy_version,
        "decision": decision.verdict.label,
        "escalate_to": decision.escalate_to,
        "explanation": decision.explanation,
        "default_applied": decision.default_applied,
        "rules": [
            {
                "id": rule_id,
                "outcome": outcome,
                "decision": verdict.label,
                "reason": reasons[rule_id],
            }
            for rule_id, outcome, verdict in outcomes
        ],
        "guardrails": [
            {
                "id": e.id,
                "at_least": e.at_least.label,
                "tightened": e.tightened,
                "reason": e.reason,
            }
            for e in decision.guardrails
        ],
        "missing_criteria": list(decision.missing_criteria),
        "errors": [{"rule": e.rule_id, "message": e.message} for e in decision.errors],
    }


@policy_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The pack in force.")],
    new: Annotated[Path, typer.Argument(help="The changed pack.")],
    limit: Annotated[int | None, typer.Option(help="Replay only the newest N decisions.")] = None,
    show: Annotated[int, typer.Option(help="How many changed decisions to list.")] = 30,
) -> None:
    """Replay the stored decisions through both packs and report every decision that changes."""
    from revfield.policies import diff_packs

    before, after = _pack(old), _pack(new)
    with state().store().read() as session:
        report = diff_packs(session, before, after, limit=limit)
    console.print(
        f"replayed {report.replayed:,} stored decisions: {before.version} → {after.version}"
    )
    if not report.changes:
        console.print("[green]no decision changes[/]", markup=True)
        return
    summary = Table(
        title=f"{len(report.changes):,} decisions would change",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("from", "to", "decisions"):
        summary.add_column(col, justify="right" if col == "decisions" else "left")
    for (a, b), n in report.transitions().most_common():
        summary.add_row(_verdict(a), _verdict(b), f"{n:,}")
    console.print(summary)
    detail = Table(box=box.SIMPLE_HEAD)
    for col in ("decision", "account", "action", "was", "becomes", "rules now", "why"):
        detail.add_column(col, overflow="fold")
    for c in report.changes[:show]:
        detail.add_row(
            f"#{c.decision_id}",
            c.account_id or "—",
            f"{c.action_kind} ({c.motion})",
            _verdict(c.old),
            _verdict(c.new),
            ", ".join(c.new_rules) or "—",
            c.new_explanation,
        )
    console.print(detail)


@policy_app.command("backtest")
def backtest(
    old: Annotated[Path, typer.Argument(help="The pack in force.")],
    new: Annotated[Path, typer.Argument(help="The changed pack.")],
    as_json: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE|-",
            help="Write the report as JSON to FILE (the tables are printed too), or with `-` "
            "print only the JSON.",
        ),
    ] = None,
    examples: Annotated[
        int, typer.Option(min=0, help="Examples kept per rule (the tables show one).")
    ] = 3,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Replay only the newest N answered items.")
    ] = None,
) -> None:
    """Score a pack change against what people answered: every review item they approved,
    edited or rejected, decided again by both packs. Reports, by the new pack's rule, what it
    would run by itself that people rejected or edited, and what it still asks people who
    always approved unchanged. It reports; it doesn't judge (exit code 0)."""
    from revfield.policies import backtest_packs

    before, after = _pack(old), _pack(new)
    with state().store().read() as session:
        report = backtest_packs(session, before, after, examples=examples, limit=limit)
    if as_json is not None:
        text = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
        if as_json == "-":
            typer.echo(text)
            return
        Path(as_json).write_text(text + "\n", encoding="utf-8")
    _backtest_tables(report)
    if as_json is not None:
        console.print(f"the report is in {as_json}", soft_wrap=True)


def _backtest_tables(report: BacktestReport) -> None:
    """``policy backtest`` for a person: what was replayed, the two findings, the verdict."""
    a = report.answers
    console.print(
        f"replayed {report.replayed:,} answered review items: {report.old_version} → "
        f"{report.new_version} (approved {a['approved']:,}, edited {a['edited']:,}, "
        f"rejected {a['rejected']:,})",
        soft_wrap=True,
    )
    changed = sorted(
        ((o, n, c) for (o, n), c in report.transitions.items() if o != n), key=lambda t: -t[2]
    )
    if changed:
        moves = Table(
            title="answered items whose decision changes", box=box.SIMPLE_HEAD, title_justify="left"
        )
        for col in ("from", "to", "items"):
            moves.add_column(col, justify="right" if col == "items" else "left")
        for o, n, c in changed:
            moves.add_row(_verdict(o), _verdict(n), f"{c:,}")
        console.print(moves)
    against = Table(
        title="would automate what people rejected or edited",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("rule", "rejected", "edited", "example"):
        against.add_column(
            col, overflow="fold", justify="right" if col in ("rejected", "edited") else "left"
        )
    by_rule: dict[str, list[RuleGroup | None]] = {}
    for g in report.automated_rejected:
        by_rule.setdefault(g.rule, [None, None])[0] = g
    for g in report.automated_edited:
        by_rule.setdefault(g.rule, [None, None])[1] = g
    for rule, (rejected, edited) in by_rule.items():
        first = [e for g in (rejected, edited) if g for e in g.examples][:1]
        against.add_row(
            Text(rule, style="bold"),
            Text(f"{rejected.count:,}" if rejected else "0", style="red" if rejected else ""),
            Text(f"{edited.count:,}" if edited else "0", style="yellow" if edited else ""),
            _example_line(first[0]) if first else "",
        )
    if by_rule:
        console.print(against)
    else:
        console.print("[green]automates nothing people rejected or edited[/]", markup=True)
    asked = Table(
        title="would still ask people who always approved unchanged",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("rule", "decision", "approved", "of answered", "example"):
        asked.add_column(
            col, overflow="fold", justify="right" if col in ("approved", "of answered") else "left"
        )
    for g in report.asked_always_approved:
        asked.add_row(
            Text(g.rule, style="bold"),
            _verdict(g.verdict),
            f"{g.count:,}",
            f"{g.share:.1%}",
            _example_line(g.examples[0]) if g.examples else "",
        )
    if report.asked_always_approved:
        console.print(asked)
    for g in report.blocked_approved:
        console.print(
            Text.assemble(
                ("newly blocked", "bold red"),
                f" by {g.rule}: {g.count:,} item{'s' if g.count != 1 else ''} people approved",
                f", e.g. {_example_line(g.examples[0])}" if g.examples else "",
            ),
            soft_wrap=True,
        )
    console.print(Text.assemble(("verdict: ", "bold"), _backtest_verdict(report)), soft_wrap=True)


def _example_line(e: BacktestExample) -> str:
    """``#12 acme.io offer_discount: rejected — too early (was review)``."""
    what = e.answer
    if e.edits:
        what += " (" + ", ".join(f"{k} {v}" for k, v in e.edits.items()) + ")"
    if e.note:
        what += f" — {e.note}"
    return f"#{e.review_id} {e.account_id} {e.action_kind}: {what} (was {e.old})"


def _backtest_verdict(report: BacktestReport) -> str:
    """One line: what the change would do against people's answers."""
    if not report.replayed:
        return "no answered review items to score against; nothing to report"
    against = report.automated_against_people
    rules = len({g.rule for g in (*report.automated_rejected, *report.automated_edited)})
    parts = [
        f"would automate {against:,} item{'s' if against != 1 else ''} people rejected or "
        f"edited ({rules} rule{'s' if rules != 1 else ''})"
        if against
        else "automates nothing people rejected or edited"
    ]
    asked = report.still_asked_always_approved
    if asked:
        n = len(report.asked_always_approved)
        parts.append(
            f"still asks people about {asked:,} item{'s' if asked != 1 else ''} they always "
            f"approved unchanged ({n} rule{'s' if n != 1 else ''})"
        )
    if report.newly_blocked_approved:
        n = report.newly_blocked_approved
        parts.append(f"newly blocks {n:,} item{'s' if n != 1 else ''} people approved")
    return "; ".join(parts) + f", of {report.replayed:,} answered"


@app.command()
def governance(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Evaluate as of this date (YYYY-MM-DD; default now)."),
    ] = None,
    path: Annotated[Path | None, typer.Option("--pack", help="Pack folder or file.")] = None,
    show: Annotated[int, typer.Option(help="How many deviations to list.")] = 25,
    rule: Annotated[
        str | None,
        typer.Option(
            help="Only this rule: cycle-corridor, no-contact, exit-criteria, outside-icp."
        ),
    ] = None,
) -> None:
    """Governance deviations computed from memory, and ICP adherence."""
    from revfield.policies import governance_report

    pack = _pack(path)
    st = state()
    when = st.clock.now()
    if as_of:
        try:
            when = (
                datetime.fromisoformat(as_of).replace(tzinfo=UTC)
                if len(as_of) == 10
                else datetime.fromisoformat(as_of)
            )
        except ValueError:
            fail(f"--as-of: `{as_of}` is not a date (YYYY-MM-DD)")
    with st.store().read() as session:
        report = governance_report(session, pack, when)
    found = [d for d in report.deviations if rule is None or d.rule == rule]
    console.print(
        f"governance as of {when.date().isoformat()}: {report.open_deals:,} open deals, "
        f"ICP adherence [bold]{report.icp_adherence:.1%}[/] "
        f"({report.icp_fit_deals:,} of {report.open_deals:,})",
        markup=True,
    )
    counts = Table(box=box.SIMPLE_HEAD)
    counts.add_column("rule")
    counts.add_column("deviations", justify="right")
    counts.add_column("share of open deals", justify="right")
    for name, n in sorted(report.by_rule().items(), key=lambda kv: -kv[1]):
        counts.add_row(name, f"{n:,}", f"{n / report.open_deals:.0%}" if report.open_deals else "—")
    console.print(counts)
    by_owner = Counter((d.team_id or "—", d.owner_id or "—") for d in found)
    if by_owner:
        owners = Table(title="by team and owner", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("team", "owner", "deviations"):
            owners.add_column(col, justify="right" if col == "deviations" else "left")
        for (team, owner), n in by_owner.most_common(10):
            owners.add_row(team, owner, f"{n:,}")
        console.print(owners)
    if found:
        table = Table(
            title=f"deviations ({min(show, len(found))} of {len(found):,}, oldest first)",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        for col in ("rule", "deal", "account", "owner", "team", "age (days)", "detail"):
            table.add_column(
                col, overflow="fold", justify="right" if col.startswith("age") else "left"
            )
        for d in sorted(found, key=lambda d: -d.age_days)[:show]:
            table.add_row(
                d.rule,
                d.deal_id,
                d.account_id,
                d.owner_id or "—",
                d.team_id or "—",
                f"{d.age_days:,}",
                d.detail,
            )
        console.print(table)
