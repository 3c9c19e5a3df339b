"""Round trips an agent run is spared on PostgreSQL, and that nothing else changes with them:

- a write that is a transaction by itself (a paused run's event marked ``waiting``) commits in
  one round trip (a session's transaction takes three: its BEGIN alone, the statement, its
  COMMIT), and a statement that fails takes the others of its transaction with it;
- a run is claimed and its event's standing read in one round trip, and a run someone else
  holds is left to them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from revfield.domain import EventStatus
from revfield.memory import (
    Claims,
    Store,
    event_standing,
    holding_run,
    transition,
    transition_alone,
)
from revfield.memory._lifecycle import transition_run
from revfield.memory._tables import EVENTS
from tests.agents import world


def _event(store: Store) -> int:
    world.people(store)
    world.account(store, "acme.io")
    return world.event(store, "acme.io", "intent_surge", "outreach")


def _status(store: Store, event_id: int) -> EventStatus:
    with store.read() as session:
        return event_standing(session, event_id)[0]


@contextmanager
def _traced(store: Store, tmp_path: Path) -> Iterator[list[int]]:
    """How many times the block waited for PostgreSQL on the connections it checked out: the
    server's ReadyForQuery messages in libpq's trace of each."""
    from psycopg import pq

    files: list[Any] = []

    def checkout(dbapi_conn: Any, *_: Any) -> None:
        out = (tmp_path / f"trace.{len(files)}").open("w")
        files.append(out)
        dbapi_conn.pgconn.trace(out.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def checkin(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.pgconn.untrace()

    counted: list[int] = []
    sa.event.listen(store.engine, "checkout", checkout)
    sa.event.listen(store.engine, "checkin", checkin)
    try:
        yield counted
    finally:
        sa.event.remove(store.engine, "checkout", checkout)
        sa.event.remove(store.engine, "checkin", checkin)
        for out in files:
            out.close()
    counted.append(
        sum(
            "\tReadyForQuery" in line
            for out in files
            for line in Path(out.name).read_text().splitlines()
        )
    )


def test_a_status_moved_alone_is_committed(store):
    event = _event(store)
    assert transition_alone(store, event, EventStatus.RUNNING) == 1
    assert _status(store, event) is EventStatus.RUNNING
    # a move the row's status does not allow moves nothing, as transition() does
    assert transition_alone(store, event, EventStatus.RUNNING, frm=EventStatus.PENDING) == 0
    assert _status(store, event) is EventStatus.RUNNING


def test_on_postgresql_a_status_moved_alone_is_one_round_trip(store, tmp_path):
    if store.dialect != "postgresql":
        pytest.skip("SQLite has no round trips")
    event = _event(store)
    transition_alone(store, event, EventStatus.RUNNING)  # the statement is prepared once
    with _traced(store, tmp_path) as trips:
        transition_alone(store, event, EventStatus.WAITING)
    assert trips == [1]  # before: BEGIN, the UPDATE, COMMIT
    with _traced(store, tmp_path) as trips, store.session() as session:
        transition(session, event, EventStatus.DONE)
    assert trips == [3]  # what it is spared
    assert _status(store, event) is EventStatus.DONE


def test_a_statement_that_fails_takes_the_rest_with_it(store):
    event = _event(store)
    bad = sa.insert(EVENTS).values(id=sa.bindparam("id"))  # no account: refused
    with pytest.raises(sa.exc.DBAPIError):
        store.run_alone([transition_run(event, EventStatus.RUNNING), (bad, {"id": event + 1})])
    assert _status(store, event) is EventStatus.PENDING  # the move went with the failure
    assert transition_alone(store, event, EventStatus.RUNNING) == 1  # and the next one works
    assert _status(store, event) is EventStatus.RUNNING


def test_a_run_is_claimed_with_its_event_read(store, tmp_path):
    event = _event(store)
    claims = Claims(store)
    with holding_run(claims, event) as standing:
        assert standing == (EventStatus.PENDING, "acme.io")
        with holding_run(claims, event) as again:  # the holder's own code, under the claim
            assert again == (EventStatus.PENDING, "acme.io")
    if store.dialect == "postgresql":
        other = Claims(store)  # another process
        with holding_run(other, event) as standing, holding_run(claims, event) as theirs:
            assert standing is not None and theirs is None  # busy: left to the holder
        other.close()
        with _traced(store, tmp_path) as trips, holding_run(claims, event) as standing:
            assert standing == (EventStatus.PENDING, "acme.io")
        assert trips == [2]  # the claim with the read, the release (before: 3)
    with pytest.raises(LookupError), holding_run(claims, event + 100):
        pass  # no such event
    assert claims.held() == set()  # nothing stayed claimed
    claims.close()
