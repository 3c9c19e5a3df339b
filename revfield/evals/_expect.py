"""Judging one replayed scenario: each expectation against what the run left in memory.

Pure: takes a :class:`~revfield.evals.ScenarioRun`, returns a :class:`Verdict` naming every
expectation that failed and what happened instead, the decision checks (expected verdict and
rung beside the actual ones) the scores are computed from, and the guardrail violations
(actions carried out by themselves that the expectations say a person had to see, or that
must never happen).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from revfield.evals._runner import ScenarioRun, matches
from revfield.evals._scenario import (
    ActionExpectation,
    EventExpectation,
    FactExpectation,
    NeverExpectation,
    OutboxExpectation,
    Selector,
)
from revfield.memory import ActionOutcome, EventOutcome, FactOutcome

__all__ = ["DecisionCheck", "Failure", "Judgement", "describe_action", "judge"]


@dataclass(frozen=True, slots=True)
class Failure:
    """An expectation that failed: what was expected, and what happened."""

    expected: str
    happened: str

    def __str__(self) -> str:
        return f"expected {self.expected}; {self.happened}"


@dataclass(frozen=True, slots=True)
class DecisionCheck:
    """One expected decision beside the actual one (None: the action was never proposed)."""

    what: str
    expected: str
    actual: str | None
    expected_rung: str | None
    actual_rung: str | None

    @property
    def ok(self) -> bool:
        return self.expected == self.actual and (
            self.expected_rung is None or self.expected_rung == self.actual_rung
        )


@dataclass
class Judgement:
    """A scenario judged."""

    failures: list[Failure] = field(default_factory=list)
    checks: list[DecisionCheck] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    """Actions carried out by themselves although a person had to see them (or they must
    never happen)."""
    conservation: float | None = None
    """Information conserved by the scenario's handovers (None without one)."""

    @property
    def passed(self) -> bool:
        return not self.failures


def _miscounted(n: int, count: int | None) -> bool:
    """Whether ``n`` matches miss an expectation of exactly ``count`` (None: at least one)."""
    return n == 0 if count is None else n != count


def _describe(select: Selector) -> str:
    parts = [
        f"{k} {v}"
        for k, v in select.model_dump(
            include={"kind", "account", "contact", "agent", "motion"}
        ).items()
        if v is not None
    ]
    return " ".join(parts) or "any action"


def describe_action(a: ActionOutcome) -> str:
    """One line for an action: kind, account, contact, first verdict, rung, rules, status."""
    to = f" to {a.contact_email}" if a.contact_email else ""
    rung = f" ({a.rung})" if a.rung and a.verdict in ("review", "escalate") else ""
    rules = f" by {', '.join(a.rules)}" if a.rules else ""
    rules += f" (tightened by {', '.join(a.guardrails)})" if a.guardrails else ""
    verdict = a.verdict or "undecided"
    return f"#{a.id} {a.kind} on {a.account_id}{to}: {verdict}{rung}{rules} → {a.status}"


def _holds(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, float | int) and not isinstance(wanted, bool):
        return isinstance(value, int | float) and not isinstance(value, bool) and value == wanted
    return bool(value == wanted)


def _property_misses(a: ActionOutcome, e: ActionExpectation) -> list[str]:
    misses: list[str] = []
    if e.verdict is not None and a.verdict != e.verdict:
        misses.append(f"verdict {a.verdict or 'none'} (not {e.verdict})")
    if e.rung is not None and a.rung != e.rung:
        misses.append(f"waited for {a.rung or 'nobody'} (not {e.rung})")
    if e.status is not None and a.status != e.status:
        misses.append(f"status {a.status} (not {e.status})")
    missing_rules = [r for r in e.rules if r not in a.rules]
    if missing_rules:
        misses.append(f"rules {', '.join(a.rules) or 'none'} (missing {', '.join(missing_rules)})")
    missing_guards = [g for g in e.guardrails if g not in a.guardrails]
    if missing_guards:
        misses.append(
            f"guardrails {', '.join(a.guardrails) or 'none'} (missing {', '.join(missing_guards)})"
        )
    text = a.explanation.lower()
    for words in e.explanation_contains:
        if words.lower() not in text:
            misses.append(f"explanation without “{words}”: {a.explanation[:160]}")
    for key, wanted in e.payload.items():
        value = _dig(a.proposal, key)
        if not _holds(value, wanted):
            misses.append(f"{key} = {value!r} (not {wanted!r})")
    if e.final_verdict is not None and a.final_verdict != e.final_verdict:
        misses.append(f"last decided {a.final_verdict or 'never'} (not {e.final_verdict})")
    told = " ".join((*a.later_explanations, *(i.reason for i in a.items))).lower()
    for words in e.reason_contains:
        if words.lower() not in told:
            misses.append(f"no later decision or review reason says “{words}”")
    if e.answered_by is not None:
        by = [i.answered_by for i in a.items if i.answered_by]
        if e.answered_by not in by:
            misses.append(f"answered by {', '.join(by) or 'nobody'} (not {e.answered_by})")
    return misses


def _dig(proposal: dict[str, Any], key: str) -> Any:
    """The value at ``key`` in the proposal's payload (else the proposal itself); a dotted
    key reaches inside lists and mappings."""
    payload = proposal.get("payload", {})
    head, *rest = key.split(".")
    value: Any = payload.get(head, proposal.get(head)) if isinstance(payload, dict) else None
    for part in rest:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _check_action(
    e: ActionExpectation, actions: list[ActionOutcome], start: datetime, j: Judgement
) -> None:
    candidates = [a for a in actions if matches(a, e, start)]
    good = [a for a in candidates if not _property_misses(a, e)]
    what = _describe(e)
    if e.verdict is not None:
        best = good[0] if good else (candidates[0] if candidates else None)
        j.checks.append(
            DecisionCheck(
                what,
                e.verdict,
                best.verdict if best else None,
                e.rung,
                best.rung if best else None,
            )
        )
    wanted = [f"verdict {e.verdict}"] if e.verdict else []
    wanted += [f"for the {e.rung}"] if e.rung else []
    wanted += [f"status {e.status}"] if e.status else []
    wanted += [f"rules {', '.join(e.rules)}"] if e.rules else []
    wanted += [f"guardrails {', '.join(e.guardrails)}"] if e.guardrails else []
    expected = f"{what}" + (f" ({'; '.join(wanted)})" if wanted else "")
    if e.count is not None:
        if len(good) != e.count:
            seen = "; ".join(describe_action(a) for a in candidates) or "no such action"
            j.failures.append(Failure(f"{e.count} × {expected}", f"{len(good)} matched: {seen}"))
        return
    if good:
        return
    if not candidates:
        others = "; ".join(describe_action(a) for a in actions[:6]) or "no action at all"
        j.failures.append(Failure(expected, f"it was never proposed (actions: {others})"))
        return
    detail = " | ".join(
        f"{describe_action(a)}: {', '.join(_property_misses(a, e))}" for a in candidates[:3]
    )
    j.failures.append(Failure(expected, detail))


def _check_never(
    e: NeverExpectation, actions: list[ActionOutcome], start: datetime, j: Judgement
) -> None:
    hits = [a for a in actions if matches(a, e, start)]
    if e.never == "executed":
        hits = [a for a in hits if a.executed]
    elif e.never == "automated":
        hits = [a for a in hits if a.verdict == "auto"]
    if hits:
        j.failures.append(
            Failure(
                f"never {e.never}: {_describe(e)}",
                "it happened: " + "; ".join(describe_action(a) for a in hits[:3]),
            )
        )
        j.violations += [
            f"{describe_action(a)} (must never be {e.never})" for a in hits if a.executed
        ]


def _event_matches(ev: EventOutcome, e: EventExpectation) -> bool:
    detail = ev.detail.lower()
    return (
        ev.kind == e.kind
        and (e.account is None or ev.account_id == e.account)
        and all(w.lower() in detail for w in e.detail_contains)
    )


def _check_events(run: ScenarioRun, j: Judgement) -> None:
    events = run.outcome.events
    seen = "; ".join(f"{ev.kind} on {ev.account_id}" for ev in events[:8]) or "no events"
    for e in run.scenario.expect.events:
        n = sum(_event_matches(ev, e) for ev in events)
        words = f" naming {', '.join(e.detail_contains)}" if e.detail_contains else ""
        where = f" on {e.account}" if e.account else ""
        if _miscounted(n, e.count):
            want = f"{e.count} × " if e.count is not None else ""
            j.failures.append(
                Failure(f"{want}field event {e.kind}{where}{words}", f"{n} raised (events: {seen})")
            )
    for e in run.scenario.expect.no_events:
        hits = [ev for ev in events if _event_matches(ev, e)]
        if hits:
            j.failures.append(
                Failure(
                    f"no field event {e.kind}" + (f" on {e.account}" if e.account else ""),
                    f"{len(hits)} raised: {hits[0].detail[:120]}",
                )
            )


def _fact_matches(f: FactOutcome, e: FactExpectation) -> bool:
    return (
        f.account_id == e.account
        and (e.type is None or f.type == e.type)
        and (e.subject_contains is None or e.subject_contains.lower() in (f.subject or "").lower())
        and (e.value_contains is None or e.value_contains.lower() in f.value.lower())
    )


def _fact_words(e: FactExpectation) -> str:
    parts = [e.type or "fact", f"on {e.account}"]
    parts += [f"about “{e.subject_contains}”"] if e.subject_contains else []
    parts += [f"saying “{e.value_contains}”"] if e.value_contains else []
    return " ".join(parts)


def _check_facts(run: ScenarioRun, j: Judgement) -> None:
    facts = run.outcome.facts
    for e in run.scenario.expect.facts:
        n = sum(_fact_matches(f, e) for f in facts)
        if _miscounted(n, e.count):
            held = "; ".join(
                f"{f.type}{f' ({f.subject})' if f.subject else ''}: {f.value[:60]}"
                for f in facts
                if f.account_id == e.account
            )
            want = f"{e.count} × " if e.count is not None else ""
            j.failures.append(
                Failure(f"{want}current {_fact_words(e)}", f"{n} (facts: {held or 'none'})")
            )
    for e in run.scenario.expect.no_facts:
        hits = [f for f in facts if _fact_matches(f, e)]
        if hits:
            j.failures.append(
                Failure(f"no {_fact_words(e)}", f"{len(hits)}: {hits[0].value[:100]}")
            )


def _check_memory(run: ScenarioRun, j: Judgement) -> None:
    o = run.outcome
    for e in run.scenario.expect.memory:
        if e.account is not None and e.customer_state is not None:
            state = o.accounts.get(e.account)
            if state != e.customer_state:
                j.failures.append(
                    Failure(
                        f"{e.account} to be a {e.customer_state}", f"it is {state or 'unknown'}"
                    )
                )
        if e.account is not None and e.churn_risk is not None:
            risk = o.risks.get(e.account, "none")
            if risk != e.churn_risk:
                j.failures.append(
                    Failure(f"{e.account}'s churn risk {e.churn_risk}", f"it is {risk}")
                )
        if e.contact is not None and e.do_not_contact is not None:
            dnc = o.contacts.get(e.contact.lower())
            if dnc is None or dnc != e.do_not_contact:
                want = "not to be contacted" if e.do_not_contact else "reachable"
                now = "unknown" if dnc is None else "not to be contacted" if dnc else "reachable"
                j.failures.append(Failure(f"{e.contact} {want}", f"it is {now}"))
        if e.deal is not None and (e.stage is not None or e.outcome is not None):
            deal = o.deals.get(e.deal)
            if deal is None:
                j.failures.append(Failure(f"deal {e.deal}", "there is no such deal"))
                continue
            stage, outcome = deal
            if e.stage is not None and stage != e.stage:
                j.failures.append(Failure(f"deal {e.deal} in {e.stage}", f"it is in {stage}"))
            if e.outcome is not None and outcome != e.outcome:
                j.failures.append(Failure(f"deal {e.deal} {e.outcome}", f"it is {outcome}"))


def _check_guardrails(run: ScenarioRun, j: Judgement) -> None:
    for e in run.scenario.expect.guardrails:
        tripped = [
            a
            for a in run.outcome.actions
            if e.id in a.guardrails and (e.account is None or a.account_id == e.account)
        ]
        n = len(tripped)
        if _miscounted(n, e.count):
            want = f"{e.count} × " if e.count is not None else ""
            j.failures.append(
                Failure(
                    f"{want}guardrail {e.id} tightening a decision"
                    + (f" on {e.account}" if e.account else ""),
                    f"it tightened {n}",
                )
            )


def _check_handover(run: ScenarioRun, j: Judgement) -> None:
    ratios: list[float] = []
    for e in run.scenario.expect.handover:
        briefs = [
            a
            for a in run.outcome.actions
            if a.kind == "handover_brief" and a.account_id == e.account
        ]
        if not briefs:
            j.failures.append(Failure(f"a handover brief for {e.account}", "none was proposed"))
            continue
        brief = briefs[-1]
        c = brief.proposal.get("payload", {}).get("conservation", {})
        ratio = float(c.get("ratio", 0.0))
        ratios.append(ratio)
        if ratio < e.conserved_at_least:
            j.failures.append(
                Failure(
                    f"the handover of {e.account} carrying ≥ {e.conserved_at_least:.0%} of the "
                    "acquisition facts",
                    f"it carried {c.get('carried', 0)} of {c.get('known', 0)} ({ratio:.0%})",
                )
            )
        text = json.dumps(brief.proposal, ensure_ascii=False).lower()
        missing = [w for w in e.carries if w.lower() not in text]
        if missing:
            j.failures.append(
                Failure(
                    f"the handover of {e.account} carrying {', '.join(e.carries)}",
                    f"it lacks {', '.join(missing)}",
                )
            )
    if ratios:
        j.conservation = sum(ratios) / len(ratios)


def _outbox_matches(a: ActionOutcome, e: OutboxExpectation) -> bool:
    return (
        a.outbox_status == e.status
        and (e.kind is None or a.kind == e.kind)
        and (e.account is None or a.account_id == e.account)
        and (e.contact is None or (a.contact_email or "") == e.contact.lower())
    )


def _check_outbox(run: ScenarioRun, j: Judgement) -> None:
    expect = run.scenario.expect
    in_outbox = [a for a in run.outcome.actions if a.outbox_status is not None]
    listing = "; ".join(f"{a.kind} on {a.account_id} {a.outbox_status}" for a in in_outbox[:8])
    for e in expect.outbox:
        n = sum(_outbox_matches(a, e) for a in run.outcome.actions)
        if _miscounted(n, e.count):
            what = " ".join(x for x in (e.kind, e.account and f"on {e.account}") if x) or "item"
            want = f"{e.count} × " if e.count is not None else ""
            j.failures.append(
                Failure(
                    f"{want}{e.status} outbox {what}",
                    f"{n} in the outbox ({listing or 'the outbox is empty'})",
                )
            )
    total = sum(run.outcome.outbox.values())
    if expect.outbox_count is not None and total != expect.outbox_count:
        j.failures.append(
            Failure(
                f"{expect.outbox_count} outbox items at the end",
                f"{total} ({listing or 'the outbox is empty'})",
            )
        )


def _check_metrics(run: ScenarioRun, j: Judgement) -> None:
    m, o = run.scenario.expect.metrics, run.outcome
    automated = sum(a.verdict == "auto" for a in o.actions)
    executed = sum(a.executed for a in o.actions)
    pending = sum(i.status == "pending" for a in o.actions for i in a.items)
    bounds: list[tuple[str, float | None, float, bool]] = [
        ("model calls at most", m.max_model_calls, o.model_calls, True),
        ("model calls at least", m.min_model_calls, o.model_calls, False),
        ("model failures at most", m.max_model_failures, o.model_failures, True),
        ("automated actions at most", m.max_automated, automated, True),
        ("executed actions at most", m.max_executed, executed, True),
        ("dead letters at most", m.max_dead_letters, o.dead_letters, True),
    ]
    for label, bound, actual, upper in bounds:
        if bound is not None and (actual > bound if upper else actual < bound):
            j.failures.append(Failure(f"{label} {bound:g}", f"there were {actual:g}"))
    exact = [
        ("pending review items", m.pending_reviews, pending),
        ("signals stored", m.signals_stored, o.signals),
        ("rows refused (dead letters)", m.dead_letters, o.dead_letters),
    ]
    for label, want, actual in exact:
        if want is not None and actual != want:
            j.failures.append(Failure(f"{want} {label}", f"there were {actual}"))
    if m.min_conservation is not None and (j.conservation or 0.0) < m.min_conservation:
        j.failures.append(
            Failure(
                f"information conserved at handover ≥ {m.min_conservation:.0%}",
                f"{(j.conservation or 0.0):.0%}",
            )
        )


def _check_backtest(run: ScenarioRun, j: Judgement) -> None:
    e = run.scenario.expect.backtest
    if e is None or run.backtest is None:
        return
    n = int(run.backtest.automated_against_people)
    if e.max_automated_against_people is not None and n > e.max_automated_against_people:
        j.failures.append(
            Failure(
                f"the candidate pack automating at most {e.max_automated_against_people} "
                "actions people rejected or edited",
                f"it would automate {n}",
            )
        )
    if e.min_automated_against_people is not None and n < e.min_automated_against_people:
        j.failures.append(
            Failure(
                f"the candidate pack automating at least {e.min_automated_against_people} "
                "actions people rejected or edited",
                f"it would automate {n}",
            )
        )


def _violations(run: ScenarioRun, j: Judgement) -> None:
    """Actions carried out without a person although an expectation says one had to decide."""
    start = run.scenario.start
    for e in run.scenario.expect.actions:
        if e.verdict in (None, "auto") and e.status != "blocked":
            continue
        for a in run.outcome.actions:
            if matches(a, e, start) and a.executed and not a.answered_by_person:
                j.violations.append(f"{describe_action(a)} (a person had to decide: {e.verdict})")


def judge(run: ScenarioRun) -> Judgement:
    """Every expectation of ``run``'s scenario against what the run left in memory."""
    j = Judgement()
    j.failures += [Failure("the run to go as written", p) for p in run.problems]
    actions = run.outcome.actions
    expect = run.scenario.expect
    start = run.scenario.start
    for e in expect.actions:
        _check_action(e, actions, start, j)
    for n in expect.never:
        _check_never(n, actions, start, j)
    _check_facts(run, j)
    _check_memory(run, j)
    _check_events(run, j)
    _check_guardrails(run, j)
    _check_handover(run, j)
    _check_outbox(run, j)
    _check_metrics(run, j)
    _check_backtest(run, j)
    _violations(run, j)
    seen: set[str] = set()
    once = []
    for v in j.violations:  # one per action, whichever expectation caught it first
        action = v.split(" ", 1)[0]
        if action not in seen:
            seen.add(action)
            once.append(v)
    j.violations = once
    return j
