"""Submitting an action from outside revfield (``Field.submit``): it takes the same path as an
agent's proposal — the policy decides, the ladder reviews, the outbox executes once — and the
answer says what happened. The same idempotency key is the same action."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from revfield.domain import FactType, ProposalError
from revfield.memory.models import (
    ActionRecord,
    AuditEntry,
    DecisionRecord,
    FieldEvent,
    OutboxItem,
    Review,
    table_of,
)
from revfield.review import Actor, inbox
from tests.agents import world
from tests.factories import T0

ACT, DEC, EV, OB, R = (
    table_of(m) for m in (ActionRecord, DecisionRecord, FieldEvent, OutboxItem, Review)
)
ANA, MIA = Actor("ana", "seller", "team-a"), Actor("mia", "manager", "team-a")
DISCOUNT = {"kind": "offer_discount", "discount_pct": 20, "subject": "A pilot price"}


@pytest.fixture
def objection(store) -> int:
    """acme.io, a prospect ana owns (team A, manager mia), whose buyer said it costs too much."""
    world.people(store)
    world.account(store, "acme.io")
    world.contact(store, "acme.io")
    return world.fact(store, "acme.io", FactType.OBJECTION, "Too expensive for a team our size")


def _counts(store) -> list[int]:
    with store.read() as s:
        return [
            s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (EV, ACT, DEC, R, OB, table_of(AuditEntry))
        ]


def test_a_20_percent_discount_waits_for_the_manager_whose_edit_to_12_executes_once(
    store, clock, tmp_path, objection
):
    with world.field(store, clock, tmp_path) as fld:
        sent = fld.submit(
            DISCOUNT,
            account="acme.io",
            contact="pat@acme.io",
            cites=[objection],
            idempotency_key="deal-42-discount",
        )
        assert (sent.status, sent.verdict, sent.rules) == (
            "pending_review",
            "escalate",
            ("big-discount",),
        )
        assert (sent.rung, sent.assignee_id, sent.deadline) == (
            "manager",
            "mia",
            T0 + timedelta(hours=24),
        )
        assert sent.message == (
            f"action #{sent.action_id} waits for the manager (mia) by 2026-11-03 09:00, "
            f"review #{sent.review_id}: escalate: rule `big-discount`: Discounts above 15% "
            "need a manager."
        )
        with store.read() as s:
            assert inbox(s, ANA) == []  # the owner's rung is below it
            (item,) = inbox(s, MIA)
        assert item.review_id == sent.review_id and item.proposal["cited_fact_ids"] == [objection]
        assert fld.deliver().sent == 0  # nothing goes out before the manager answers

        answer = fld.approve(sent.review_id, actor=MIA, edits={"discount_pct": "12"})
        # decided again: 12% is the owner's rung (small-discount), which the manager outranks
        assert answer.outcome == "approved" and answer.new_review_id is None
        assert fld.deliver().sent == 1
        assert fld.deliver().sent == 0
        before = _counts(store)

        again = fld.submit(
            {**DISCOUNT, "discount_pct": 25},  # what a retry carries does not matter: the key does
            account="acme.io",
            contact="pat@acme.io",
            cites=[objection],
            idempotency_key="deal-42-discount",
        )
        assert (again.action_id, again.new, again.status) == (sent.action_id, False, "executed")
        assert again.message.endswith("(submitted before: this is the same action)")
        assert _counts(store) == before  # no new event, action, decision, review or delivery
        assert fld.deliver().sent == 0

    decisions = world.rows(store, DEC, action_id=sent.action_id)
    assert [(d["verdict"], d["matched_rules"]) for d in decisions] == [
        ("escalate", ["big-discount"]),
        ("review", ["small-discount"]),
    ]
    assert [(r["assignee_role"], r["status"]) for r in world.rows(store, R)] == [
        ("manager", "approved")
    ]
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    delivered = json.loads(line)
    assert delivered["kind"] == "offer_discount" and delivered["action"]["discount_pct"] == 12
    assert delivered["trace"]["rules"] == ["small-discount"]
    assert delivered["trace"]["approved_by"] == "mia"
    assert delivered["trace"]["edits"] == {"discount_pct": 12}
    assert delivered["trace"]["fact_ids"] == [objection]
    assert delivered["trace"]["event_kind"] == "action_submitted"
    assert world.rows(store, EV)[0]["status"] == "done"


def test_without_a_key_the_same_action_is_the_same_and_another_is_new(
    store, clock, tmp_path, objection
):
    task = {"kind": "create_task", "subject": "Call Pat back about the price"}
    with world.field(store, clock, tmp_path) as fld:
        first = fld.submit(task, account="acme.io")
        assert (first.status, first.rules, first.new) == (
            "queued",
            ("tasks-and-followups",),
            True,
        )
        assert first.message.startswith(f"action #{first.action_id} is queued for delivery")
        same = fld.submit(dict(task), account="Acme")  # the account by its name
        other = fld.submit({**task, "subject": "Send Pat the ROI sheet"}, account="acme.io")
        assert (same.action_id, same.new) == (first.action_id, False)
        assert other.action_id != first.action_id and other.new
        assert fld.deliver().sent == 2
    assert len(world.rows(store, ACT)) == 2


WRONG = [
    ({"account": "nope.io"}, "no account `nope.io` in memory"),
    ({"contact": "bob@acme.io"}, "contact `bob@acme.io` is not a contact of acme.io"),
    ({"cites": [999]}, "fact #999 is not a fact of acme.io"),
    ({"kind": "offer_discunt"}, "unknown action kind `offer_discunt`"),
    ({"discounts": 20}, "unknown action field `discounts`"),
    ({"discount_pct": "a lot"}, "action field `discount_pct`: Input should be a valid number"),
    ({"field_event_id": 1}, "`field_event_id` is set by revfield, not by a submission"),
]
"""A change to a good submission, and what the refusal names."""


def test_what_is_wrong_in_a_submission_is_named_and_nothing_is_stored(
    store, clock, tmp_path, objection
):
    before = _counts(store)
    with world.field(store, clock, tmp_path) as fld:
        for change, named in WRONG:
            args = {"account": "acme.io", "contact": None, "cites": [objection]}
            action = dict(DISCOUNT)
            for key, value in change.items():
                (args if key in args else action)[key] = value
            with pytest.raises(ProposalError) as refused:
                fld.submit(action, **args)
            assert named in str(refused.value)
            assert _counts(store) == before, named


def test_a_blocked_submission_says_why_and_nothing_goes_out(store, clock, tmp_path, objection):
    with world.field(store, clock, tmp_path) as fld:
        blocked = fld.submit({**DISCOUNT, "discount_pct": 35}, account="acme.io", contact=1)
        assert fld.deliver().sent == 0
    assert (blocked.status, blocked.verdict, blocked.review_id) == ("blocked", "block", None)
    assert blocked.message == (
        f"action #{blocked.action_id} is blocked: block: rule `discount-beyond-limit`: "
        "Discounts above 30% are never offered."
    )
    assert world.rows(store, OB) == [] and world.rows(store, EV)[0]["status"] == "done"


def test_the_same_key_submitted_at_once_from_several_places_is_one_action(
    store, clock, tmp_path, objection
):
    start = threading.Barrier(6)
    results: list[object] = []
    with world.field(store, clock, tmp_path) as fld:

        def submit() -> None:
            start.wait()
            try:
                results.append(
                    fld.submit(DISCOUNT, account="acme.io", idempotency_key="retry-42").action_id
                )
            except Exception as exc:  # reported by the assertion below
                results.append(repr(exc))

        threads = [threading.Thread(target=submit) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(results)) == 1 and isinstance(results[0], int), results
        with store.read() as s:
            (item,) = inbox(s, MIA)
        assert fld.approve(item.review_id, actor=MIA).outcome == "approved"
        assert fld.deliver().sent == 1
    assert [len(world.rows(store, t)) for t in (EV, ACT, R, OB)] == [1, 1, 1, 1]
    assert world.rows(store, EV)[0]["status"] == "done"
