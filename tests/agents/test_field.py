"""The field in motion, as users see it: agents propose, the policy decides, automated actions
execute once through the outbox, and actions waiting for a person pause the agent run until
someone answers — with every executed action traceable back to its signal."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from langgraph.types import Command

from revfield.domain import FactType
from revfield.llm import ModelError
from revfield.memory import recall
from revfield.memory.models import (
    ActionRecord,
    AuditEntry,
    DecisionRecord,
    FieldEvent,
    OutboxItem,
    Review,
    table_of,
)
from revfield.outbox import DeliveryError, LogExecutor
from revfield.review import LOCAL_ADMIN, Actor, ReviewError, inbox
from revfield.route import Agent
from revfield.testing import ScriptedModel
from tests.agents import world

ACT, E, OB, R = table_of(ActionRecord), table_of(FieldEvent), table_of(OutboxItem), table_of(Review)


def _rows(store, table, **where):
    with store.read() as s:
        q = sa.select(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return (
            s.execute(q.order_by(table.c[next(iter(table.primary_key.columns)).name]))
            .mappings()
            .all()
        )


def _run_until_paused(fld, store):
    """Run the agents; the one item now waiting in the inbox."""
    fld.run_agents()
    with store.read() as s:
        (item,) = inbox(s)
    return item


def _count(store, table) -> int:
    with store.read() as s:
        return s.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def smb_prospect(store):
    """An ICP-fit SMB prospect with a contact and a recorded pain: a follow-up can go out alone."""
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    return pat


@pytest.fixture
def enterprise_prospect(store):
    """An enterprise prospect: outreach there waits for the owner."""
    world.people(store)
    world.account(store, "globex.com", segment="enterprise", employees=5000)
    pat = world.contact(store, "globex.com")
    world.fact(store, "globex.com", FactType.PAIN, "Our reps update the CRM manually every Friday")
    return pat


def test_an_automated_follow_up_executes_once_through_the_outbox(
    store, clock, tmp_path, smb_prospect
):
    ev = world.event(store, "acme.io", "intent_surge", "outreach", contact_id=smb_prospect)
    with world.field(store, clock, tmp_path) as fld:
        started = time.perf_counter()
        report = fld.run_agents()
        assert (report.runs, report.finished, report.paused) == (1, 1, 0)
        assert 0 < report.seconds <= time.perf_counter() - started  # the rate `revfield run` prints
        actions = _rows(store, ACT)
        assert {a["kind"]: a["status"] for a in actions} == {
            "send_email": "queued",
            "schedule_followup": "queued",
        }
        email = next(a for a in actions if a["kind"] == "send_email")
        assert "forecast the board trusts" in email["proposal"]["body"]  # drafted from memory
        assert email["proposal"]["cited_fact_ids"] and email["proposal"]["uncited_claims"] == 0
        assert fld.deliver().sent == 2
        assert fld.deliver().sent == 0  # nothing is done twice
        assert fld.run_agents().runs == 0  # the event is done
    lines = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert sorted(x["kind"] for x in lines) == ["schedule_followup", "send_email"]
    sent = next(x for x in lines if x["kind"] == "send_email")
    assert sent["trace"]["field_event_id"] == ev and sent["trace"]["rules"] == ["smb-followup"]
    assert sent["trace"]["policy_version"].startswith("sha256:") and sent["trace"]["fact_ids"]
    assert _rows(store, E)[0]["status"] == "done"


def test_a_review_pauses_the_run_until_the_owner_approves_then_it_executes(
    store, clock, tmp_path, enterprise_prospect
):
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.run_agents().paused == 1
        assert _rows(store, E)[0]["status"] == "waiting"
        with store.read() as s:
            items = inbox(s, Actor("ana", "seller", "team-a"))
        assert (
            len(items) == 1
            and items[0].kind == "send_email"
            and "enterprise-outreach" in items[0].reason
        )
        assert items[0].assignee_id == "ana"
        # the follow-up task was decided automatic, but it waits for its email
        assert fld.deliver().sent == 0
        result = fld.approve(items[0].review_id, actor=Actor("ana", "seller", "team-a"))
        assert result.outcome == "approved"
        assert _rows(store, E)[0]["status"] == "done"
        assert fld.deliver().sent == 2
    email = _rows(store, ACT, kind="send_email")[0]
    assert email["status"] == "executed"
    sent = [
        json.loads(line)["kind"] for line in (tmp_path / "outbox.jsonl").read_text().splitlines()
    ]
    assert sent == ["send_email", "schedule_followup"]  # the email first, then its follow-up
    trail = [r["event"] for r in _rows(store, table_of(AuditEntry), action_id=email["id"])]
    assert trail == ["proposed", "review_opened", "review_approved", "queued", "executed"]
    with store.read() as s:
        chain = recall(s, "globex.com", actions=5).actions
    traced = next(a for a in chain if a["kind"] == "send_email")
    assert traced["event"]["kind"] == "intent_surge" and traced["signal_ids"]  # signal → event
    assert traced["facts"] and traced["facts"][0]["source_signal_id"]  # → facts with their signal
    assert traced["decisions"][0]["rules"] == ["enterprise-outreach"]  # → decision and its rule
    assert traced["decisions"][0]["policy_version"].startswith("sha256:")
    assert (
        traced["reviews"][0]["status"] == "approved" and traced["reviews"][0]["by"] == "ana"
    )  # → answer
    assert traced["outbox"]["status"] == "sent" and traced["outbox"]["key"].startswith(
        "revfield-"
    )  # → result


def test_a_rejected_action_is_never_executed_the_reason_is_kept_and_its_follow_up_cancelled(
    store, clock, tmp_path, enterprise_prospect
):
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        item = _run_until_paused(fld, store)
        answer = fld.reject(
            item.review_id, actor=LOCAL_ADMIN, reason="they asked us to wait until January"
        )
        delivered = fld.deliver()
    email = _rows(store, ACT, kind="send_email")[0]
    assert email["status"] == "rejected"
    assert _rows(store, OB, action_id=email["id"]) == []
    assert _rows(store, R)[0]["note"] == "they asked us to wait until January"
    assert _rows(store, E)[0]["status"] == "done"
    follow = _rows(store, ACT, kind="schedule_followup")[0]
    # the follow-up waited for the email: cancelled with the answer, nothing left to deliver
    assert answer.cancelled == (follow["id"],) and f"action #{follow['id']}" in answer.message
    assert (delivered.sent, delivered.cancelled) == (0, [])
    assert follow["status"] == "cancelled"
    (queued,) = _rows(store, OB, action_id=follow["id"])
    assert queued["status"] == "cancelled"
    assert f"its send email (action #{email['id']}) was rejected" == queued["last_error"]
    assert not (tmp_path / "outbox.jsonl").exists()  # nothing went out
    with store.read() as s:  # `account show` tells why
        traced = next(
            a for a in recall(s, "globex.com", actions=5).actions if a["id"] == follow["id"]
        )
    assert traced["outbox"]["status"] == "cancelled" and "was rejected" in traced["outbox"]["error"]


def test_rejecting_an_email_closes_the_review_of_the_follow_up_waiting_for_it(
    store, clock, tmp_path, enterprise_prospect
):
    no_budget = world.pack_with(
        tmp_path,
        "guardrails.yaml",
        "acquisition: {max_auto_per_day: 200}",
        "acquisition: {max_auto_per_day: 0}",
    )  # the follow-up waits for a person too
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path, pack=no_budget) as fld:
        fld.run_agents()
        with store.read() as s:
            items = {i.kind: i for i in inbox(s)}
        assert set(items) == {"send_email", "schedule_followup"}
        result = fld.reject(items["send_email"].review_id, actor=LOCAL_ADMIN, reason="not now")
        assert result.cancelled == (items["schedule_followup"].action_id,)
        assert "cancelled what waited for it" in result.message
        with store.read() as s:
            assert inbox(s) == []  # nobody is asked about a follow-up to an email that won't go out
        assert _rows(store, E)[0]["status"] == "done"  # the run stopped waiting for both
        assert fld.deliver().sent == 0
    assert {a["kind"]: a["status"] for a in _rows(store, ACT)} == {
        "send_email": "rejected",
        "schedule_followup": "cancelled",
    }
    follow_review = _rows(store, R, action_id=items["schedule_followup"].action_id)[0]
    assert follow_review["status"] == "superseded" and "was rejected" in follow_review["note"]


class _RefusesEmail(LogExecutor):
    """A receiver that refuses emails (a 4xx) and accepts everything else."""

    def execute(self, delivery):
        if delivery.kind == "send_email":
            raise DeliveryError("422 from the mail gateway: mailbox unknown", retry=False)
        return super().execute(delivery)


def test_a_follow_up_is_cancelled_when_its_email_fails_for_good(
    store, clock, tmp_path, smb_prospect
):
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=smb_prospect)
    refuses = _RefusesEmail(path=tmp_path / "outbox.jsonl")
    with world.field(store, clock, tmp_path, executor=refuses) as fld:
        fld.run_agents()
        delivered = fld.deliver()
    statuses = {a["kind"]: a["status"] for a in _rows(store, ACT)}
    assert statuses == {"send_email": "failed", "schedule_followup": "cancelled"}
    follow = _rows(store, ACT, kind="schedule_followup")[0]
    assert (delivered.sent, delivered.failed, delivered.cancelled) == (0, 1, [follow["id"]])


def test_an_item_answered_already_or_changed_since_shown_is_refused(
    store, clock, tmp_path, enterprise_prospect
):
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        item = _run_until_paused(fld, store)
        with pytest.raises(ReviewError, match="different action than the one you saw"):
            fld.approve(item.review_id, actor=LOCAL_ADMIN, expected_digest="0" * 32)
        fld.approve(item.review_id, actor=LOCAL_ADMIN, expected_digest=item.digest)
        with pytest.raises(ReviewError, match=r"already approved by local-admin"):
            fld.reject(item.review_id, actor=LOCAL_ADMIN, reason="too late")
        with pytest.raises(ReviewError, match="no review item #999"):
            fld.approve(999, actor=LOCAL_ADMIN)
        fld.deliver()
    assert _count(store, OB) == 2  # the email and its follow-up, once each


def test_two_answers_racing_each_other_execute_the_action_once(
    store, clock, tmp_path, enterprise_prospect
):
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        item = _run_until_paused(fld, store)
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def answer(who: Actor) -> None:
            start.wait()
            try:
                outcomes.append(fld.approve(item.review_id, actor=who).outcome)
            except ReviewError as exc:
                outcomes.append(f"refused: {exc}")

        threads = [
            threading.Thread(target=answer, args=(a,))
            for a in (Actor("ana", "seller", "team-a"), LOCAL_ADMIN)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(o.split(":")[0] for o in outcomes) == ["approved", "refused"]
        fld.deliver()
    email = _rows(store, ACT, kind="send_email")[0]
    assert len(_rows(store, OB, action_id=email["id"])) == 1 and email["status"] == "executed"


def test_sellers_answer_only_their_own_items_managers_their_team(
    store, clock, tmp_path, enterprise_prospect
):
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        with store.read() as s:
            assert [
                len(inbox(s, a))
                for a in (
                    Actor("ana", "seller", "team-a"),
                    Actor("al", "seller", "team-a"),
                    Actor("mia", "manager", "team-a"),
                    Actor("max", "manager", "team-b"),
                    Actor("rex", "revops"),
                )
            ] == [1, 0, 1, 0, 1]
            (item,) = inbox(s)
        with pytest.raises(ReviewError, match=r"bo \(seller\) may not answer"):
            fld.approve(item.review_id, actor=Actor("bo", "seller", "team-b"))
        assert (
            fld.approve(item.review_id, actor=Actor("mia", "manager", "team-a")).outcome
            == "approved"
        )


def test_unanswered_items_climb_the_ladder_after_their_deadline(
    store, clock, tmp_path, enterprise_prospect
):
    from datetime import timedelta

    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        assert fld.climb_ladder() == []  # not due yet
        clock.advance(timedelta(hours=25))
        ((old, _),) = fld.climb_ladder()
        clock.advance(timedelta(hours=25))
        ((_, top),) = fld.climb_ladder()
        clock.advance(timedelta(hours=25))
        assert fld.climb_ladder() == []  # revops is the top rung
        reviews = _rows(store, R)
        assert [(r["assignee_role"], r["status"]) for r in reviews] == [
            ("owner", "superseded"),
            ("manager", "superseded"),
            ("revops", "pending"),
        ]
        assert reviews[1]["assignee_id"] == "mia" and reviews[2]["assignee_id"] == "rex"
        with pytest.raises(ReviewError, match="already superseded"):
            fld.approve(old, actor=LOCAL_ADMIN)
        assert fld.approve(top, actor=Actor("rex", "revops")).outcome == "approved"
        assert fld.deliver().sent == 2


def _discounting(pct: float) -> dict:
    """The installed agents, with an outreach agent that offers a discount."""
    from revfield.agents import AgentSpec, Proposal, discover_agents
    from revfield.domain import ActionKind, Motion, ProposedAction

    def propose(ctx, event, model, playbook, now):
        return Proposal(
            [
                ProposedAction(
                    kind=ActionKind.OFFER_DISCOUNT,
                    motion=Motion.ACQUISITION,
                    account_id=ctx.account.id,
                    contact_id=ctx.contacts[0].id,
                    discount_pct=pct,
                    subject="A pilot price",
                    field_event_id=event.id,
                )
            ]
        )

    agents = discover_agents()
    agents["outreach"] = AgentSpec("outreach", propose, agents["outreach"].handles)
    return agents


def test_an_edit_cannot_loosen_a_decision_it_re_escalates_or_is_blocked(
    store, clock, tmp_path, smb_prospect
):
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=smb_prospect)
    ana, mia = Actor("ana", "seller", "team-a"), Actor("mia", "manager", "team-a")
    with world.field(store, clock, tmp_path, agents=_discounting(10)) as fld:
        item = _run_until_paused(fld, store)
        assert "small-discount" in item.reason
        raised = fld.approve(item.review_id, actor=ana, edits={"discount_pct": 20})
        assert raised.outcome == "re-escalated" and "big-discount" in raised.message
        assert raised.message.startswith("your edit (discount_pct 20.0) needs the manager")
        with pytest.raises(ReviewError) as again_by_ana:  # ana answers her old item again
            fld.approve(item.review_id, actor=ana)
        assert f"your edit to review #{item.review_id} (discount_pct 20.0) needs the manager" in (
            str(again_by_ana.value)
        ) and f"now review #{raised.new_review_id}, waiting for the manager" in str(
            again_by_ana.value
        )
        assert _rows(store, E)[0]["status"] == "waiting"  # the run still waits
        with store.read() as s:
            assert inbox(s, ana) == []  # now the manager's
            (again,) = inbox(s, mia)
        assert again.proposal["discount_pct"] == 20
        with pytest.raises(ReviewError, match="edit `discount_pct`"):
            fld.approve(again.review_id, actor=mia, edits={"discount_pct": 140})
        with pytest.raises(ReviewError, match="can't be edited"):
            fld.approve(again.review_id, actor=mia, edits={"account_id": "other.io"})
        blocked = fld.approve(again.review_id, actor=mia, edits={"discount_pct": 35})
        assert blocked.outcome == "blocked" and "discount-beyond-limit" in blocked.message
        assert _rows(store, E)[0]["status"] == "done"
        assert fld.deliver().sent == 0
    assert _rows(store, ACT)[0]["status"] == "blocked"
    verdicts = [d["verdict"] for d in _rows(store, table_of(DecisionRecord))]
    assert verdicts == ["review", "escalate", "block"]  # every decision kept, each replayable


def test_a_model_fault_escalates_with_its_reason_and_nothing_is_automated(
    store, clock, tmp_path, smb_prospect
):
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=smb_prospect)
    model = ScriptedModel(fail={"draft_message": ModelError("timeout", "no answer within 30 s")})
    with world.field(store, clock, tmp_path, model=model) as fld:
        fld.run_agents()
        assert fld.deliver().sent == 0
        with store.read() as s:
            (item,) = inbox(s)
    assert item.verdict == "escalate" and item.kind == "notify" and "model-fault" in item.reason
    assert "no answer within 30 s" in item.proposal["model_fault"]
    assert [a["kind"] for a in _rows(store, ACT)] == ["notify"]  # no draft was guessed


@pytest.mark.parametrize(
    "agent_event", [("handover", "closed_won"), ("expansion_retention", "usage_near_limit")]
)
def test_a_model_fault_in_any_agent_escalates(store, clock, tmp_path, agent_event):
    agent, kind = agent_event
    world.people(store)
    world.account(store, "initech.com", state="customer", plan="Pro", mrr=900.0)
    world.contact(store, "initech.com")
    world.fact(
        store, "initech.com", FactType.PROMISE, "You promised the Salesforce sync in week one"
    )
    world.event(store, "initech.com", kind, agent)
    broken = ModelError("server_error", "HTTP 503 after 2 retries")
    model = ScriptedModel(fail={"draft_message": broken, "summarise_handover": broken})
    with world.field(store, clock, tmp_path, model=model) as fld:
        fld.run_agents()
        assert fld.deliver().sent == 0
    actions = _rows(store, ACT)
    assert [a["status"] for a in actions] == ["pending_review"] and actions[0]["proposal"][
        "model_fault"
    ]


def test_resuming_runs_nothing_twice(store, clock, tmp_path, enterprise_prospect):
    """LangGraph runs the waiting node again from its top on every resume: nothing with an
    effect may sit before its interrupt(). A stray resume and a real one change nothing but
    what the answer itself changes, and the agent never drafts again."""
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    model = ScriptedModel()
    tables = [table_of(m) for m in (ActionRecord, DecisionRecord, Review, OutboxItem, AuditEntry)]
    with world.field(store, clock, tmp_path, model=model) as fld:
        fld.run_agents()
        before = [_count(store, t) for t in tables]
        (email,) = _rows(store, ACT, kind="send_email")
        stray = Command(
            resume={"action_id": email["id"] + 100, "outcome": "approved"}
        )  # an answer in no form revfield takes
        result = fld.graphs[Agent.OUTREACH].invoke(
            stray, fld._config("outreach", email["field_event_id"])
        )
        (asked,) = result["__interrupt__"]  # still waiting for the email, saying why
        assert asked.value["revfield"]["action_id"] == email["id"]
        assert asked.value["revfield"]["error"].startswith("unrecognised answer")
        assert [_count(store, t) for t in tables] == before
        with store.read() as s:
            (item,) = inbox(s)
        fld.approve(item.review_id, actor=LOCAL_ADMIN)
        after = [_count(store, t) for t in tables]
    assert after[:3] == before[:3]  # no new action, decision or review
    assert after[3] == before[3] + 1  # one outbox item: the approved email
    assert model.calls.count("draft_message") == 1


def test_an_answer_recorded_while_nothing_resumed_is_picked_up_by_the_next_run(
    store, clock, tmp_path, enterprise_prospect
):
    from revfield.review import answer_review

    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect)
    with world.field(store, clock, tmp_path) as fld:
        item = _run_until_paused(fld, store)
        with store.session() as s:  # the answering process died before resuming the run
            answer_review(
                s, world.PACK, item.review_id, approve=True, actor=LOCAL_ADMIN, now=clock.now()
            )
        assert _rows(store, E)[0]["status"] == "waiting"
        assert fld.resume_answered() == 1
        assert _rows(store, E)[0]["status"] == "done"
        assert fld.resume_answered() == 0
        assert fld.deliver().sent == 2


def test_edits_given_as_text_are_checked_and_stored_as_the_action_types_them(
    store, clock, tmp_path, smb_prospect
):
    """The command line passes `--edit discount_pct=12` as text: the action's model converts it."""
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=smb_prospect)
    with world.field(store, clock, tmp_path, agents=_discounting(10)) as fld:
        item = _run_until_paused(fld, store)
        with pytest.raises(
            ReviewError, match=r"edit `discount_pct`: Input should be a valid number"
        ):
            fld.approve(item.review_id, actor=LOCAL_ADMIN, edits={"discount_pct": "twelve"})
        assert (
            fld.approve(item.review_id, actor=LOCAL_ADMIN, edits={"discount_pct": "12"}).outcome
            == "approved"
        )
    assert _rows(store, R)[0]["edits"] == {"discount_pct": 12.0}
    assert _rows(store, ACT)[0]["proposal"]["discount_pct"] == 12.0


def test_an_escalated_handover_names_the_promises_in_the_reason_the_inbox_and_the_trace(
    store, clock, tmp_path
):
    world.people(store)
    world.account(store, "initech.com", state="customer")
    world.fact(
        store, "initech.com", FactType.PROMISE, "We were told on-prem deployment is possible"
    )
    world.fact(
        store, "initech.com", FactType.PROMISE, "You said a dedicated teleporter is included"
    )
    world.event(store, "initech.com", "closed_won", "handover")
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        with store.read() as s:
            brief = next(i for i in inbox(s) if i.kind == "handover_brief")
            chain = recall(s, "initech.com", actions=5).actions
    assert "promised “We were told on-prem deployment is possible”: the product does not do" in (
        brief.reason
    )
    assert "promised “You said a dedicated teleporter is included”: nothing in the capability" in (
        brief.reason
    )
    traced = next(a for a in chain if a["kind"] == "handover_brief")
    assert len(traced["concerns"]) == 2 and traced["decisions"][0]["verdict"] == "escalate"


def test_a_run_cut_off_between_two_steps_goes_on_from_its_checkpoint(
    store, clock, tmp_path, enterprise_prospect, monkeypatch
):
    """The process dies (or loses its database) after the decision's checkpoint but before
    the run paused for the owner: the next process goes on from that checkpoint — the run
    pauses, nothing is drafted or decided twice — instead of leaving it waiting for nothing."""
    import revfield.field._graph as graph_module

    ev = world.event(
        store, "globex.com", "intent_surge", "outreach", contact_id=enterprise_prospect
    )
    real = graph_module.await_review
    cut = {"once": True}

    def dies_once(*args, **kwargs):
        if cut.pop("once", False):
            raise ConnectionError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(graph_module, "await_review", dies_once)
    model = ScriptedModel()
    with world.field(store, clock, tmp_path, model=model) as fld:
        with pytest.raises(ConnectionError):
            fld.run_agents()
        assert _rows(store, E)[0]["status"] == "running"  # cut off
        drafted = len(model.calls)
        report = fld.run_agents()  # the next worker
        assert (report.runs, report.paused) == (1, 1)
        assert _rows(store, E)[0]["status"] == "waiting"
        assert len(model.calls) == drafted  # not drafted again
        assert len(_rows(store, ACT)) == 2 and len(_rows(store, table_of(DecisionRecord))) == 2
        with store.read() as s:
            (item,) = inbox(s, Actor("ana", "seller", "team-a"))
        fld.approve(item.review_id, actor=Actor("ana", "seller", "team-a"))
        assert _rows(store, E, id=ev)[0]["status"] == "done"
        assert fld.deliver().sent == 2
