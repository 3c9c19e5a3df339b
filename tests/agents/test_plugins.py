"""Bring your own agent, as a package outside revfield does it: a module and a ``*.dist-info``
folder whose ``entry_points.txt`` registers agents in the ``revfield.agents`` group — found by
``importlib.metadata`` like any installed package's — and a policy pack that declares the
action kind the agent proposes, with the rule that decides it."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revfield.agents import AgentError, discover_agents
from revfield.cli import app
from revfield.field import run_detection
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory.models import ActionRecord, DecisionRecord, FieldEvent, table_of
from revfield.policies import lint_pack, load_pack
from revfield.review import Actor, ReviewError, inbox
from tests.agents import world
from tests.factories import T0

MODULE = "acme_demo_agents"
SOURCE = '''
"""Demo booking for revfield: a package that is not part of revfield."""

from revfield.agents import AgentSpec, Proposal
from revfield.domain import Motion, ProposedAction
from revfield.route import Handles

HANDLES = Handles.of(["meeting_booked"], ["prospect"])


def _booking(memory, event, **payload):
    return ProposedAction(
        kind=payload.pop("kind", "book_demo"),
        motion=Motion.ACQUISITION,
        account_id=memory.account.id,
        field_event_id=event.id,
        cited_signal_ids=list(event.signal_ids),
        subject=f"Product demo for {memory.account.name}",
        payload=payload,
    )


def book_demo(memory, event, model, playbook, now):
    minutes = playbook.settings("demo_booker").get("minutes", 60)
    return Proposal([_booking(memory, event, minutes=minutes, room="video")])


def broken(memory, event, model, playbook, now):
    raise RuntimeError("calendar API answered 503")


def webinar(memory, event, model, playbook, now):
    return Proposal([_booking(memory, event, kind="book_webinar", minutes=30)])


def catering(memory, event, model, playbook, now):
    return Proposal([_booking(memory, event, minutes=30, catering="pizza")])


DEMO_BOOKER = AgentSpec("demo_booker", book_demo, HANDLES, description="Books product demos.")
BROKEN = AgentSpec("broken_booker", broken, HANDLES)
WEBINAR = AgentSpec("webinar_booker", webinar, HANDLES)
CATERING = AgentSpec("catering_booker", catering, HANDLES)
NOT_AN_AGENT = {"name": "sneaky", "handles": ["meeting_booked"]}
'''

PACK = """
version: 1
default: review
actions:
  book_demo:
    description: Book a product demo with the prospect
    motion: acquisition
    fields:
      minutes: {type: int, min: 15, max: 90, required: true, editable: true}
      room: {type: string, values: [video, onsite], default: video}
agents:
  outreach: {enabled: false}     # meeting_booked on a prospect goes to the demo booker
  demo_booker: {settings: {minutes: 60}}
rules:
  - id: model-fault
    when: model.fault
    decision: escalate
    escalate_to: manager
    reason: The agent failed; a person decides instead.
  - id: long-demo
    when: action.kind == "book_demo" && action.payload.minutes > 30
    decision: review
    reason: Demos longer than 30 minutes take the owner's afternoon.
  - id: short-demo
    when: action.kind == "book_demo" && action.payload.minutes <= 30
    decision: auto
    reason: Short demos are booked by themselves.
review: {deadline_hours: 24, ladder: [owner, manager, revops]}
"""

ACT, DEC, EV = table_of(ActionRecord), table_of(DecisionRecord), table_of(FieldEvent)
ANA = Actor("ana", "seller", "team-a")


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Install the demo-booking package with the given entry points (name = "module:attr"),
    as pip would: the module and its dist-info folder on sys.path."""

    def _install(**entries: str) -> None:
        site = tmp_path / "site"
        site.mkdir()
        (site / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
        info = site / f"{MODULE}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: acme-demo-agents\nVersion: 1.0\n", encoding="utf-8"
        )
        lines = [f"{name} = {MODULE}:{attr}" for name, attr in entries.items()]
        (info / "entry_points.txt").write_text(
            "[revfield.agents]\n" + "\n".join(lines) + "\n", encoding="utf-8"
        )
        monkeypatch.syspath_prepend(str(site))

    yield _install
    sys.modules.pop(MODULE, None)


@pytest.fixture
def prospect(store) -> str:
    world.people(store)
    return world.account(store, "initrode.io", segment="mid_market", employees=300)


def _pack_folder(tmp_path: Path, text: str) -> Path:
    """A policy pack of one file: the demo kind, the agents' switches, the rules."""
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_text(text, encoding="utf-8")
    return folder


def _meeting_booked(store, clock, pack) -> str:
    """A meeting booked with the prospect, through detection: the agent it is routed to."""
    ingest_signals(
        [
            {
                "source": "calendar",
                "external_id": "m-1",
                "kind": "meeting_booked",
                "occurred_at": T0.isoformat(),
                "account_id": "initrode.io",
                "payload": {"starts_at": "2026-11-05T15:00:00Z"},
            }
        ],
        store=store,
    )
    run_detection(store, pack, OfflineModel(), clock)
    (event,) = world.rows(store, EV, kind="meeting_booked")
    return str(event["agent"])


def test_a_plug_in_agent_proposes_a_declared_kind_decided_edited_approved_and_executed_once(
    store, clock, tmp_path, install, prospect
):
    install(demo_booker="DEMO_BOOKER")
    assert "demo_booker" in discover_agents()  # found through its entry point
    pack = load_pack(_pack_folder(tmp_path, PACK))
    assert _meeting_booked(store, clock, pack) == "demo_booker"  # outreach is off in this pack
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        assert fld.run_agents().paused == 1
        with store.read() as s:
            (item,) = inbox(s, ANA)
        assert item.kind == "book_demo" and "long-demo" in item.reason
        assert item.proposal["payload"] == {"minutes": 60, "room": "video"}  # pack settings
        state = fld.graphs["demo_booker"].get_state(
            {"configurable": {"thread_id": f"demo_booker:{item.proposal['field_event_id']}"}}
        )
        (asked,) = state.interrupts  # what a LangGraph client shows: the declared field, typed
        assert asked.value["action_requests"][0]["args"]["minutes"] == 60
        schema = asked.value["review_configs"][0]["args_schema"]["properties"]["minutes"]
        assert schema == {"type": "integer", "minimum": 15, "maximum": 90}
        assert "room" not in asked.value["revfield"]["editable"]  # declared, not editable
        with pytest.raises(ReviewError, match=r"edit: book_demo: field `minutes`: .*90"):
            fld.approve(item.review_id, actor=ANA, edits={"minutes": "120"})
        with pytest.raises(ReviewError, match=r"`room` can't be edited on book_demo"):
            fld.approve(item.review_id, actor=ANA, edits={"room": "onsite"})
        with pytest.raises(ReviewError, match=r"`catering` can't be edited on book_demo"):
            fld.approve(item.review_id, actor=ANA, edits={"catering": "pizza"})
        assert fld.deliver().sent == 0  # nothing goes out before the answer
        answer = fld.approve(item.review_id, actor=ANA, edits={"minutes": "45"})
        assert answer.outcome == "approved"
        assert fld.deliver().sent == 1
        assert fld.deliver().sent == 0  # once
    (action,) = world.rows(store, ACT)
    assert action["status"] == "executed" and action["proposal"]["payload"]["minutes"] == 45
    decisions = world.rows(store, DEC, action_id=action["id"])
    assert [(d["verdict"], d["matched_rules"]) for d in decisions] == [
        ("review", ["long-demo"]),
        ("review", ["long-demo"]),  # the edit was decided again
    ]
    (line,) = (tmp_path / "outbox.jsonl").read_text().splitlines()
    sent = json.loads(line)
    assert sent["kind"] == "book_demo"
    assert sent["action"]["payload"] == {"minutes": 45, "room": "video"}  # "45" typed as 45
    assert sent["trace"]["rules"] == ["long-demo"] and sent["trace"]["approved_by"] == "ana"
    assert sent["trace"]["edits"] == {"minutes": 45}


def test_a_short_demo_the_pack_lets_through_is_booked_by_itself(
    store, clock, tmp_path, install, prospect
):
    install(demo_booker="DEMO_BOOKER")
    pack = load_pack(_pack_folder(tmp_path, PACK.replace("{minutes: 60}", "{minutes: 30}")))
    assert _meeting_booked(store, clock, pack) == "demo_booker"
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        assert fld.run_agents().finished == 1
        assert fld.deliver().sent == 1
    (action,) = world.rows(store, ACT)
    assert action["status"] == "executed"
    assert world.rows(store, DEC)[0]["matched_rules"] == ["short-demo"]


def test_the_pack_turns_agents_off_and_their_events_go_elsewhere(
    store, clock, tmp_path, install, prospect
):
    install(demo_booker="DEMO_BOOKER")
    off = PACK.replace(
        "  outreach: {enabled: false}     # meeting_booked on a prospect goes to the demo booker",
        "  demo_booker: {enabled: false}",
    ).replace("  demo_booker: {settings: {minutes: 60}}\n", "")
    pack = load_pack(_pack_folder(tmp_path, off))
    assert not pack.agent_enabled("demo_booker")
    # the built-in outreach agent (on again) takes the meeting; the demo booker never sees it
    assert _meeting_booked(store, clock, pack) == "outreach"
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        fld.run_agents()
    assert "book_demo" not in {a["kind"] for a in world.rows(store, ACT)}


def test_a_plug_in_agent_that_raises_escalates_with_the_reason_and_nothing_is_automated(
    store, clock, tmp_path, install, prospect
):
    install(broken_booker="BROKEN")
    pack = load_pack(_pack_folder(tmp_path, PACK))
    world.event(store, "initrode.io", "meeting_booked", "broken_booker")
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        assert fld.run_agents().paused == 1
        assert fld.deliver().sent == 0
        with store.read() as s:
            (item,) = inbox(s)
    assert item.kind == "notify" and item.verdict == "escalate" and "model-fault" in item.reason
    assert item.proposal["model_fault"] == (
        "the agent failed: RuntimeError: calendar API answered 503"
    )
    assert [a["kind"] for a in world.rows(store, ACT)] == ["notify"]  # no booking was guessed
    assert not (tmp_path / "outbox.jsonl").exists()


@pytest.mark.parametrize(
    ("agent", "attr", "refusal"),
    [
        ("webinar_booker", "WEBINAR", "it proposed unknown action kind `book_webinar`"),
        ("catering_booker", "CATERING", "it proposed book_demo: unknown field `catering`"),
    ],
)
def test_a_proposal_the_pack_does_not_declare_is_refused_naming_what(
    store, clock, tmp_path, install, prospect, agent, attr, refusal
):
    install(**{agent: attr})
    pack = load_pack(_pack_folder(tmp_path, PACK))
    world.event(store, "initrode.io", "meeting_booked", agent)
    with world.field(store, clock, tmp_path, pack=pack) as fld:
        fld.run_agents()
        assert fld.deliver().sent == 0
        with store.read() as s:
            (item,) = inbox(s)
    assert item.kind == "notify" and item.verdict == "escalate"
    assert item.proposal["model_fault"].startswith(refusal)
    assert [a["kind"] for a in world.rows(store, ACT)] == ["notify"]


def test_an_entry_point_that_is_not_an_agent_is_a_clear_error(
    store, clock, tmp_path, install, prospect
):
    install(sneaky="NOT_AN_AGENT")
    expected = (
        f"agent entry point `sneaky = {MODULE}:NOT_AN_AGENT` is a dict, "
        "not a revfield.agents.AgentSpec"
    )
    with pytest.raises(AgentError) as refused:
        discover_agents()
    assert str(refused.value) == expected
    with (
        pytest.raises(AgentError, match=r"is a dict, not a revfield\.agents\.AgentSpec"),
        world.field(store, clock, tmp_path),
    ):
        pass


def test_policy_check_reads_the_kinds_the_pack_declares(tmp_path):
    folder = _pack_folder(tmp_path, PACK)
    assert lint_pack(load_pack(folder)) == []  # rules on book_demo can match
    checked = CliRunner().invoke(app, ["policy", "check", str(folder)])
    assert checked.exit_code == 0, checked.output
    assert "ok: valid, and every rule can match and decide" in checked.output
    _pack_folder(
        tmp_path,
        PACK.replace(
            '"book_demo" && action.payload.minutes <=', '"book_dmeo" && action.payload.minutes <='
        ),
    )
    typo = CliRunner().invoke(app, ["policy", "check", str(folder)])
    assert typo.exit_code == 1
    assert "rule `short-demo`: can never match: `action.kind` is never `book_dmeo`" in " ".join(
        typo.output.split()
    )
    assert "did you mean `book_demo`?" in typo.output
