"""One typed interrupt per review item, as a LangGraph client sees it: each waiting action
pauses its run with its own interrupt, which describes the item; answers in revfield's,
LangChain's and Agent Inbox's forms are taken — through ``Field.answer_interrupt`` or straight
through the graph — with the same digest check and re-decision as at the command line; an
answer that is malformed, stale, or from someone who may not answer is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from langgraph.types import Command
from typer.testing import CliRunner

from revfield.cli import app
from revfield.domain import FactType
from revfield.memory.models import (
    ActionRecord,
    AuditEntry,
    DecisionRecord,
    FieldEvent,
    OutboxItem,
    Review,
    table_of,
)
from revfield.review import LOCAL_ADMIN, RESPONSE_SCHEMA, Actor, ReviewError
from tests.agents import world
from tests.factories import make_deal

ACT, DEC, EV, OB, R = (
    table_of(m) for m in (ActionRecord, DecisionRecord, FieldEvent, OutboxItem, Review)
)
ANA, MIA = Actor("ana", "seller", "team-a"), Actor("mia", "manager", "team-a")
PAIN = "Our reps update the CRM manually every Friday"
POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def two_items(store) -> tuple[int, int]:
    """An enterprise prospect replied positively: the outreach run proposes a reply (reviewed:
    enterprise-outreach) and a stage change (reviewed: stage-change-unsure) — two items of one
    run — plus a follow-up that waits for the reply. Returns (event id, pain fact id)."""
    world.people(store)
    world.account(store, "globex.com", segment="enterprise", employees=5000)
    pat = world.contact(store, "globex.com")
    pain = world.fact(store, "globex.com", FactType.PAIN, PAIN)
    make_deal(store, "globex.com", "d-globex", stage="prospecting", owner_id="ana")
    event = world.event(
        store, "globex.com", "positive_reply", "outreach", contact_id=pat, deal_id="d-globex"
    )
    return event, pain


@pytest.fixture
def discount(store) -> None:
    """acme.io, a prospect ana owns (team A, manager mia), for submitted discounts."""
    world.people(store)
    world.account(store, "acme.io")
    world.contact(store, "acme.io")


def _config(thread: str, user: str | None = None) -> dict:
    conf: dict = {"thread_id": thread}
    if user:
        conf["revfield_user"] = user
    return {"configurable": conf}


def _asked(fld, thread: str) -> dict:
    """The run's pending interrupts, by the kind of action they ask about."""
    agent = thread.split(":")[0]
    state = fld.graphs[agent].get_state(_config(thread))
    return {i.value["action_requests"][0]["name"]: i for i in state.interrupts}


def _counts(store) -> list[int]:
    with store.read() as s:
        return [
            s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (ACT, DEC, R, OB, table_of(AuditEntry))
        ]


def _sent(tmp_path: Path) -> list[dict]:
    log = tmp_path / "outbox.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_each_item_pauses_with_its_own_interrupt_describing_it_for_any_client(
    store, clock, tmp_path, two_items
):
    event, pain = two_items
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        asked = _asked(fld, f"outreach:{event}")
    assert set(asked) == {"send_email", "advance_stage"}
    email, stage = asked["send_email"], asked["advance_stage"]
    assert email.id != stage.id

    (action,) = world.rows(store, ACT, kind="send_email")
    (review,) = world.rows(store, R, action_id=action["id"])
    (decision,) = world.rows(store, DEC, action_id=action["id"])
    ours = email.value["revfield"]
    assert (ours["review_id"], ours["action_id"]) == (review["id"], action["id"])
    assert ours["action_digest"] == review["action_digest"] == action["digest"]
    assert (ours["decision_id"], ours["policy_version"]) == (decision["id"], world.PACK.version)
    assert (ours["verdict"], ours["matched_rules"]) == ("review", ["enterprise-outreach"])
    assert (ours["rung"], ours["assignee_id"]) == ("owner", "ana")
    assert ours["deadline"] == "2026-11-03T09:00:00+00:00"
    assert ours["cited_facts"] == [{"id": pain, "type": "pain", "value": PAIN}]
    assert ours["editable"] == ["subject", "body", "discount_pct", "amount", "to_stage", "channel"]
    assert ours["error"] is None
    assert stage.value["revfield"]["matched_rules"] == ["stage-change-unsure"]

    description = email.value["description"]
    assert "Why it waits: review: rule `enterprise-outreach`" in description
    assert "Who answers: the owner, by 2026-11-03T09:00:00+00:00" in description
    assert f"- #{pain} pain: {PAIN}" in description

    # LangChain's HumanInTheLoopMiddleware request
    (request,) = email.value["action_requests"]
    assert request["name"] == "send_email" and request["description"] == description
    assert request["args"]["subject"] == action["proposal"]["subject"]
    (review_config,) = email.value["review_configs"]
    assert review_config["allowed_decisions"] == ["approve", "edit", "reject"]
    schema = review_config["args_schema"]
    assert list(schema["properties"]) == ours["editable"]
    assert schema["additionalProperties"] is False
    # Agent Inbox's HumanInterrupt
    assert email.value["action_request"] == {"action": "send_email", "args": request["args"]}
    assert email.value["config"] == {
        "allow_accept": True,
        "allow_edit": True,
        "allow_respond": True,
        "allow_ignore": True,
    }
    # what a client validates an answer with
    assert email.response_schema == RESPONSE_SCHEMA
    assert [f["title"] for f in RESPONSE_SCHEMA["oneOf"]] == [
        "revfield",
        "LangChain decisions",
        "Agent Inbox HumanResponse",
    ]


def test_two_items_answered_in_reverse_order_both_resume_and_the_run_ends_after_both(
    store, clock, tmp_path, two_items
):
    event, _ = two_items
    thread = f"outreach:{event}"
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        first = _asked(fld, thread)
        status = fld.answer_interrupt(
            thread, first["advance_stage"].id, {"decisions": [{"type": "approve"}]}, actor=ANA
        )
        assert status == "waiting" and world.rows(store, EV)[0]["status"] == "waiting"
        still = _asked(fld, thread)
        assert list(still) == ["send_email"]
        assert still["send_email"].id == first["send_email"].id  # its id did not change
        assert fld.deliver().sent == 0  # the run acts once every item is answered
        status = fld.answer_interrupt(
            thread, first["send_email"].id, [{"type": "accept", "args": None}], actor=ANA
        )
        assert status == "done" and _asked(fld, thread) == {}
        assert fld.deliver().sent == 3
        assert fld.deliver().sent == 0
    assert world.rows(store, EV)[0]["status"] == "done"
    assert sorted(x["kind"] for x in _sent(tmp_path)) == [
        "advance_stage",
        "schedule_followup",
        "send_email",
    ]
    assert {a["kind"]: a["status"] for a in world.rows(store, ACT)} == {
        "send_email": "executed",
        "advance_stage": "executed",
        "schedule_followup": "executed",
    }


def test_two_items_answered_in_reverse_order_straight_through_the_graph(
    store, clock, tmp_path, two_items
):
    event, _ = two_items
    thread = f"outreach:{event}"
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        graph, config = fld.graphs["outreach"], _config(thread, "ana")
        first = _asked(fld, thread)
        result = graph.invoke(
            Command(resume={first["advance_stage"].id: {"decision": "approve"}}), config
        )
        (left,) = result["__interrupt__"]
        assert left.id == first["send_email"].id and left.value["revfield"]["error"] is None
        edit = {"decision": "edit", "edits": {"subject": "Tuesday at 10?"}}
        result = graph.invoke(Command(resume={first["send_email"].id: edit}), config)
        assert "__interrupt__" not in result and result["done"]
        assert world.rows(store, EV)[0]["status"] == "done"  # the run's last step closed its event
        assert fld.deliver().sent == 3
    email = next(x for x in _sent(tmp_path) if x["kind"] == "send_email")
    assert email["action"]["subject"] == "Tuesday at 10?"
    assert email["trace"]["approved_by"] == "ana" and email["trace"]["edits"] == {
        "subject": "Tuesday at 10?"
    }


def _edited(shown: dict, **changes) -> dict:
    return {**shown, **changes}


FORMS = {
    "revfield approve": (lambda shown: {"decision": "approve"}, "approved", None),
    "revfield edit": (
        lambda shown: {"decision": "edit", "edits": {"subject": "Tuesday?"}},
        "approved",
        "Tuesday?",
    ),
    "revfield reject": (
        lambda shown: {"decision": "reject", "reason": "they asked for January"},
        "rejected",
        "they asked for January",
    ),
    "langchain approve": (lambda shown: {"decisions": [{"type": "approve"}]}, "approved", None),
    "langchain edit": (
        lambda shown: {
            "decisions": [
                {
                    "type": "edit",
                    "edited_action": {
                        "name": "offer_discount",
                        "args": _edited(shown, subject="Tuesday?"),
                    },
                }
            ]
        },
        "approved",
        "Tuesday?",
    ),
    "langchain reject": (
        lambda shown: {"decisions": [{"type": "reject", "message": "not before January"}]},
        "rejected",
        "not before January",
    ),
    "agent inbox accept": (lambda shown: [{"type": "accept", "args": None}], "approved", None),
    "agent inbox edit": (
        lambda shown: [
            {
                "type": "edit",
                "args": {"action": "offer_discount", "args": _edited(shown, subject="Tuesday?")},
            }
        ],
        "approved",
        "Tuesday?",
    ),
    "agent inbox response": (
        lambda shown: [{"type": "response", "args": "Call Pat instead"}],
        "rejected",
        "Call Pat instead",
    ),
    "agent inbox ignore": (
        lambda shown: [{"type": "ignore", "args": None}],
        "rejected",
        "ignored in Agent Inbox",
    ),
}


def test_every_answer_form_is_taken_like_an_answer_at_the_command_line(
    store, clock, tmp_path, discount
):
    """Each form answers its own item: a 10% discount the owner reviews (small-discount)."""
    with world.field(store, clock, tmp_path) as fld:
        for n, (form, (make, outcome, detail)) in enumerate(FORMS.items()):
            sent = fld.submit(
                {"kind": "offer_discount", "discount_pct": 10, "subject": f"Offer {n}"},
                account="acme.io",
            )
            thread = f"submitted:{sent.event_id}"
            asked = _asked(fld, thread)["offer_discount"]
            shown = asked.value["action_requests"][0]["args"]
            assert fld.answer_interrupt(thread, asked.id, make(shown), actor=ANA) == "done", form
            action = world.rows(store, ACT, id=sent.action_id)[0]
            (review,) = world.rows(store, R, action_id=sent.action_id)
            decisions = world.rows(store, DEC, action_id=sent.action_id)
            assert (review["status"], review["answered_by"]) == (outcome, "ana"), form
            if outcome == "rejected":
                assert action["status"] == "rejected" and review["note"] == detail, form
                assert len(decisions) == 1, form
            elif detail is None:
                assert action["status"] == "queued" and review["edits"] is None, form
                assert len(decisions) == 1, form
            else:  # an edit: the edited action, decided again
                assert action["status"] == "queued" and review["edits"] == {"subject": detail}
                assert action["proposal"]["subject"] == detail, form
                assert action["digest"] != asked.value["revfield"]["action_digest"], form
                assert [d["matched_rules"] for d in decisions] == [["small-discount"]] * 2, form
        assert fld.deliver().sent == 6  # the approved ones, once each
    assert sorted(x["action"]["subject"] for x in _sent(tmp_path)) == [
        "Offer 0",
        "Offer 3",
        "Offer 6",
        *["Tuesday?"] * 3,
    ]


def test_an_edit_in_any_form_is_decided_again_up_the_ladder_and_cannot_loosen(
    store, clock, tmp_path, discount
):
    with world.field(store, clock, tmp_path) as fld:
        sent = fld.submit({"kind": "offer_discount", "discount_pct": 10}, account="acme.io")
        thread = f"submitted:{sent.event_id}"
        asked = _asked(fld, thread)["offer_discount"]
        assert asked.value["revfield"]["rung"] == "owner"
        shown = asked.value["action_requests"][0]["args"]
        to_20 = {
            "type": "edit",
            "edited_action": {"name": "offer_discount", "args": _edited(shown, discount_pct=20)},
        }
        assert fld.answer_interrupt(thread, asked.id, {"decisions": [to_20]}, actor=ANA) == (
            "waiting"
        )
        again = _asked(fld, thread)["offer_discount"]
        assert again.value["revfield"]["rung"] == "manager"  # re-escalated, not approved
        assert again.value["revfield"]["matched_rules"] == ["big-discount"]
        assert again.value["revfield"]["review_id"] != asked.value["revfield"]["review_id"]
        assert again.value["action_requests"][0]["args"]["discount_pct"] == 20
        with pytest.raises(ReviewError, match=r"ana \(seller\) may not answer review #\d+"):
            fld.answer_interrupt(thread, again.id, {"decision": "approve"}, actor=ANA)
        third = _asked(fld, thread)["offer_discount"]
        to_35 = [
            {
                "type": "edit",
                "args": {"action": "offer_discount", "args": _edited(shown, discount_pct=35)},
            }
        ]
        assert fld.answer_interrupt(thread, third.id, to_35, actor=MIA) == "done"
        assert fld.deliver().sent == 0
    (action,) = world.rows(store, ACT)
    assert action["status"] == "blocked"
    assert [d["verdict"] for d in world.rows(store, DEC)] == ["review", "escalate", "block"]
    assert _sent(tmp_path) == []


MALFORMED = [
    ("yes", "an answer is a mapping or a list of one HumanResponse, not str"),
    ([], "an Agent Inbox answer is a list of one HumanResponse; got 0 items"),
    ({"approve": True}, "unrecognised answer"),
    ({"decision": "maybe"}, "`decision` is `maybe`; one of approve, edit, reject"),
    ({"decision": "reject"}, "reject: a rejection needs a reason"),
    ({"decision": "edit"}, "an edit needs `edits`"),
    (
        {"decisions": [{"type": "approve"}, {"type": "approve"}]},
        "`decisions` must hold exactly one decision",
    ),
    ({"decisions": [{"type": "maybe"}]}, "decision type `maybe`"),
    (
        {"decisions": [{"type": "edit", "edited_action": {"name": "create_task", "args": {}}}]},
        "the edit turns this send_email into `create_task`",
    ),
    ([{"type": "response", "args": ""}], "response: a rejection needs a reason"),
    ({"decision": "edit", "edits": {"account_id": "other.io"}}, "`account_id` can't be edited"),
    ({"decision": "edit", "edits": {"discount_pct": "lots"}}, "edit `discount_pct`"),
]


def test_a_malformed_answer_is_refused_nothing_is_saved_and_the_item_asks_again(
    store, clock, tmp_path, two_items
):
    event, _ = two_items
    thread = f"outreach:{event}"
    with world.field(store, clock, tmp_path) as fld:
        fld.run_agents()
        asked = _asked(fld, thread)["send_email"]
        review_id = asked.value["revfield"]["review_id"]
        before = _counts(store)
        for answer, why in MALFORMED:
            with pytest.raises(ReviewError) as refused:
                fld.answer_interrupt(thread, asked.id, answer, actor=ANA)
            assert why in str(refused.value)
            # no answer, edit, decision, delivery or audit entry
            assert _counts(store) == before, why
            assert [r["status"] for r in world.rows(store, R)] == ["pending", "pending"], why
            again = _asked(fld, thread)["send_email"]  # asked again, saying why
            assert again.id != asked.id and why in again.value["revfield"]["error"]
            assert again.value["description"].startswith("Your last answer was refused: ")
            assert again.value["revfield"]["review_id"] == review_id
            asked = again
        assert fld.answer_interrupt(thread, asked.id, {"decision": "approve"}, actor=ANA) == (
            "waiting"
        )
    (action,) = world.rows(store, ACT, kind="send_email")
    assert action["status"] == "approved"


def test_a_stale_answer_is_refused(store, clock, tmp_path, discount, monkeypatch):
    monkeypatch.setenv("REVFIELD_POLICIES", str(POLICIES))
    monkeypatch.setenv("REVFIELD_OUTBOX_LOG", str(tmp_path / "outbox.jsonl"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    url = store.engine.url.render_as_string(hide_password=False)
    with world.field(store, clock, tmp_path) as fld:
        sent = fld.submit({"kind": "offer_discount", "discount_pct": 10}, account="acme.io")
        thread = f"submitted:{sent.event_id}"
        old = _asked(fld, thread)["offer_discount"]
        # ana raises it to 20% at the command line: the manager's now, on a new item
        edited = CliRunner().invoke(
            app,
            [
                "--db",
                url,
                "approve",
                str(sent.review_id),
                "--as",
                "ana",
                "--edit",
                "discount_pct=20",
            ],
        )
        assert edited.exit_code == 0, edited.output
        assert "re-escalated" in edited.output
        new = _asked(fld, thread)["offer_discount"]
        assert new.value["revfield"]["rung"] == "manager"

        # mia's client still shows the 10% question: answering it is refused, by either path
        with pytest.raises(ReviewError, match="does not wait on interrupt"):
            fld.answer_interrupt(thread, old.id, [{"type": "accept", "args": None}], actor=MIA)
        result = fld.graphs["submitted"].invoke(
            Command(resume={old.id: [{"type": "accept", "args": None}]}), _config(thread, "mia")
        )
        (asked,) = result["__interrupt__"]
        assert (
            "that answer was given to an earlier question of this run"
            in (asked.value["revfield"]["error"])
        )
        assert [r["status"] for r in world.rows(store, R)] == ["superseded", "pending"]
        # … and so is an answer in revfield's form bound to the digest of what she saw
        stale = {"decision": "approve", "digest": old.value["revfield"]["action_digest"]}
        with pytest.raises(ReviewError, match="now shows a different action than the one you saw"):
            fld.answer_interrupt(thread, asked.id, stale, actor=MIA)
        assert [r["status"] for r in world.rows(store, R)] == ["superseded", "pending"]
        assert fld.deliver().sent == 0

        current = _asked(fld, thread)["offer_discount"]
        fresh = {"decision": "approve", "digest": current.value["revfield"]["action_digest"]}
        assert fld.answer_interrupt(thread, current.id, fresh, actor=MIA) == "done"
        assert fld.deliver().sent == 1
    (line,) = _sent(tmp_path)
    assert line["action"]["discount_pct"] == 20 and line["trace"]["approved_by"] == "mia"


def test_an_answer_from_nobody_known_or_who_may_not_answer_is_refused(
    store, clock, tmp_path, discount
):
    with world.field(store, clock, tmp_path) as fld:
        sent = fld.submit({"kind": "offer_discount", "discount_pct": 20}, account="acme.io")
        thread = f"submitted:{sent.event_id}"
        graph = fld.graphs["submitted"]
        asked = _asked(fld, thread)["offer_discount"]
        assert asked.value["revfield"]["rung"] == "manager"

        result = graph.invoke(Command(resume={asked.id: {"decision": "approve"}}), _config(thread))
        (asked,) = result["__interrupt__"]
        assert asked.value["revfield"]["error"].startswith("who answers?")
        result = graph.invoke(
            Command(resume={asked.id: {"decision": "approve"}}), _config(thread, "nobody")
        )
        (asked,) = result["__interrupt__"]
        assert asked.value["revfield"]["error"].startswith("no user `nobody`")
        # a seller may not answer the manager's item, nor speak for someone who may
        for answer in ({"decision": "approve"}, {"decision": "approve", "user": "rex"}):
            asked = _asked(fld, thread)["offer_discount"]
            with pytest.raises(ReviewError, match=r"ana \(seller\) may not answer review #1"):
                fld.answer_interrupt(thread, asked.id, answer, actor=ANA)
        assert [r["status"] for r in world.rows(store, R)] == ["pending"]
        assert fld.deliver().sent == 0
        # with nobody named by the run, the answer says who answers
        asked = _asked(fld, thread)["offer_discount"]
        result = graph.invoke(
            Command(resume={asked.id: {"decision": "approve", "user": "mia"}}), _config(thread)
        )
        assert "__interrupt__" not in result
        assert fld.deliver().sent == 1
    (review,) = world.rows(store, R)
    assert (review["status"], review["answered_by"]) == ("approved", "mia")


def test_the_actor_given_to_answer_interrupt_answers_as_with_approve(
    store, clock, tmp_path, discount
):
    with world.field(store, clock, tmp_path) as fld:
        sent = fld.submit({"kind": "offer_discount", "discount_pct": 20}, account="acme.io")
        thread = f"submitted:{sent.event_id}"
        asked = _asked(fld, thread)["offer_discount"]
        # a graph's config can't smuggle one in: only an Actor given in-process counts
        config = _config(thread, "nobody")
        config["configurable"]["revfield_actor"] = {"id": "nobody", "role": "revops"}
        result = fld.graphs["submitted"].invoke(
            Command(resume={asked.id: {"decision": "approve"}}), config
        )
        (asked,) = result["__interrupt__"]
        assert asked.value["revfield"]["error"].startswith("no user `nobody`")
        # the command line's operator is no user in memory, and answers all the same
        assert fld.answer_interrupt(
            thread, asked.id, {"decision": "approve"}, actor=LOCAL_ADMIN
        ) == ("done")
        assert fld.deliver().sent == 1
    (review,) = world.rows(store, R)
    assert (review["status"], review["answered_by"]) == ("approved", "local-admin")
