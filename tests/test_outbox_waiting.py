"""An outbox item whose action waits for another (a follow-up waits for its email) is
``waiting`` until that action is executed, then due at once; a claim never reads it, so the
cost of delivering does not grow with the follow-ups waiting for emails in review."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import FactType
from revfield.field._steps import enqueue
from revfield.memory import Store, claim_outbox, finish_delivery, get_action
from revfield.memory import _closing as closing
from revfield.memory import _outbox as queuing
from revfield.memory.models import ActionRecord, OutboxItem, table_of
from revfield.outbox import Delivery, DeliveryError
from revfield.review import LOCAL_ADMIN, answer_review, inbox
from revfield.worker import check_invariants
from tests.agents import world

ACT, OB = table_of(ActionRecord), table_of(OutboxItem)
FOLLOW_UPS_NEED_REVIEW = (
    'when: action.kind in ["create_task", "schedule_followup"]\n    decision: auto',
    'when: action.kind in ["create_task", "schedule_followup"]\n    decision: review',
)


def _prospects(store: Store, names: range, *, segment: str) -> None:
    """Prospects with a pain on record and an intent surge each: outreach writes an email and
    a follow-up that waits for it (an enterprise's email waits for its owner)."""
    for i in names:
        domain = f"prospect{i}.com"
        world.account(store, domain, segment=segment, employees=5000 if segment != "smb" else 60)
        pat = world.contact(store, domain)
        world.fact(store, domain, FactType.PAIN, "Our reps update the CRM manually")
        world.event(store, domain, "intent_surge", "outreach", contact_id=pat)


def _outbox(store: Store) -> dict[str, str]:
    """Each action's kind and account → its outbox item's status."""
    with store.read() as s:
        rows = s.execute(
            sa.select(ACT.c.kind, ACT.c.account_id, OB.c.status).join(
                OB, OB.c.action_id == ACT.c.id
            )
        ).all()
    return {f"{kind} {account}": status for kind, account, status in rows}


def _delivered(log: Path) -> list[str]:
    """The kinds the log executor carried out, in order."""
    if not log.exists():
        return []
    return [json.loads(line)["kind"] for line in log.read_text().splitlines()]


def test_a_follow_up_waits_while_its_email_is_in_review_and_goes_out_right_after_it(
    store, clock, tmp_path
):
    world.people(store)
    _prospects(store, range(1), segment="enterprise")
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        assert _outbox(store) == {"schedule_followup prospect0.com": "waiting"}
        assert fld.deliver().sent == 0  # nothing is due while the email waits for its owner
        with store.read() as s:
            (email,) = [i for i in inbox(s) if i.kind == "send_email"]
        fld.approve(email.review_id, actor=LOCAL_ADMIN)
        assert fld.deliver().sent == 2  # the email, and then (the same pass) its follow-up
    assert _delivered(tmp_path / "outbox.jsonl") == ["send_email", "schedule_followup"]
    assert set(_outbox(store).values()) == {"sent"}
    assert {a["status"] for a in world.rows(store, ACT)} == {"executed"}
    assert check_invariants(store, world.PACK).of("executed-once") == []


def test_a_follow_up_approved_after_its_email_went_out_is_due_at_once(store, clock, tmp_path):
    pack = world.pack_with(tmp_path, "default.yaml", *FOLLOW_UPS_NEED_REVIEW)
    world.people(store)
    _prospects(store, range(1), segment="smb")
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        fld.run_agents()
        assert fld.deliver().sent == 1  # the automated email; its follow-up waits for a person
        with store.read() as s:
            (follow_up,) = inbox(s)
        fld.approve(follow_up.review_id, actor=LOCAL_ADMIN)
        assert _outbox(store)["schedule_followup prospect0.com"] == "pending"
        assert fld.deliver().sent == 1
    assert _delivered(tmp_path / "outbox.jsonl") == ["send_email", "schedule_followup"]


def test_an_email_refused_for_good_cancels_its_waiting_follow_up(store, clock, tmp_path):
    world.people(store)
    _prospects(store, range(1), segment="smb")

    class Refusing:
        name = "refusing"

        def execute(self, delivery: Delivery) -> dict[str, Any]:
            raise DeliveryError("the mail server refused it", retry=False)

    with world.field(store, clock, tmp_path, executor=Refusing()) as fld:
        fld.run_agents()
        report = fld.deliver()
    assert (report.sent, report.failed, len(report.cancelled)) == (0, 1, 1)
    assert _outbox(store) == {
        "send_email prospect0.com": "failed",
        "schedule_followup prospect0.com": "cancelled",
    }


def _claim_cost(store: Store, now: datetime) -> tuple[int, list[Any]]:
    """A claim with nothing due: (SQLite: the virtual machine's steps; PostgreSQL: the outbox
    rows its statements read, from their plans run with ``EXPLAIN ANALYZE``), and what it
    claimed. Rolled back: nothing changes."""
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    with Session(bind=store.engine) as session, session.begin():
        raw = session.connection().connection.driver_connection
        sa.event.listen(store.engine, "before_cursor_execute", capture)
        if store.dialect == "sqlite":
            raw.set_progress_handler(step, 1)  # type: ignore[union-attr]
        try:
            claimed = claim_outbox(session, now, lease=timedelta(minutes=5), size=50)
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", capture)
            if store.dialect == "sqlite":
                raw.set_progress_handler(None, 1)  # type: ignore[union-attr]
        session.rollback()
    if store.dialect == "sqlite":
        return steps[0], claimed
    return sum(_rows_read(store, sql, params) for sql, params in seen), claimed


def _rows_read(store: Store, statement: str, params: Any) -> int:
    """Outbox rows PostgreSQL read to answer ``statement`` (returned or filtered out). Its
    statistics are fresh (as autovacuum keeps them) and sequential scans discouraged: on a
    table this small one would be cheapest, on a real outbox it is not."""
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("ANALYZE outbox")
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        (plan,) = cur.fetchone()
    finally:
        raw.rollback()
        raw.close()

    def read(node: dict[str, Any]) -> int:
        here = 0
        if node.get("Relation Name") == "outbox":
            here = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node[
                "Actual Loops"
            ]
        return here + sum(read(child) for child in node.get("Plans", []))

    return read(plan[0]["Plan"])


def test_a_claim_costs_the_same_however_many_follow_ups_wait(store, clock, tmp_path):
    world.people(store)
    _prospects(store, range(2), segment="enterprise")
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        few, claimed = _claim_cost(store, clock.now())
        assert claimed == []  # the emails wait for their owners, the follow-ups for them
        _prospects(store, range(2, 32), segment="enterprise")
        fld.run_agents()
    assert list(_outbox(store).values()).count("waiting") == 32
    many, claimed = _claim_cost(store, clock.now())
    assert claimed == []
    assert many == few, f"a claim cost {few} with 2 follow-ups waiting, {many} with 32"


def test_upgrading_to_0015_makes_the_items_that_wait_waiting(store, clock, tmp_path):
    """Items as the code before 0015 wrote them (``pending`` however long they waited) wait
    after the upgrade; one whose prerequisite went out stays due."""
    world.people(store)
    _prospects(store, range(1), segment="enterprise")
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
    pack = world.pack_with(tmp_path, "default.yaml", *FOLLOW_UPS_NEED_REVIEW)
    _prospects(store, range(1, 2), segment="smb")
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        fld.run_agents()
        fld.deliver()  # the smb email
        with store.read() as s:
            (follow_up,) = [i for i in inbox(s) if i.account_id == "prospect1.com"]
        fld.approve(follow_up.review_id, actor=LOCAL_ADMIN)
    after = {
        "schedule_followup prospect0.com": "waiting",  # its email waits for the owner
        "send_email prospect1.com": "sent",
        "schedule_followup prospect1.com": "pending",  # its email went out
    }
    assert _outbox(store) == after
    store.downgrade("0014")
    assert _outbox(store) == {**after, "schedule_followup prospect0.com": "pending"}
    store.migrate()
    assert _outbox(store) == after


def _waiting_email(store: Store, clock: Any, tmp_path: Path, *, approve: bool) -> list[str]:
    """An enterprise email and its follow-up, the email approved and delivered (or left in
    review): what the invariant checker says of the outbox."""
    world.people(store)
    _prospects(store, range(1), segment="enterprise")
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        if approve:
            with store.read() as s:
                (email,) = [i for i in inbox(s) if i.kind == "send_email"]
            fld.approve(email.review_id, actor=LOCAL_ADMIN)
        fld.deliver()
    return [v.message for v in check_invariants(store, world.PACK).of("executed-once")]


def test_a_follow_up_left_waiting_once_its_email_went_out_breaks_executed_once(
    store, clock, tmp_path, monkeypatch
):
    monkeypatch.setattr(queuing, "_release_waiting", lambda session, action_id: 0)  # forgotten
    (message,) = _waiting_email(store, clock, tmp_path, approve=True)
    assert "schedule_followup at prospect0.com) is still waiting for action #" in message
    assert message.endswith(", which is executed")


def test_a_follow_up_due_before_its_email_went_out_breaks_executed_once(
    store, clock, tmp_path, monkeypatch
):
    real = queuing.queue_rows

    def as_due(session: Session, items: Any, **kw: Any) -> list[dict[str, Any]]:
        return [{**row, "status": "pending"} for row in real(session, items, **kw)]  # no wait

    monkeypatch.setattr(closing, "queue_rows", as_due)
    (message,) = _waiting_email(store, clock, tmp_path, approve=False)
    assert "schedule_followup at prospect0.com) is sent though action #" in message
    assert message.endswith("it waits for is pending_review")


@pytest.mark.postgres
def test_a_follow_up_queued_while_its_email_is_marked_sent_is_due_once_both_commit(
    store, clock, tmp_path
):
    """A person approves the follow-up (its run queues it) while a worker records its email
    sent: whichever commits first, the follow-up ends up due, not waiting for ever."""
    if store.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time: the two transactions can't meet")
    pack = world.pack_with(tmp_path, "default.yaml", *FOLLOW_UPS_NEED_REVIEW)
    world.people(store)
    _prospects(store, range(1), segment="smb")
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        fld.run_agents()  # the email is automated and queued; its follow-up waits for a person
    now = clock.now()
    with store.session() as s:
        (email,) = claim_outbox(s, now, lease=timedelta(minutes=5), size=10)  # a worker has it
        (follow_up,) = inbox(s)
        answer_review(s, pack, follow_up.review_id, approve=True, actor=LOCAL_ADMIN, now=now)
    recorded = threading.Event()

    def record_sent() -> None:
        with store.session() as s:
            finish_delivery(
                s,
                email,
                outcome="sent",
                result={},
                error=None,
                account_id="prospect0.com",
                now=now,
            )
        recorded.set()

    worker = threading.Thread(target=record_sent)
    with store.session() as s:  # the follow-up's run queues it: the email is not sent yet
        assert enqueue(s, get_action(s, follow_up.action_id), executor="log", now=now)
        worker.start()
        for _ in range(1000):  # until the worker waits for this transaction (or is done)
            if recorded.wait(0.01) or _waiting_for_a_lock(store):
                break
    worker.join()
    assert recorded.is_set()
    assert _outbox(store) == {
        "send_email prospect0.com": "sent",
        "schedule_followup prospect0.com": "pending",
    }


def _waiting_for_a_lock(store: Store) -> bool:
    with store.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar_one()
        )
