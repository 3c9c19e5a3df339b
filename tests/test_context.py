"""Context assembly: one typed value with everything the memory knows about an account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revfield.domain import DealOutcome, FactType, Role
from revfield.memory import AccountNotFoundError, add_fact, find_account_id, recall
from tests.factories import T0, make_account, make_deal, make_signal, make_user


def test_context_holds_account_owner_contacts_open_deals_and_latest_signals(store, clock):
    make_user(store, "ana", Role.SELLER)
    make_account(store, "acme", domain="acme.com", owner_id="ana", segment="enterprise")
    make_deal(store, "acme", "open-1")
    make_deal(store, "acme", "won-1", outcome=DealOutcome.WON, stage="closed_won")
    for n in range(1, 8):
        make_signal(store, "acme", n)
    make_account(store, "other")
    make_signal(store, "other", 99)
    with store.read() as s:
        ctx = recall(s, "acme", signals=5)
    assert ctx.account.owner is not None and ctx.account.owner.name == "Ana"
    assert [d.id for d in ctx.open_deals] == ["open-1"]
    assert [d.id for d in ctx.closed_deals] == ["won-1"]
    assert ctx.signal_count == 7
    assert [s.external_id for s in ctx.signals] == ["t-7", "t-6", "t-5", "t-4", "t-3"]


def test_facts_are_current_only_grouped_by_type_with_their_source_signal(store, clock):
    make_account(store, "acme")
    old = make_signal(store, "acme", 1, kind="call_transcript")
    new = make_signal(store, "acme", 2, kind="email_replied")
    with store.session() as s:
        add_fact(
            s,
            account_id="acme",
            type=FactType.CHAMPION,
            subject="champion",
            value="Jo Hart",
            source_signal_id=old,
            confidence=0.8,
            observed_at=T0,
            now=T0,
        )
        add_fact(
            s,
            account_id="acme",
            type=FactType.CHAMPION,
            subject="champion",
            value="Sam Ortiz",
            source_signal_id=new,
            confidence=0.9,
            observed_at=T0 + timedelta(days=3),
            now=T0,
        )
        add_fact(
            s,
            account_id="acme",
            type=FactType.PAIN,
            value="forecast misses by 20%",
            span="misses by 20%",
            source_signal_id=old,
            confidence=0.7,
            observed_at=T0,
            now=T0,
        )
    with store.read() as s:
        ctx = recall(s, "acme")
    assert [f.value for f in ctx.facts[FactType.CHAMPION]] == ["Sam Ortiz"]
    champion = ctx.facts[FactType.CHAMPION][0]
    assert (champion.source_signal_id, champion.source_signal_kind.value) == (new, "email_replied")
    assert ctx.facts[FactType.PAIN][0].span == "misses by 20%"
    assert ctx.fact_count() == 2


def test_an_unknown_account_is_a_clear_error(store):
    make_account(store, "acme-corp", name="Acme Corporation")
    with store.read() as s, pytest.raises(AccountNotFoundError, match="did you mean `acme-corp`"):
        find_account_id(s, "acme")
    with store.read() as s, pytest.raises(AccountNotFoundError):
        recall(s, "nope")


def test_accounts_are_found_by_id_domain_or_name(store):
    make_account(store, "maven-acme", name="Acme Corporation", domain="acme.com")
    with store.read() as s:
        assert find_account_id(s, "maven-acme") == "maven-acme"
        assert find_account_id(s, "ACME.com") == "maven-acme"
        assert find_account_id(s, "acme corporation") == "maven-acme"


def test_context_serialises_to_json(store):
    make_account(store, "acme")
    make_signal(store, "acme", 1, payload={"n": 1})
    with store.read() as s:
        text = recall(s, "acme").model_dump_json()
    assert '"signal_count":1' in text and '"payload":{"n":1}' in text
