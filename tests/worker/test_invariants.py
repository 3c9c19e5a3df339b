"""The invariant checker a soak ends with: a real run of the field (the demo book replayed, with
caps and budgets tight enough to bind) holds every invariant on SQLite and PostgreSQL, and each
invariant names the rows when a bug breaks it — a lost signal, a run left half done, a
doubled delivery, an action answered twice, two automated touches decided on one stale
counter, a budget passed the same way, a status changed without its audit entry."""

from __future__ import annotations

import copy
import importlib
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import revfield.field._steps as steps
import revfield.policies._spend as spend
from revfield.clock import ManualClock
from revfield.demo.book import START, generate_book
from revfield.demo.replay import load_book, replay
from revfield.domain import ActionStatus, ProposedAction, ReviewStatus
from revfield.field import Field
from revfield.field._checkpoints import open_checkpointer
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory import (
    NewDecision,
    Store,
    get_action,
    open_review,
    queue_entry,
    record_decision,
    transition,
    write_queue,
)
from revfield.memory._tables import ACTIONS, DEAD_LETTERS, DECISIONS, REVIEWS, SIGNALS
from revfield.memory.models import FieldEvent
from revfield.outbox import LogExecutor
from revfield.policies import CompiledPack, load_pack
from revfield.review import LOCAL_ADMIN, answer_review
from revfield.worker import InvariantReport, check_invariants
from tests.conftest import PG_URL

POLICIES = Path(__file__).resolve().parents[2] / "policies"
DAYS = 10
BOOK = {"prospects": 20, "customers": 12}
"""A book with enough automated emails for the caps below to bind."""
TIGHT = {  # caps and budgets that bind on a small book: the checker must agree with them
    "max_touches: 3": "max_touches: 1",
    "max_touches: 8": "max_touches: 2",
    "window_days: 7": "window_days: 30",
    "{max_auto_per_day: 200}": "{max_auto_per_day: 15}",
    "{max_auto_per_day: 100}": "{max_auto_per_day: 10}",
}


@pytest.fixture(scope="session")
def tight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CompiledPack]:
    """The shipped pack with caps of 1 touch per contact and 2 per account in 30 days, and
    budgets of 15 and 10 automated actions a day."""
    folder = tmp_path_factory.mktemp("tight") / "pack"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("tests"))
    text = (folder / "guardrails.yaml").read_text()
    for old, new in TIGHT.items():
        assert old in text, f"{old!r} is no longer in guardrails.yaml"
        text = text.replace(old, new)
    (folder / "guardrails.yaml").write_text(text)
    return folder, load_pack(folder)


@dataclass
class Run:
    """A replayed book: its database, the receiver's file, and what the feeder accepted."""

    store: Store
    pack: CompiledPack
    log: Path
    accepted: list[tuple[str, str]]
    sample: dict[str, Any]
    """One signal record of the book (to send another like it)."""

    def effects(self) -> Counter[str]:
        lines = self.log.read_text().splitlines()
        return Counter(json.loads(line)["idempotency_key"] for line in lines)

    def check(self, **options: Any) -> InvariantReport:
        options.setdefault("effects", self.effects())
        return check_invariants(self.store, self.pack, **options)

    def one(self, table: sa.Table, *where: Any) -> Any:
        with self.store.read() as s:
            row = s.execute(sa.select(table).where(*where).order_by(table.c.id).limit(1)).first()
        assert row is not None, f"the replay left no {table.name} row matching {where}"
        return row


def _replay(store: Store, pack: CompiledPack, log: Path) -> Run:
    book = generate_book(7, **BOOK, days=DAYS)
    # real feeds carry bad rows: a few the ingest refuses, which no invariant may count as lost
    book.signals += [
        {**s, "external_id": f"{s['external_id']}-bad", "kind": "no_such_kind"}
        for s in book.signals[:: max(1, len(book.signals) // 5)]
    ]
    load_book(store, book)
    clock = ManualClock(START)
    with open_checkpointer(store) as saver:
        fld = Field(store, pack, OfflineModel(), clock, saver, executor=LogExecutor(path=log))
        replay(store, book, fld, clock, days=DAYS)
    with store.read() as s:  # what the feeder was told: every record not dead-lettered
        refused = set(s.execute(sa.select(DEAD_LETTERS.c.source_file, DEAD_LETTERS.c.line)))
    accepted = [
        (r["source"], r["external_id"])
        for day in range(DAYS)
        for line, r in enumerate(book.signals_on(day), 1)
        if (f"demo-day-{day + 1}", line) not in refused
    ]
    assert 0 < len(refused) < len(accepted)
    return Run(store, pack, log, accepted, book.signals[0])


@pytest.fixture(scope="session")
def replayed_file(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, tight: Any
) -> tuple[Path, Run]:
    """One replay on SQLite, copied for each test (most break something in it)."""
    folder = tmp_path_factory.mktemp("replayed")
    db = folder / "revfield.db"
    shutil.copy(sqlite_template, db)
    store = Store.from_url(f"sqlite:///{db}")
    done = _replay(store, tight[1], folder / "outbox.jsonl")
    store.dispose()
    return db, done


@pytest.fixture
def run(replayed_file: tuple[Path, Run], tmp_path: Path) -> Iterator[Run]:
    db, done = replayed_file
    shutil.copy(db, tmp_path / "revfield.db")
    shutil.copy(done.log, tmp_path / "outbox.jsonl")
    store = Store.from_url(f"sqlite:///{tmp_path / 'revfield.db'}")
    yield Run(store, done.pack, tmp_path / "outbox.jsonl", done.accepted, done.sample)
    store.dispose()


def _holds_every_invariant(done: Run) -> None:
    report = done.check(accepted=done.accepted)
    assert report.ok, "\n".join(map(str, report.violations))
    c = report.counts
    assert c["signals"] == c["signals detected"] == c["signals accepted"] > 100
    assert c["executed"] == c["effects applied"] > 10 and c["auto"] > 5
    assert c["reviews answered"] > 10 and c["climbs"] > 0 and c["audit entries"] > 100
    assert all(report.checked[i] > 0 for i in report.checked), report.checked
    with done.store.read() as s:  # the caps did hold actions back: the checker agrees
        held = [
            g["id"]
            for (gs,) in s.execute(sa.select(DECISIONS.c.guardrails))
            for g in gs
            if g.get("tightened")
        ]
    assert {"contact-fatigue", "motion-budget"} <= set(held), Counter(held)


def test_a_replayed_book_holds_every_invariant_with_caps_that_bind(run):
    _holds_every_invariant(run)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="REVFIELD_TEST_DATABASE_URL is not set (CI sets it)")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_book_replayed_on_postgresql_holds_every_invariant(store, tight, tmp_path):
    _holds_every_invariant(_replay(store, tight[1], tmp_path / "outbox.jsonl"))


def test_a_signal_lost_or_never_detected_breaks_signal_once(run):
    report = run.check(accepted=[*run.accepted, ("sequencer", "lost-1")])
    assert [v.message for v in report.violations] == [
        "signal (sequencer, lost-1) was accepted but is not stored"
    ]
    record = {**run.sample, "external_id": "late-1"}  # arrives; detection never runs
    ingest_signals([record], store=run.store, clock=ManualClock(START + timedelta(days=DAYS)))
    late = run.one(SIGNALS, SIGNALS.c.external_id == "late-1").id
    (v,) = run.check().violations
    assert v.invariant == "signal-once"
    assert f"1 stored signal(s) never went through detection: #{late}" in v.message
    assert run.check(drained=False).ok  # still under way: detection may yet come


def test_a_run_left_half_done_or_decided_twice_breaks_event_once(run):
    action = run.one(ACTIONS, ACTIONS.c.status == ActionStatus.EXECUTED)
    first = run.one(DECISIONS, DECISIONS.c.action_id == action.id)
    with run.store.session() as s:  # a node ran again and decided again instead of reusing
        again = {k: v for k, v in first._mapping.items() if k != "id"}
        record_decision(s, NewDecision(**again))
        s.add(
            FieldEvent(
                account_id=action.account_id,
                kind="intent_surge",
                key="lost-run",
                signal_ids=[],
                detail="a run nobody finished",
                data={},
                occurred_at=START,
                detected_at=START,
                agent="outreach",
                status="running",
            )
        )
    report = run.check()
    messages = [v.message for v in report.of("event-once")]
    # decided again automatically, it also spent no slot of the day's budget
    slotless = (
        1 if first.verdict == "auto" and first.motion in run.pack.guardrails.motion_budgets else 0
    )
    assert len(report.of("motion-budget")) == slotless
    assert len(report.violations) == len(messages) + slotless == 2 + slotless, report.violations
    assert (
        f"action #{action.id} ({action.kind} at {action.account_id}) decided 2 times"
        in (messages[1])
    )
    assert "intent_surge at" in messages[0] and "was left running" in messages[0]
    later = run.check(drained=False).violations
    assert [v.invariant for v in later] == ["event-once"] + ["motion-budget"] * slotless


def test_a_doubled_or_phantom_delivery_breaks_executed_once(run):
    effects = run.effects()
    doubled, missing = sorted(effects)[:2]
    effects[doubled] += 1
    del effects[missing]
    effects["42:not-a-key"] = 1
    messages = [v.message for v in run.check(effects=effects).of("executed-once")]
    assert len(messages) == 3, messages
    assert any(m.startswith(f"key {doubled} ") and "applied 2 times" in m for m in messages)
    assert any(f"never applied its key {missing}" in m for m in messages)
    assert "the receiver applied key 42:not-a-key 1× but no outbox item has it" in messages

    waiting = run.one(ACTIONS, ACTIONS.c.status == ActionStatus.PENDING_REVIEW)
    with run.store.session() as s:  # queued while it still waits for a person
        item, _entry = queue_entry(get_action(s, waiting.id), executor="log", trace={}, now=START)
        write_queue(s, [item])
    messages = [v.message for v in run.check().of("executed-once")]
    assert any(
        f"(action #{waiting.id}, " in m and "neither automated nor approved" in m for m in messages
    )
    assert any("while its action is pending_review" in m for m in messages)


def test_an_action_answered_on_two_rungs_breaks_answered_once(run):
    answered = run.one(REVIEWS, REVIEWS.c.status == ReviewStatus.APPROVED)
    with run.store.session() as s:  # a second item for the same action, answered too
        action = get_action(s, answered.action_id)
        again = open_review(
            s,
            action_id=action.id,
            account_id=action.account_id,
            digest=action.digest,
            decision_id=answered.decision_id,
            verdict="escalate",
            rung="manager",
            level=1,
            assignee_id=None,
            reason="opened twice",
            deadline_at=START + timedelta(days=40),
            now=START + timedelta(days=DAYS),
        )
        answer_review(
            s, run.pack, again, approve=True, actor=LOCAL_ADMIN, now=START + timedelta(days=DAYS)
        )
    (v,) = run.check().of("answered-once")
    assert v.message == (
        f"action #{action.id} was answered 2 times: {answered.assignee_role} "
        f"(#{answered.id}: approved), manager (#{again}: approved)"
    )


def _decide_on_one_stale_counter(
    run: Run, monkeypatch: pytest.MonkeyPatch, n: int, *, slots: bool = True
) -> list[int]:
    """What two workers without the account lock do: each of ``n`` runs decides a copy of an
    automated email on the counters read before any of them wrote (taking budget slots
    without looking at the budget; none at all when not ``slots``). Returns the actions."""
    automated = sa.select(DECISIONS.c.action_id).where(DECISIONS.c.verdict == "auto")
    email = run.one(
        ACTIONS,
        ACTIONS.c.kind == "send_email",
        ACTIONS.c.status == ActionStatus.EXECUTED,
        ACTIONS.c.id.in_(automated),
    )
    proposal = ProposedAction.model_validate({**email.proposal, "after": None})
    stale: dict[str, Any] = {}
    real = spend.build_context

    def stale_context(
        session: Any, pack: Any, p: Any, now: Any, cache: Any = None, **kw: Any
    ) -> Any:
        if "ctx" not in stale:
            stale["ctx"] = real(session, pack, p, now, cache, **kw)
        return copy.deepcopy(stale["ctx"])

    def stale_budget(session: Any, motion: str, now: Any, cap: Any, want: int = 1) -> Any:
        if slots:  # a slot taken without looking at the budget
            real_reserve(session, motion, now, None)
        return int(stale["ctx"]["counters"]["motion_auto_today"]), 1

    real_reserve = spend.reserve_budget

    monkeypatch.setattr(spend, "build_context", stale_context)
    monkeypatch.setattr(spend, "reserve_budget", stale_budget)
    now = START + timedelta(days=DAYS + 30)  # every earlier touch is out of the window
    ids = []
    for i in range(n):
        with run.store.session() as s:
            event = FieldEvent(
                account_id=proposal.account_id,
                kind="intent_surge",
                key=f"stale-{i}",
                signal_ids=[],
                detail="decided on a stale counter",
                data={},
                occurred_at=now,
                detected_at=now,
                agent=email.agent,
                status="pending",
            )
            s.add(event)
            s.flush()
            (out,) = steps.record_proposals(
                s,
                run.pack,
                event_id=event.id,
                agent=email.agent,
                thread_id=f"{email.agent}:{event.id}",
                proposals=[proposal],
                executor="log",
                now=now,
            )
        assert out["verdict"] == "auto", out
        ids.append(out["id"])
    return ids


def test_two_automated_touches_decided_on_one_stale_counter_break_fatigue_cap(run, monkeypatch):
    _first, second = _decide_on_one_stale_counter(run, monkeypatch, 2)
    report = run.check(drained=False)  # (their emails are not delivered: not drained)
    (v,) = report.violations  # the account's cap is 2: one earlier email is within it
    action = run.one(ACTIONS, ACTIONS.c.id == second)
    assert v.invariant == "fatigue-cap"
    assert v.message.startswith(f"action #{second} (send_email, decision #")
    assert v.message.endswith(
        f"was automated though contact {action.contact_id} of {action.account_id} already had "
        "1 touches in 30 days (cap 1): 1 automated action(s) decided before it"
    )


def test_automated_decisions_past_the_days_budget_break_motion_budget(run, monkeypatch):
    budgets = run.pack.guardrails.motion_budgets
    n = max(b.max_auto_per_day for b in budgets.values()) + 1
    ids = _decide_on_one_stale_counter(run, monkeypatch, n)
    motion = run.one(ACTIONS, ACTIONS.c.id == ids[0]).motion
    limit = budgets[motion].max_auto_per_day
    (v,) = run.check(drained=False).of("motion-budget")
    day = (START + timedelta(days=DAYS + 30)).date()
    with run.store.read() as s:
        beyond = s.execute(
            sa.select(DECISIONS.c.id)
            .where(DECISIONS.c.action_id.in_(ids[limit:]))
            .order_by(DECISIONS.c.id)
        ).scalars()
        shown = ", ".join(f"#{i}" for i in beyond)
    assert v.message == (
        f"{motion} on {day}: {n} automated decisions, budget {limit}; beyond it: decisions {shown}"
    )


def test_an_automated_decision_that_took_no_budget_slot_breaks_motion_budget(run, monkeypatch):
    (action_id,) = _decide_on_one_stale_counter(run, monkeypatch, 1, slots=False)
    motion = run.one(ACTIONS, ACTIONS.c.id == action_id).motion
    day = (START + timedelta(days=DAYS + 30)).date()
    (v,) = run.check(drained=False).of("motion-budget")
    assert v.message == (
        f"{motion} on {day}: 1 automated decisions but 0 budget slots taken: an automated "
        "decision did not take its slot"
    )


def test_a_status_change_without_its_audit_entry_breaks_audit_complete(run):
    review = run.one(REVIEWS, REVIEWS.c.status == ReviewStatus.PENDING)
    with run.store.session() as s:  # moved by hand: no audit entry for either change
        transition(s, review.action_id, ActionStatus.BLOCKED)
        transition(s, review.id, ReviewStatus.SUPERSEDED, answered_by="ladder")
    action = run.one(ACTIONS, ACTIONS.c.id == review.action_id)
    report = run.check()
    (stuck,) = report.of("event-once")  # and nothing of its run waits for a person any more
    assert stuck.message.startswith(f"field event #{action.field_event_id} (")
    assert stuck.message.endswith("is waiting though none of its actions waits for a person")
    assert [v.message for v in report.of("audit-complete")] == [
        f"action #{action.id} ({action.kind} at {action.account_id}, blocked) has no blocked "
        "or review_blocked entry",
        f"review #{review.id} (action #{action.id}, {review.assignee_role}, superseded) has "
        "no escalated entry",
    ]


def test_revfield_check_prints_the_table_and_exits_1_on_a_violation(run, tight, monkeypatch):
    importlib.import_module("revfield.cli._check")  # registers `revfield check`
    from revfield.cli import app

    monkeypatch.setenv("REVFIELD_POLICIES", str(tight[0]))
    url = run.store.url
    runner = CliRunner()
    ok = runner.invoke(app, ["--db", url, "check", "--effects", str(run.log), "--json"])
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.output)
    assert body["ok"] and [i["id"] for i in body["invariants"]][:2] == ["signal-once", "event-once"]
    assert body["counts"]["executed"] == body["counts"]["effects applied"] > 0

    with run.log.open("a") as f:  # the receiver applied one key twice
        f.write(run.log.read_text().splitlines()[0] + "\n")
    bad = runner.invoke(app, ["--db", url, "check", "--effects", str(run.log)])
    assert bad.exit_code == 1, bad.output
    out = " ".join(bad.output.split())
    assert "executed-once" in out and "was applied 2 times by the receiver" in out
    assert "1 violation(s)" in out
