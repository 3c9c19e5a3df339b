"""A run paused by the previous revfield (08f67c9: one interrupt for the whole run,
``{event_id, waiting}``) still resumes under the new graph once its database is migrated: its
items are answered by review id, in any order, or picked up by ``resume_answered``, and each
approved action executes once through the outbox.

``tests/fixtures/paused_before_typed_interrupts.db`` is that revfield's SQLite memory at
migration 0007, checkpoints in the same file: one outreach run on globex.com (event 1) waiting
on review #1 (send_email, action 1) and review #2 (advance_stage, action 2); its follow-up
(action 3) was queued, to go out after the email."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.field import Field, open_checkpointer
from revfield.llm import OfflineModel
from revfield.memory import Store
from revfield.memory.models import ActionRecord, FieldEvent, OutboxItem, Review, table_of
from revfield.outbox import LogExecutor
from revfield.review import Actor, ReviewError, answer_review
from tests.agents import world
from tests.factories import T0

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "paused_before_typed_interrupts.db"
ACT, EV, OB, R = (table_of(m) for m in (ActionRecord, FieldEvent, OutboxItem, Review))
ANA = Actor("ana", "seller", "team-a")
THREAD = "outreach:1"


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[Store]:
    """A copy of the old memory, migrated by this revfield."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    store = Store.from_url(f"sqlite:///{path}")
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def fld(old_store: Store, clock, tmp_path: Path) -> Iterator[Field]:
    clock.advance(timedelta(hours=1))
    executor = LogExecutor(path=tmp_path / "outbox.jsonl")
    with open_checkpointer(old_store) as saver:
        yield Field(old_store, world.PACK, OfflineModel(), clock, saver, executor=executor)


def _interrupts(fld: Field) -> list:
    return list(
        fld.graphs["outreach"].get_state({"configurable": {"thread_id": THREAD}}).interrupts
    )


def _sent(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    return [json.loads(x)["kind"] for x in lines]


def test_the_fixture_is_a_run_paused_under_the_old_payload(old_store, fld):
    with old_store.read() as s:
        version = s.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert version == old_store.head_revision()  # migrated forward from the 0008 it was made at
    (old,) = _interrupts(fld)
    assert old.value == {"event_id": 1, "waiting": [1, 2]}
    assert [(r["id"], r["action_id"], r["status"]) for r in world.rows(old_store, R)] == [
        (1, 1, "pending"),
        (2, 2, "pending"),
    ]


@pytest.mark.parametrize("order", [(1, 2), (2, 1)], ids=["in order", "reverse"])
def test_answering_both_items_resumes_the_old_run_and_executes_each_action_once(
    old_store, fld, tmp_path, order
):
    first, second = order
    assert fld.approve(first, actor=ANA).outcome == "approved"
    assert world.rows(old_store, EV)[0]["status"] == "waiting"
    (left,) = _interrupts(fld)  # the other item now waits on a typed interrupt of its own
    assert left.value["revfield"]["review_id"] == second
    assert left.value["revfield"]["action_id"] == second
    assert fld.deliver().sent == 0  # the run acts once both are answered

    assert fld.approve(second, actor=ANA).outcome == "approved"
    assert world.rows(old_store, EV)[0]["status"] == "done" and _interrupts(fld) == []
    assert fld.deliver().sent == 3
    assert fld.deliver().sent == 0
    assert {a["id"]: a["status"] for a in world.rows(old_store, ACT)} == {
        1: "executed",
        2: "executed",
        3: "executed",
    }
    sent = _sent(tmp_path)
    assert sorted(sent) == ["advance_stage", "schedule_followup", "send_email"]
    assert sent.index("send_email") < sent.index("schedule_followup")  # the email first
    assert [o["status"] for o in world.rows(old_store, OB)] == ["sent"] * 3


def test_a_rejected_item_of_the_old_run_takes_its_follow_up_along(old_store, fld, tmp_path):
    rejected = fld.reject(1, actor=ANA, reason="they asked us to wait until January")
    assert rejected.outcome == "rejected" and rejected.cancelled == (3,)
    assert fld.approve(2, actor=ANA).outcome == "approved"
    assert world.rows(old_store, EV)[0]["status"] == "done"
    assert fld.deliver().sent == 1
    assert _sent(tmp_path) == ["advance_stage"]
    assert {a["id"]: a["status"] for a in world.rows(old_store, ACT)} == {
        1: "rejected",
        2: "executed",
        3: "cancelled",
    }


def test_the_old_interrupt_is_answered_by_review_id_not_through_the_interrupt(old_store, fld):
    (old,) = _interrupts(fld)
    with pytest.raises(ReviewError, match="paused by an earlier revfield"):
        fld.answer_interrupt(THREAD, old.id, {"decision": "approve"}, actor=ANA)
    assert [r["status"] for r in world.rows(old_store, R)] == ["pending", "pending"]
    assert _interrupts(fld)[0].value == {"event_id": 1, "waiting": [1, 2]}


def test_answers_recorded_while_nothing_resumed_are_picked_up(old_store, fld, tmp_path):
    with old_store.session() as s:  # the answering process died before resuming the run
        for review_id in (2, 1):
            answer_review(s, world.PACK, review_id, approve=True, actor=ANA, now=T0)
    assert world.rows(old_store, EV)[0]["status"] == "waiting"
    assert fld.resume_answered() == 1
    assert world.rows(old_store, EV)[0]["status"] == "done"
    assert fld.resume_answered() == 0
    assert fld.deliver().sent == 3
    assert sorted(_sent(tmp_path)) == ["advance_stage", "schedule_followup", "send_email"]


def test_one_answer_picked_up_then_the_other_through_its_new_interrupt(old_store, fld):
    with old_store.session() as s:
        answer_review(s, world.PACK, 2, approve=True, actor=ANA, now=T0)
    assert fld.resume_answered() == 1
    (left,) = _interrupts(fld)
    assert left.value["revfield"]["review_id"] == 1
    assert fld.answer_interrupt(THREAD, left.id, [{"type": "accept", "args": None}], actor=ANA) == (
        "done"
    )
    assert fld.deliver().sent == 3
