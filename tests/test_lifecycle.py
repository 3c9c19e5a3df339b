"""One state machine: actions, review items, outbox items and field events move only along
the domain's table, through one conditional UPDATE, so two writers can never both win; and an
action that will never go out takes what waits for it along."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from revfield.domain import (
    ActionStatus,
    EventStatus,
    FactType,
    OutboxStatus,
    ReviewStatus,
    allowed_from,
    initial,
)
from revfield.memory import TransitionError, transition
from revfield.memory.models import ActionRecord, AuditEntry, OutboxItem, Review, table_of
from revfield.review import LOCAL_ADMIN, ReviewError, inbox
from tests.agents import world

MACHINES = [ActionStatus, ReviewStatus, OutboxStatus, EventStatus]
ACT, OB, R = table_of(ActionRecord), table_of(OutboxItem), table_of(Review)


def _rows(store, table, **where):
    with store.read() as s:
        q = sa.select(table).order_by(table.c.id)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return s.execute(q).mappings().all()


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_status_is_reachable_from_a_first_status(machine):
    reached = {s for s in machine if initial(s)}
    assert reached, f"{machine.__name__} has no first status"
    while True:
        more = {s for s in machine if allowed_from(s) & reached} - reached
        if not more:
            break
        reached |= more
    assert reached == set(machine)


@pytest.mark.parametrize(
    ("final", "machine"),
    [
        (ActionStatus.EXECUTED, ActionStatus),
        (ActionStatus.REJECTED, ActionStatus),
        (ActionStatus.BLOCKED, ActionStatus),
        (ActionStatus.FAILED, ActionStatus),
        (ActionStatus.CANCELLED, ActionStatus),
        (ReviewStatus.APPROVED, ReviewStatus),
        (ReviewStatus.SUPERSEDED, ReviewStatus),
        (OutboxStatus.SENT, OutboxStatus),
        (OutboxStatus.CANCELLED, OutboxStatus),
        (EventStatus.DONE, EventStatus),
        (EventStatus.IGNORED, EventStatus),
    ],
)
def test_a_final_status_never_moves_again(final, machine):
    assert not any(final in allowed_from(s) for s in machine if s is not final)
    assert not any(final in allowed_from(to) and to is not final for to in machine)


def test_a_move_the_table_never_allows_is_refused_before_any_sql(store):
    with store.session() as s, pytest.raises(TransitionError, match="no move from executed"):
        transition(s, 1, ActionStatus.APPROVED, frm=ActionStatus.EXECUTED)


@pytest.fixture
def waiting_email(store, clock, tmp_path):
    """An enterprise prospect's email waiting for its owner, and the field it waits in."""
    world.people(store)
    world.account(store, "globex.com", segment="enterprise", employees=5000)
    pat = world.contact(store, "globex.com")
    world.fact(store, "globex.com", FactType.PAIN, "Our reps update the CRM manually")
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=pat)
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        with store.read() as s:
            items = inbox(s)
        yield fld, next(i for i in items if i.kind == "send_email")


def test_a_second_writer_moves_nothing_once_the_first_has(store, waiting_email):
    _, item = waiting_email
    with store.session() as s:
        first = transition(s, item.review_id, ReviewStatus.APPROVED, frm=ReviewStatus.PENDING)
    with store.session() as s:
        second = transition(s, item.review_id, ReviewStatus.REJECTED, frm=ReviewStatus.PENDING)
    assert (first, second) == (1, 0)
    assert _rows(store, R, id=item.review_id)[0]["status"] == "approved"


def test_two_people_answering_at_once_one_wins_and_the_action_goes_out_once(
    store, waiting_email, tmp_path
):
    fld, item = waiting_email
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def answer(approve: bool) -> None:
        start.wait()
        try:
            if approve:
                fld.approve(item.review_id, actor=LOCAL_ADMIN)
            else:
                fld.reject(item.review_id, actor=LOCAL_ADMIN, reason="not now")
            outcomes.append("answered")
        except ReviewError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=answer, args=(a,)) for a in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    losers = [o for o in outcomes if o != "answered"]
    assert outcomes.count("answered") == 1 and len(losers) == 1, outcomes
    assert "answered by someone else just now" in losers[0] or "is already" in losers[0]
    review = _rows(store, R, id=item.review_id)[0]
    email = _rows(store, ACT, id=item.action_id)[0]
    assert review["status"] in ("approved", "rejected")
    # the winner's answer resumed the run: an approved email is queued, once; a rejected one never
    queued = _rows(store, OB, action_id=item.action_id)
    if review["status"] == "approved":
        assert email["status"] == "queued" and len(queued) == 1
    else:
        assert email["status"] == "rejected" and queued == []
    answered = [e for e in _rows(store, table_of(AuditEntry), review_id=item.review_id)]
    assert [e["event"] for e in answered if e["event"] != "review_opened"] == [
        f"review_{review['status']}"
    ]


def test_rejecting_an_email_cancels_what_waits_for_it_down_the_chain(store, clock, waiting_email):
    fld, item = waiting_email
    follow = _rows(store, ACT, kind="schedule_followup")[0]
    assert follow["after_action_id"] == item.action_id  # stored when it was recorded
    result = fld.reject(item.review_id, actor=LOCAL_ADMIN, reason="wrong moment")
    assert result.cancelled == (follow["id"],)
    assert _rows(store, ACT, id=follow["id"])[0]["status"] == "cancelled"
    for queued in _rows(store, OB, action_id=follow["id"]):
        assert queued["status"] == "cancelled"
        assert queued["last_error"] == f"its send email (action #{item.action_id}) was rejected"
    trail = _rows(store, table_of(AuditEntry), action_id=follow["id"])
    assert trail[-1]["event"] == "cancelled" and "was rejected" in trail[-1]["detail"]["reason"]


def test_a_follow_up_to_an_email_the_policy_blocks_is_cancelled_at_once(store, clock, tmp_path):
    pack = world.pack_with(
        tmp_path,
        "default.yaml",
        "when: contact.do_not_contact\n",
        'when: contact.do_not_contact || action.kind == "send_email"\n',
    )
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        report = fld.run_agents()
        delivered = fld.deliver()
        with store.read() as s:
            waiting = inbox(s)
    statuses = {a["kind"]: a["status"] for a in _rows(store, ACT)}
    assert statuses == {"send_email": "blocked", "schedule_followup": "cancelled"}
    assert waiting == [] and report.paused == 0  # nobody is asked about it, the run is done
    assert delivered.sent == 0
