"""A run paused for a person survives its process: SIGKILL the process while it waits, start
another, approve — the run resumes from its checkpoint and the action executes once.
On SQLite here, and on PostgreSQL in CI (the ``store`` fixture runs both)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.domain import FactType
from revfield.memory.models import ActionRecord, FieldEvent, OutboxItem, table_of
from revfield.outbox import LogExecutor
from revfield.review import Actor
from revfield.testing import ScriptedModel
from tests.agents import world

ROOT = Path(__file__).resolve().parents[2]
WORKER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from revfield.field._checkpoints import open_checkpointer
    from revfield.field._field import Field
    from revfield.clock import ManualClock
    from revfield.llm import OfflineModel
    from revfield.memory import Store
    from revfield.memory.models import Review
    from revfield.outbox import LogExecutor
    from revfield.policies import load_pack
    from tests.factories import T0
    import sqlalchemy as sa

    store = Store.from_url(sys.argv[1])
    with open_checkpointer(store) as saver:
        field = Field(store, load_pack(sys.argv[3]), OfflineModel(), ManualClock(T0), saver,
                      executor=LogExecutor(path=Path(sys.argv[2])))
        report = field.run_agents()
        field.deliver()
        with store.read() as s:
            pending = s.execute(
                sa.select(Review.__table__.c.id).where(Review.__table__.c.status == "pending")
            ).scalars().all()
        print(json.dumps({"paused": report.paused, "reviews": list(pending)}), flush=True)
        sys.stdin.read()  # wait, paused, until killed
""")


def test_a_paused_run_survives_sigkill_and_resumes_in_a_new_process(store, db_url, clock, tmp_path):
    world.people(store)
    world.account(store, "globex.com", segment="enterprise", employees=5000)
    pat = world.contact(store, "globex.com")
    world.fact(store, "globex.com", FactType.PAIN, "Our reps update the CRM manually every Friday")
    world.event(store, "globex.com", "intent_surge", "outreach", contact_id=pat)
    log = tmp_path / "outbox.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, db_url, str(log), str(world.POLICIES)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        state = json.loads(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    assert proc.returncode == -signal.SIGKILL
    assert state["paused"] == 1 and len(state["reviews"]) == 1
    assert not log.exists()  # nothing went out: the automatic follow-up waits for the email

    model = ScriptedModel()  # the new process: a model that counts its calls
    with world.field(store, clock, tmp_path, model=model, executor=LogExecutor(path=log)) as fld:
        result = fld.approve(state["reviews"][0], actor=Actor("ana", "seller", "team-a"))
        assert result.outcome == "approved"
        assert fld.deliver().sent == 2
        assert fld.deliver().sent == 0
        assert fld.run_agents().runs == 0
    assert model.calls == []  # resumed from the checkpoint: the agent did not draft again
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["send_email", "schedule_followup"]  # each once, in order
    with store.read() as s:
        assert s.execute(sa.select(table_of(FieldEvent).c.status)).scalar_one() == "done"
        assert (
            s.execute(sa.select(sa.func.count()).select_from(table_of(OutboxItem))).scalar_one()
            == 2
        )
        email = (
            s.execute(
                sa.select(table_of(ActionRecord)).where(
                    table_of(ActionRecord).c.kind == "send_email"
                )
            )
            .mappings()
            .one()
        )
    assert email["status"] == "executed"


CUT_OFF = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import revfield.field._graph as graph
    from revfield.field._checkpoints import open_checkpointer
    from revfield.field._field import Field
    from revfield.clock import ManualClock
    from revfield.llm import OfflineModel
    from revfield.memory import Store
    from revfield.outbox import LogExecutor
    from revfield.policies import load_pack
    from tests.factories import T0

    real, when = graph.record_proposals, sys.argv[4]

    def cut_off(*args, **kwargs):
        if when == "before":  # drafted; nothing decided yet
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(*args, **kwargs)
        args[0].commit()  # the decision is in memory; the run's checkpoint after it is not
        os.kill(os.getpid(), signal.SIGKILL)
        return out

    graph.record_proposals = cut_off
    store = Store.from_url(sys.argv[1])
    with open_checkpointer(store) as saver:
        field = Field(store, load_pack(sys.argv[3]), OfflineModel(), ManualClock(T0), saver,
                      executor=LogExecutor(path=Path(sys.argv[2])))
        field.run_agents()
""")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_run_killed_after_drafting_goes_on_without_drafting_again(
    store, db_url, clock, tmp_path, when
):
    """SIGKILL right after the agent drafted (before, or just after, its proposals were decided
    and recorded): the next process goes on from the draft — the model is not called again —
    and nothing is decided, recorded or executed twice."""
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    log = tmp_path / "outbox.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", CUT_OFF, db_url, str(log), str(world.POLICIES), when],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with store.read() as s:
        status = s.execute(sa.select(table_of(FieldEvent).c.status)).scalar_one()
        # decided and recorded: the event is closed with the decision, whatever the checkpoint
        assert status == ("pending" if when == "before" else "done")
        recorded = s.execute(sa.select(sa.func.count()).select_from(table_of(ActionRecord)))
        assert recorded.scalar_one() == (0 if when == "before" else 2)

    model = ScriptedModel()  # the next process: a model that counts its calls
    with world.field(store, clock, tmp_path, model=model, executor=LogExecutor(path=log)) as fld:
        report = fld.run_agents()
        assert (report.runs, report.finished) == ((1, 1) if when == "before" else (0, 0))
        assert fld.deliver().sent == 2
    assert model.calls == []  # went on from the draft
    with store.read() as s:
        kinds = s.execute(sa.select(table_of(ActionRecord).c.kind)).scalars().all()
        assert sorted(kinds) == ["schedule_followup", "send_email"]  # each once
        assert s.execute(sa.select(table_of(FieldEvent).c.status)).scalar_one() == "done"
    assert len(log.read_text().splitlines()) == 2


def test_a_run_an_earlier_revfield_took_up_before_drafting_drafts_from_the_event_alone(
    store, clock, tmp_path
):
    """An earlier revfield started runs with the event's id alone (no account id beside it):
    a run it checkpointed before drafting drafts from the event's own account when taken
    up."""
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    event_id = world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    model = ScriptedModel()
    with world.field(store, clock, tmp_path, model=model) as fld:
        config = {"configurable": {"thread_id": f"outreach:{event_id}"}}
        fld.graphs["outreach"].invoke({"event_id": event_id}, config, interrupt_before=["propose"])
        fld.saver.flush()
        assert fld.graphs["outreach"].get_state(config).next == ("propose",)
        report = fld.run_agents()
        assert (report.runs, report.finished) == (1, 1)
    assert len(model.calls) == 1  # drafted once, for acme.io
    with store.read() as s:
        actions = s.execute(
            sa.select(table_of(ActionRecord).c.kind, table_of(ActionRecord).c.account_id)
        )
        assert sorted(actions) == [("schedule_followup", "acme.io"), ("send_email", "acme.io")]


def test_a_blocked_email_takes_its_follow_up_along_and_the_run_ends(store, clock, tmp_path):
    """A pack that blocks emails to a contact who opted out (and nothing else of theirs): the
    email is blocked, the follow-up the policy let through, which waits for it, is cancelled
    in the same run with its outbox item, and the event is done."""
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io", do_not_contact=True)
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)
    emails_only = world.pack_with(
        tmp_path,
        "default.yaml",
        "when: contact.do_not_contact\n",
        'when: contact.do_not_contact && action.kind == "send_email"\n',
    )
    with world.field(store, clock, tmp_path, pack=emails_only) as fld:
        report = fld.run_agents()
        assert (report.runs, report.finished, report.paused) == (1, 1, 0)
        assert fld.deliver().sent == 0
    status = {r["kind"]: r["status"] for r in world.rows(store, table_of(ActionRecord))}
    assert status == {"send_email": "blocked", "schedule_followup": "cancelled"}
    assert [r["status"] for r in world.rows(store, table_of(OutboxItem))] == ["cancelled"]
    assert [r["status"] for r in world.rows(store, table_of(FieldEvent))] == ["done"]
