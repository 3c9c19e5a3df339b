"""A motion's daily budget is a counter of slots: an automated decision takes one before it
stands, so the day never automates more than the budget, whichever process decides; a slot
whose decision was lost stays taken (a day may end under budget, never over); a day that began
before the counter existed starts it from its automated decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revfield.domain import ActionKind, Motion, ProposedAction
from revfield.memory import budget_spent
from revfield.policies import RunSlots, Verdict, decide_within_budget, load_pack
from tests.factories import make_account
from tests.policies.test_memory_counters import decide_now

PACK_TEXT = """
    rules: [{id: tasks, when: 'action.kind == "create_task"', decision: auto, reason: r}]
    guardrails: {motion_budgets: {acquisition: {max_auto_per_day: 2, at_least: %s}}}
"""


@pytest.fixture
def task(store) -> ProposedAction:
    make_account(store, "acme.com")
    return ProposedAction(
        kind=ActionKind.CREATE_TASK, motion=Motion.ACQUISITION, account_id="acme.com"
    )


def _decide(store, clock, pack, action) -> Verdict:
    with store.session() as s:
        return decide_within_budget(s, pack, action, clock.now()).verdict


def test_automated_decisions_take_the_days_slots_and_then_wait_for_a_person(
    store, clock, write_pack, task
):
    pack = load_pack(write_pack(p=PACK_TEXT % "review"))
    verdicts = [_decide(store, clock, pack, task) for _ in range(3)]
    assert verdicts == [Verdict.AUTO, Verdict.AUTO, Verdict.REVIEW]
    with store.read() as s:
        assert budget_spent(s, "acquisition", clock.now()) == 2
        assert budget_spent(s, "retention_expansion", clock.now()) == 0
    with store.session() as s:  # the refused one explains itself with the day's count
        decision = decide_within_budget(s, pack, task, clock.now())
    (effect,) = decision.guardrails
    assert effect.id == "motion-budget"
    assert "2 automated actions today (budget 2)" in decision.explanation
    clock.advance(timedelta(days=1))  # a new day, a new counter
    assert _decide(store, clock, pack, task) is Verdict.AUTO


def test_a_slot_whose_decision_was_lost_stays_taken(store, clock, write_pack, task):
    pack = load_pack(write_pack(p=PACK_TEXT % "review"))

    def lost() -> None:
        with store.session() as s:
            assert decide_within_budget(s, pack, task, clock.now()).verdict is Verdict.AUTO
            raise RuntimeError("the process died before the decision was committed")

    with pytest.raises(RuntimeError):
        lost()
    with store.read() as s:
        spent = budget_spent(s, "acquisition", clock.now())
    if store.dialect == "postgresql":  # taken in a transaction of its own: one under budget
        assert spent == 1
        assert [_decide(store, clock, pack, task) for _ in range(2)] == [
            Verdict.AUTO,
            Verdict.REVIEW,
        ]
    else:  # SQLite's one writer: the slot went with the transaction
        assert spent == 0


def test_a_day_begun_before_the_counter_starts_it_from_its_automated_decisions(
    store, clock, write_pack, task
):
    pack = load_pack(write_pack(p=PACK_TEXT % "review"))
    for _ in range(2):  # decided and recorded without taking slots (a database from before 0014)
        assert decide_now(store, clock, task, pack=pack).verdict is Verdict.AUTO
    with store.read() as s:
        assert budget_spent(s, "acquisition", clock.now()) == 2
    assert _decide(store, clock, pack, task) is Verdict.REVIEW


def test_a_budget_that_only_counts_never_holds_an_action_back(store, clock, write_pack, task):
    pack = load_pack(write_pack(p=PACK_TEXT % "auto"))
    assert [_decide(store, clock, pack, task) for _ in range(3)] == [Verdict.AUTO] * 3
    with store.read() as s:
        assert budget_spent(s, "acquisition", clock.now()) == 3


def _run(store, clock, pack, proposals) -> list[Verdict]:
    """Decide ``proposals`` as one agent run does: its slots taken at its first automated
    decision, the unused handed back at its end."""
    slots = RunSlots.for_proposals(proposals)
    with store.session() as s:
        verdicts = [
            decide_within_budget(s, pack, p, clock.now(), {}, slots).verdict for p in proposals
        ]
        slots.release(s, clock.now())
    return verdicts


def test_a_run_takes_its_slots_at_once_and_hands_back_those_it_did_not_use(
    store, clock, write_pack, task
):
    pack = load_pack(write_pack(p=PACK_TEXT % "review"))
    note = task.model_copy(update={"kind": ActionKind.NOTIFY})  # no rule automates it
    assert _run(store, clock, pack, [task, note]) == [Verdict.AUTO, Verdict.REVIEW]
    with store.read() as s:  # two taken ahead, one handed back
        assert budget_spent(s, "acquisition", clock.now()) == 1
    # one slot left: a run of two tasks automates the first; the second waits for a person
    assert _run(store, clock, pack, [task, task]) == [Verdict.AUTO, Verdict.REVIEW]
    with store.read() as s:
        assert budget_spent(s, "acquisition", clock.now()) == 2
