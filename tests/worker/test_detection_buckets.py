"""A worker looks for new signals with one statement per round: the buckets of accounts that
hold a signal not yet through detection above the id the worker read up to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from revfield.field import run_detection
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory import BUCKETS, bucket_expr, undetected_buckets
from revfield.memory.models import Signal, table_of
from revfield.policies import load_pack
from tests.factories import signal
from tests.policies.conftest import DEFAULT_PACK

DOMAINS = ["acme.com", "globex.io", "initech.net", "umbrella.org"]


def _buckets(store) -> dict[int, int]:
    """Each stored signal's id and its bucket, as the claims compute it."""
    signals = table_of(Signal)
    with store.read() as s:
        rows = s.execute(sa.select(signals.c.id, bucket_expr(signals.c.account_id)))
        return {int(i): int(b) for i, b in rows}


@pytest.mark.postgres
def test_only_buckets_with_new_signals_above_what_was_read_are_due(store, clock):
    if store.dialect != "postgresql":
        pytest.skip("buckets of accounts are PostgreSQL's (one worker on SQLite)")
    records = [signal(n, account_domain=d) for n, d in enumerate(DOMAINS)]
    ingest_signals([*records, signal(9, account_domain=None)], store=store, clock=clock)
    nothing_read = dict.fromkeys(range(BUCKETS), 0)
    with store.read() as s:
        assert undetected_buckets(s, nothing_read) == set(_buckets(store).values())

    run_detection(store, load_pack(DEFAULT_PACK), OfflineModel(), clock)
    with store.read() as s:
        assert undetected_buckets(s, nothing_read) == set()

    ingest_signals([signal(20, account_domain="acme.com")], store=store, clock=clock)
    newest = max(_buckets(store))
    bucket = _buckets(store)[newest]
    with store.read() as s:
        assert undetected_buckets(s, nothing_read) == {bucket}
        assert undetected_buckets(s, {**nothing_read, bucket: newest}) == set()  # read already
