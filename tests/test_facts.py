"""Facts are superseded, never deleted; a late-arriving older fact does not win."""

from __future__ import annotations

from datetime import timedelta

import pytest

from revfield.domain import FactType
from revfield.memory import add_fact, fact_history
from tests.factories import T0, make_account, make_signal


def _fact(s, sig, value, days, subject="budget"):
    return add_fact(
        s,
        account_id="acme",
        type=FactType.RISK,
        subject=subject,
        value=value,
        source_signal_id=sig,
        confidence=0.8,
        observed_at=T0 + timedelta(days=days),
        now=T0,
    )


def test_a_newer_fact_on_the_same_subject_supersedes_and_keeps_history(store):
    make_account(store, "acme")
    sig = make_signal(store, "acme")
    with store.session() as s:
        first = _fact(s, sig, "budget frozen", 0)
        second = _fact(s, sig, "budget approved", 5)
    with store.read() as s:
        history = fact_history(s, "acme", FactType.RISK, "budget")
    assert [f.value for f in history] == ["budget frozen", "budget approved"]
    assert history[0].superseded_by == second.id and history[1].superseded_by is None
    assert first.id != second.id


def test_a_late_arriving_older_fact_is_stored_already_superseded(store):
    make_account(store, "acme")
    sig = make_signal(store, "acme")
    with store.session() as s:
        newest = _fact(s, sig, "budget approved", 5)
        late = _fact(s, sig, "budget frozen", 1)
    assert late.superseded_by == newest.id
    with store.read() as s:
        current = [
            f.value
            for f in fact_history(s, "acme", FactType.RISK, "budget")
            if f.superseded_by is None
        ]
    assert current == ["budget approved"]


def test_facts_without_a_subject_accumulate(store):
    make_account(store, "acme")
    sig = make_signal(store, "acme")
    with store.session() as s:
        a = add_fact(
            s,
            account_id="acme",
            type=FactType.PAIN,
            value="slow exports",
            source_signal_id=sig,
            confidence=0.6,
            observed_at=T0,
            now=T0,
        )
        b = add_fact(
            s,
            account_id="acme",
            type=FactType.PAIN,
            value="no SSO",
            source_signal_id=sig,
            confidence=0.6,
            observed_at=T0,
            now=T0,
        )
    assert a.superseded_by is None and b.superseded_by is None


def test_confidence_outside_zero_to_one_is_refused(store):
    make_account(store, "acme")
    sig = make_signal(store, "acme")
    with store.session() as s, pytest.raises(ValueError, match="confidence"):
        add_fact(
            s,
            account_id="acme",
            type=FactType.PAIN,
            value="x",
            source_signal_id=sig,
            confidence=1.5,
            observed_at=T0,
            now=T0,
        )
