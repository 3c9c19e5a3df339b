"""What the field's checkpointer holds is saved: when a run returns, and, for a graph invoked
directly, when the field closes — never left only in the process. On PostgreSQL what is held
is saved in one transaction sent in one round trip, and a save that fails leaves nothing of
itself behind and the connection ready for the next."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from revfield.domain import FactType
from tests.agents import world


def _prospect(store) -> int:
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    world.fact(store, "acme.io", FactType.PAIN, "We struggle to get one forecast the board trusts")
    return world.event(store, "acme.io", "intent_surge", "outreach", contact_id=pat)


def test_a_run_is_saved_when_it_returns(store, clock, tmp_path):
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.run_event(event, "outreach") == "done"
        saved = fld.saver.inner.get_tuple(fld._config("outreach", event))
        assert saved is not None and saved.checkpoint["channel_values"].get("done") is True


def test_a_graph_invoked_directly_is_saved_when_the_field_closes(store, clock, tmp_path):
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        config = fld._config("outreach", event)
        fld.graphs["outreach"].invoke({"event_id": event}, config)
        saved = fld.saver.inner.get_tuple(config)
        assert saved is None or not saved.checkpoint["channel_values"].get("done")  # held
        fld.close()
        saved = fld.saver.inner.get_tuple(config)
        assert saved is not None and saved.checkpoint["channel_values"].get("done") is True


def _round_trips(conn: Any, tmp_path: Path, work: Callable[[], object]) -> int:
    """How many times ``work`` waited for PostgreSQL: the server's ReadyForQuery messages (one
    per pipeline sync or plain query), from libpq's trace of the connection."""
    from psycopg import pq

    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            work()
        finally:
            conn.pgconn.untrace()
    return sum("\tReadyForQuery" in line for line in trace.read_text().splitlines())


def test_on_postgresql_what_is_held_is_saved_in_one_round_trip(store, clock, tmp_path):
    if store.dialect != "postgresql":
        pytest.skip("SQLite's saver commits each call on a file: there are no round trips")
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        config = fld._config("outreach", event)
        fld.graphs["outreach"].invoke({"event_id": event}, config)  # the last step is held
        assert fld.saver is not None
        # before: the BEGIN, one round trip per row written, and the COMMIT (4 here)
        assert _round_trips(fld.saver.inner.conn, tmp_path, fld.saver.flush) == 1
        saved = fld.saver.inner.get_tuple(config)
        assert saved is not None and saved.checkpoint["channel_values"].get("done") is True


def test_on_postgresql_a_save_that_fails_leaves_nothing_and_the_next_one_works(
    store, clock, tmp_path
):
    if store.dialect != "postgresql":
        pytest.skip("a PostgreSQL transaction")
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.saver is not None
        config = fld._config("outreach", event)
        fld.graphs["outreach"].invoke({"event_id": event}, config)
        before = fld.saver.inner.get_tuple(config)  # saved before deciding: the draft
        assert before is not None and not before.checkpoint["channel_values"].get("done")
        # held after the last step: a write PostgreSQL refuses (text can't hold a NUL)
        fld.saver.put_writes(dict(before.config), [("answers", {"1": "approved"})], "bad\x00task")
        with pytest.raises(Exception, match="0x00"):
            fld.saver.flush()
        still = fld.saver.inner.get_tuple(config)  # the last step went with the bad write
        assert still is not None and still.checkpoint["id"] == before.checkpoint["id"]
        fld.saver.put_writes(dict(before.config), [("answers", {"1": "approved"})], "task")
        fld.saver.flush()  # the connection is out of the failed transaction and its pipeline
        after = fld.saver.inner.get_tuple(config)
        assert after is not None and ("task", "answers", {"1": "approved"}) in after.pending_writes


def test_a_run_reads_its_checkpoint_once(store, clock, tmp_path, monkeypatch):
    """Whether a new run was taken up before is the graph's own first read: asked once."""
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.saver is not None
        inner = fld.saver.inner
        reads: list[object] = []
        real = inner.get_tuple
        monkeypatch.setattr(inner, "get_tuple", lambda config: reads.append(config) or real(config))
        assert fld.run_event(event, "outreach") == "done"
        assert len(reads) == 1  # before: the field's question, then the graph's
        assert fld.saver.get_tuple(fld._config("outreach", event)) is not None
        assert len(reads) == 2  # out of the run, every read asks


def test_a_read_ahead_is_not_served_after_the_thread_saved_something(store, clock, tmp_path):
    event = _prospect(store)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.saver is not None
        config = fld._config("outreach", event)
        with fld.saver.read_ahead(config) as found:
            assert found is None
            fld.graphs["outreach"].invoke({"event_id": event}, config)  # reads it: None
            again = fld.saver.get_tuple(config)  # saved since: read from the database
            assert again is not None and again.checkpoint["channel_values"].get("done") is True
