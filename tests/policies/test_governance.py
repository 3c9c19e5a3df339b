"""Governance deviations computed from memory, and ICP adherence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revfield.domain import FactType, Role
from revfield.memory import add_fact
from revfield.policies import load_pack
from revfield.policies._governance import governance_report
from tests.factories import T0, make_account, make_deal, make_signal, make_user
from tests.policies.conftest import DEFAULT_PACK

PACK = load_pack(DEFAULT_PACK)


def report(store, as_of=T0):
    with store.read() as s:
        return governance_report(s, PACK, as_of)


def rules_for(rep, deal_id):
    return {d.rule for d in rep.deviations if d.deal_id == deal_id}


@pytest.fixture
def team(store):
    from revfield.memory.models import Team

    with store.session() as s:
        s.add(Team(id="east", name="East", created_at=T0))
    make_user(store, "ana", Role.SELLER, team_id="east")


def test_a_deal_past_its_segments_corridor_is_a_deviation_with_owner_team_and_age(store, team):
    make_account(store, "a", segment="smb", employees=50, industry="software")
    make_deal(
        store, "a", "old", owner_id="ana", stage="prospecting", created_at=T0 - timedelta(days=50)
    )
    make_deal(
        store, "a", "young", owner_id="ana", stage="prospecting", created_at=T0 - timedelta(days=10)
    )
    rep = report(store)
    (dev,) = [d for d in rep.deviations if d.rule == "cycle-corridor"]
    assert (dev.deal_id, dev.owner_id, dev.team_id, dev.age_days) == ("old", "ana", "east", 50)
    assert "corridor for smb is 45 days" in dev.detail


def test_no_contact_in_n_days(store):
    make_account(store, "a", segment="smb", employees=50, industry="software")
    make_deal(store, "a", "quiet", stage="prospecting", created_at=T0 - timedelta(days=30))
    make_account(store, "b", segment="smb", employees=50, industry="software")
    make_deal(store, "b", "busy", stage="prospecting", created_at=T0 - timedelta(days=30))
    make_signal(store, "b", 1, kind="email_replied", occurred_at=T0 - timedelta(days=3))
    make_signal(store, "a", 2, kind="email_replied", occurred_at=T0 - timedelta(days=20))
    rep = report(store)
    assert "no-contact" in rules_for(rep, "quiet") and "no-contact" not in rules_for(rep, "busy")
    (dev,) = [d for d in rep.deviations if d.rule == "no-contact"]
    assert dev.age_days == 20 and "last contact 20 days ago" in dev.detail


def test_a_stage_reached_without_its_exit_criteria(store):
    make_account(store, "a", segment="smb", employees=50, industry="software")
    make_deal(store, "a", "skipped", stage="evaluation", created_at=T0 - timedelta(days=5))
    sig = make_signal(store, "a", 1, kind="call_transcript")
    with store.session() as s:
        add_fact(
            s,
            account_id="a",
            type=FactType.PAIN,
            value="forecast misses",
            source_signal_id=sig,
            confidence=0.8,
            observed_at=T0,
            now=T0,
        )
    (dev,) = [d for d in report(store).deviations if d.rule == "exit-criteria"]
    assert "in `evaluation` without engaging.champion_identified" in dev.detail
    assert "prospecting.pain_identified" not in dev.detail


def test_outside_the_icp_and_adherence(store):
    make_account(store, "fit", segment="mid_market", employees=300, industry="software")
    make_account(store, "tiny", segment="smb", employees=5, industry="software")
    make_account(store, "other", segment="smb", employees=80, industry="mining")
    for acc in ("fit", "tiny", "other"):
        make_deal(store, acc, f"d-{acc}", stage="prospecting", created_at=T0 - timedelta(days=1))
    make_deal(
        store, "tiny", "won", stage="closed_won", outcome="won", created_at=T0 - timedelta(days=1)
    )
    rep = report(store)
    outside = {d.deal_id: d.detail for d in rep.deviations if d.rule == "outside-icp"}
    assert outside == {
        "d-tiny": "account misses ICP criteria: size",
        "d-other": "account misses ICP criteria: industry",
    }
    assert rep.open_deals == 3 and rep.icp_fit_deals == 1
    assert rep.icp_adherence == pytest.approx(1 / 3)


def test_deals_opened_after_the_as_of_date_are_not_judged(store):
    make_account(store, "a", segment="smb", employees=50, industry="software")
    make_deal(store, "a", "future", stage="prospecting", created_at=T0 + timedelta(days=2))
    assert report(store).open_deals == 0


@pytest.mark.shared_data
def test_governance_on_the_maven_import(store, clock, shared_data):
    from datetime import UTC, datetime

    from revfield.ingest._importers import run_import

    run_import("maven", store, shared_data / "maven-crm-sales-opportunities", clock=clock)
    rep = report(store, datetime(2017, 12, 31, tzinfo=UTC))
    counts = rep.by_rule()
    assert rep.open_deals > 400
    assert counts["cycle-corridor"] > 0 and counts["exit-criteria"] > 0
    assert 0.5 < rep.icp_adherence < 1.0
    assert all(d.owner_id and d.team_id for d in rep.deviations)
