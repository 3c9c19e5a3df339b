"""A churn risk has a lifecycle a CSM would expect: churn signals open one risk per account
(later ones attach to it), one save play works it off, the risk is addressed when the save play
goes out, resolved by a person with a reason or by recovery signals — and then expansion is
proposed again, still decided by the policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from revfield.cli import app
from revfield.domain import RiskStatus
from revfield.field import run_detection
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory import list_risks, recall
from revfield.review import LOCAL_ADMIN, Actor, ReviewError, inbox, resolve_churn_risk
from tests.agents import world
from tests.factories import T0


def _signals(store, clock, *records):
    ingest_signals(list(records), store=store, clock=clock)


def _signal(n, kind, days_ago, **extra):
    return {
        "source": "product",
        "external_id": f"{kind}-{n}",
        "kind": kind,
        "occurred_at": (T0 - timedelta(days=days_ago)).isoformat(),
        "account_id": "initech.com",
        **extra,
    }


def _tickets_and_a_detractor():
    return [
        *[_signal(n, "support_ticket", 3 - n, payload={"priority": "high"}) for n in range(3)],
        _signal(9, "nps_response", 1, contact_email="pat@initech.com", payload={"score": 3}),
    ]


@pytest.fixture
def at_risk(store, clock):
    """A customer with three tickets in three days and a detractor's NPS: one open risk."""
    world.people(store)
    world.account(store, "initech.com", state="customer", plan="Pro", mrr=2000.0)
    world.contact(store, "initech.com")
    _signals(store, clock, *_tickets_and_a_detractor())
    run_detection(store, world.PACK, OfflineModel(), clock)
    return store


def _risks(store):
    with store.read() as s:
        return list_risks(s, account_id="initech.com")


def _kinds(store):
    with store.read() as s:
        return [a["kind"] for a in recall(s, "initech.com", actions=50).actions][::-1]


def test_churn_signals_open_one_risk_and_later_ones_attach(at_risk):
    (risk,) = _risks(at_risk)
    assert risk.status is RiskStatus.OPEN and len(risk.fact_ids) == 2  # tickets + detractor


def test_one_save_play_per_risk_later_signals_join_it_and_growth_waits(at_risk, clock, tmp_path):
    with world.field(at_risk, clock, tmp_path) as fld:
        fld.run_agents()
        _signals(
            at_risk,
            clock,
            _signal(1, "seat_change", 0, payload={"seats": 40, "previous_seats": 20}),
        )
        run_detection(at_risk, world.PACK, fld.model, clock)
        fld.run_agents()
    kinds = _kinds(at_risk)
    assert kinds.count("save_play") == 1  # the ticket cluster's; the detractor joined it
    assert "create_expansion_opportunity" not in kinds  # growth waits for the save play
    (risk,) = _risks(at_risk)
    assert risk.save_play_action_id is not None and risk.save_play_live


def test_the_save_play_going_out_addresses_the_risk_and_growth_is_proposed_again(
    at_risk, clock, tmp_path
):
    with world.field(at_risk, clock, tmp_path) as fld:
        fld.run_agents()
        with at_risk.read() as s:
            play = next(i for i in inbox(s) if i.kind == "save_play")
        fld.approve(play.review_id, actor=LOCAL_ADMIN)
        fld.deliver()
        (risk,) = _risks(at_risk)
        assert risk.status is RiskStatus.ADDRESSED and risk.addressed_at is not None
        clock.advance(timedelta(days=1))
        _signals(
            at_risk,
            clock,
            _signal(2, "seat_change", 0, payload={"seats": 40, "previous_seats": 20}),
        )
        run_detection(at_risk, world.PACK, fld.model, clock)
        fld.run_agents()
        with at_risk.read() as s:
            items = inbox(s)
    expansion = [i for i in items if i.kind == "create_expansion_opportunity"]
    assert expansion and "retention-first" not in expansion[0].reason  # the owner confirms it


def test_approving_the_save_play_lifts_retention_first_before_it_goes_out(at_risk, clock, tmp_path):
    with world.field(at_risk, clock, tmp_path) as fld:  # nothing is delivered: not executed
        fld.run_agents()
        with at_risk.read() as s:
            play = next(i for i in inbox(s) if i.kind == "save_play")
        fld.approve(play.review_id, actor=LOCAL_ADMIN)
        (risk,) = _risks(at_risk)
        assert risk.status is RiskStatus.OPEN and risk.save_play_answered
        _signals(
            at_risk,
            clock,
            _signal(3, "seat_change", 0, payload={"seats": 40, "previous_seats": 20}),
        )
        run_detection(at_risk, world.PACK, fld.model, clock)
        fld.run_agents()
    assert "create_expansion_opportunity" in _kinds(at_risk)


def test_a_person_resolves_a_risk_with_a_reason_and_only_for_their_accounts(at_risk, clock):
    (risk,) = _risks(at_risk)
    with at_risk.session() as s, pytest.raises(ReviewError, match="with a reason"):
        resolve_churn_risk(s, risk.id, actor=LOCAL_ADMIN, reason="  ", now=clock.now())
    with at_risk.session() as s, pytest.raises(ReviewError, match="may not resolve"):
        resolve_churn_risk(
            s, risk.id, actor=Actor("bo", "seller", "team-b"), reason="x", now=clock.now()
        )
    with at_risk.session() as s:
        done = resolve_churn_risk(
            s, risk.id, actor=Actor("ana", "seller", "team-a"), reason="sync fixed", now=clock.now()
        )
    assert (done.status, done.resolved_by, done.resolution) == (
        RiskStatus.RESOLVED,
        "ana",
        "sync fixed",
    )
    with at_risk.session() as s, pytest.raises(ReviewError, match="already resolved by ana"):
        resolve_churn_risk(s, risk.id, actor=LOCAL_ADMIN, reason="again", now=clock.now())


def test_a_promoters_nps_resolves_the_risk_by_itself(at_risk, clock):
    clock.advance(timedelta(days=2))
    _signals(
        at_risk,
        clock,
        _signal(10, "nps_response", 0, contact_email="pat@initech.com", payload={"score": 10}),
    )
    report = run_detection(at_risk, world.PACK, OfflineModel(), clock)
    (risk,) = _risks(at_risk)
    assert risk.status is RiskStatus.RESOLVED and risk.resolved_by == "detection"
    assert risk.resolution == "NPS 10 (promoter)" and report.effects["risk_recovered"] == 1


def test_new_trouble_after_the_risk_was_worked_off_opens_a_new_risk(at_risk, clock):
    (first,) = _risks(at_risk)
    with at_risk.session() as s:
        resolve_churn_risk(s, first.id, actor=LOCAL_ADMIN, reason="fixed", now=clock.now())
    clock.advance(timedelta(days=20))
    _signals(at_risk, clock, _signal(11, "cancellation", 0, payload={"reason": "budget"}))
    run_detection(at_risk, world.PACK, OfflineModel(), clock)
    newest, older = _risks(at_risk)
    assert (newest.status, older.status) == (RiskStatus.OPEN, RiskStatus.RESOLVED)
    assert newest.id != older.id


def test_a_prospect_has_no_churn_risk(store, clock):
    world.people(store)
    world.account(store, "initech.com", state="prospect")
    _signals(store, clock, *_tickets_and_a_detractor())
    run_detection(store, world.PACK, OfflineModel(), clock)
    assert _risks(store) == []


def test_a_person_lists_and_resolves_risks_from_the_command_line(at_risk, db_url):
    def cli(*args: str):
        return CliRunner().invoke(app, ["--db", db_url, *args], catch_exceptions=False)

    (risk,) = _risks(at_risk)
    listed = cli("risk", "list", "--account", "initech.com")
    assert listed.exit_code == 0 and f"{risk.id}" in listed.output and "open" in listed.output
    refused = cli("risk", "resolve", str(risk.id), "--reason", "renewed", "--as", "bo")
    assert refused.exit_code == 1 and "may not resolve" in refused.output
    done = cli("risk", "resolve", str(risk.id), "--reason", "renewed for two years", "--as", "ana")
    assert done.exit_code == 0, done.output
    assert "resolved by ana — renewed for two years" in " ".join(done.output.split())
    assert [r.status for r in _risks(at_risk)] == [RiskStatus.RESOLVED]
    assert "no churn risks open" in cli("risk", "list", "--status", "open").output
    unknown = cli("risk", "resolve", "999", "--reason", "x")
    assert unknown.exit_code == 1 and "no churn risk #999" in unknown.output
