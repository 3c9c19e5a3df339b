"""Deciding for an account is serial, across processes: two workers deciding for the same
contact at the same moment can never both pass a fatigue cap, and two deciding for different
accounts can never both spend a motion's last automated action of the day. Each test makes
the two decisions meet (both read their counters before either writes); the control tests
show that without the account lock, or without the budget's counter, they do both pass."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revfield.field import Field
from revfield.memory import ClaimKind, Claims, Store, cut_off_lost_workers, register_worker
from revfield.memory.models import DecisionRecord, table_of
from tests.agents import world

DEC = table_of(DecisionRecord)
MEET = 2.0
"""Seconds a decision waits for the other to meet it (it never comes when the lock holds)."""


def _email(n: int) -> dict[str, Any]:
    return {"kind": "send_email", "subject": f"Following up {n}", "body": "A short note."}


class Meeting:
    """Once armed, every decision that has read its counters waits (up to MEET seconds) for
    a second decision to have read its own: without a lock, both read the same counts."""

    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None

    def arm(self) -> None:
        self.barrier = threading.Barrier(2, timeout=MEET)

    def wait(self) -> None:
        if self.barrier is None:
            return
        # broken: the other decision waits on the lock, and reads after this one commits
        with suppress(threading.BrokenBarrierError):
            self.barrier.wait()


MEETING = Meeting()


@pytest.fixture
def meeting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Meeting]:
    import revfield.policies._spend as spend

    original = spend.build_context

    def build_context(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)
        MEETING.wait()
        return context

    monkeypatch.setattr(spend, "build_context", build_context)
    yield MEETING
    MEETING.barrier = None


def _fields(store: Store, clock: Any, tmp_path: Any, pack: Any, n: int) -> Iterator[list[Field]]:
    with ExitStack() as stack:
        fields = []
        for i in range(n):
            folder = tmp_path / f"w{i}"
            folder.mkdir()
            fld = stack.enter_context(world.field(store, clock, folder, pack=pack))
            stack.callback(fld.close)
            fields.append(fld)
        yield fields


def _at_once(*calls: Any) -> list[Any]:
    """Run the calls in threads of their own (two workers), all started together."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # shown by the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _fatigue_race(store: Store, clock: Any, tmp_path: Any) -> list[str]:
    """Pat was emailed twice (the cap is 3 in 7 days); two workers each send one more. (No
    motion budgets in this pack: only the account's lock keeps the decisions apart.)"""
    pack = world.pack_with(
        tmp_path,
        "guardrails.yaml",
        "    acquisition: {max_auto_per_day: 200}\n"
        "    retention_expansion: {max_auto_per_day: 100}",
        "    {}",
    )
    world.people(store)
    world.account(store, "acme.io")
    pat = world.contact(store, "acme.io")
    gen = _fields(store, clock, tmp_path, pack, 2)
    a, b = next(gen)
    try:
        for n in range(2):
            assert a.submit(_email(n), account="acme.io", contact=pat).verdict == "auto"
        MEETING.arm()
        results = _at_once(
            lambda: a.submit(_email(10), account="acme.io", contact=pat),
            lambda: b.submit(_email(11), account="acme.io", contact=pat),
        )
    finally:
        gen.close()
    return [r.verdict if not isinstance(r, Exception) else repr(r) for r in results]


def test_two_workers_never_both_pass_a_fatigue_cap(store, clock, tmp_path, meeting):
    verdicts = _fatigue_race(store, clock, tmp_path)
    assert sorted(verdicts) == ["auto", "review"], verdicts
    with store.read() as s:
        autos = s.execute(
            sa.select(sa.func.count()).select_from(DEC).where(DEC.c.verdict == "auto")
        ).scalar_one()
    assert autos == 3  # the cap: three touches in the window, the fourth waits for ana


@pytest.mark.postgres
def test_without_the_account_lock_both_would_pass(store, clock, tmp_path, meeting, monkeypatch):
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two decisions can't meet")
    import revfield.memory._events as events

    # the run's event is still locked; its account is not
    monkeypatch.setattr(events, "_LOCK_ACCOUNT", sa.select(sa.literal(1)))
    assert _fatigue_race(store, clock, tmp_path) == ["auto", "auto"]


@pytest.mark.postgres
def test_a_run_deciding_holds_the_same_account_lock_an_answer_takes(store, clock, tmp_path):
    """A run's decisions (which lock their event and its account in one round trip) and an
    answer's re-decision (``lock_account``) wait for each other."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    from revfield.memory import lock_account, lock_event
    from revfield.memory.models import FieldEvent

    world.people(store)
    for domain in ("acme.io", "globex.io"):
        world.account(store, domain)
    pat = world.contact(store, "acme.io")
    with world.field(store, clock, tmp_path) as fld:
        fld.submit(_email(1), account="acme.io", contact=pat)
        fld.close()
    events = table_of(FieldEvent)
    with store.read() as s:
        event_id = s.execute(sa.select(sa.func.max(events.c.id))).scalar_one()
    with store.session() as run:
        event, _ = lock_event(run, event_id)
        assert event.account_id == "acme.io"
        with store.session() as answer:
            answer.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
            lock_account(answer, "globex.io")  # another account: free
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                lock_account(answer, "acme.io")


def _budget_race(store: Store, clock: Any, tmp_path: Any) -> list[str]:
    """One automated acquisition action a day; two workers each decide one, for two
    different accounts (their account locks don't meet)."""
    pack = world.pack_with(
        tmp_path,
        "guardrails.yaml",
        "acquisition: {max_auto_per_day: 200}",
        "acquisition: {max_auto_per_day: 1}",
    )
    world.people(store)
    contacts = {}
    for domain in ("acme.io", "globex.io"):
        world.account(store, domain)
        contacts[domain] = world.contact(store, domain)
    gen = _fields(store, clock, tmp_path, pack, 2)
    a, b = next(gen)
    try:
        MEETING.arm()
        results = _at_once(
            lambda: a.submit(_email(1), account="acme.io", contact=contacts["acme.io"]),
            lambda: b.submit(_email(2), account="globex.io", contact=contacts["globex.io"]),
        )
    finally:
        gen.close()
    return [r.verdict if not isinstance(r, Exception) else repr(r) for r in results]


def test_two_workers_never_both_spend_the_last_of_a_motion_budget(store, clock, tmp_path, meeting):
    assert sorted(_budget_race(store, clock, tmp_path)) == ["auto", "review"]


@pytest.mark.postgres
def test_without_the_budget_counter_both_would_spend_it(
    store, clock, tmp_path, meeting, monkeypatch
):
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two decisions can't meet")
    import revfield.policies._spend as spend
    from revfield.memory import budget_spent

    # a budget read, not taken: both decisions see the slot free
    monkeypatch.setattr(
        spend,
        "reserve_budget",
        lambda s, motion, now, cap, want=1: (budget_spent(s, motion, now), 1),
    )
    assert _budget_race(store, clock, tmp_path) == ["auto", "auto"]


# -- claims ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_claim_is_one_process_at_a_time_and_ends_with_its_connection(store):
    if store.dialect != "postgresql":
        pytest.skip("claims between processes are PostgreSQL advisory locks")
    first, second = Claims(store, keep=True), Claims(store, keep=True)
    try:
        assert first.try_claim(ClaimKind.THREAD, 7)
        assert not second.try_claim(ClaimKind.THREAD, 7)
        assert second.try_claim(ClaimKind.THREAD, 8)  # another run: no wait
        with store.engine.connect() as conn:  # the worker's connection dies (SIGKILL)
            conn.execute(sa.select(sa.func.pg_terminate_backend(first.backend_pid() or 0, 5000)))
        assert second.try_claim(ClaimKind.THREAD, 7)  # taken over at once
    finally:
        first.reset()
        second.close()


@pytest.mark.postgres
def test_a_worker_that_stopped_beating_is_cut_off_and_its_claims_taken_over(store):
    if store.dialect != "postgresql":
        pytest.skip("claims between processes are PostgreSQL advisory locks")
    hung, other = Claims(store, keep=True), Claims(store, keep=True)
    try:
        assert hung.try_claim(ClaimKind.THREAD, 42)
        with store.session() as s:
            register_worker(s, "host:1:hung", hung.backend_pid())
        with store.session() as s:  # its heartbeat is older than a lease of 0 s
            assert cut_off_lost_workers(s, timedelta(0), me="host:2:other") == ["host:1:hung"]
        assert other.try_claim(ClaimKind.THREAD, 42)
        with store.read() as s:
            status = s.execute(sa.text("SELECT status FROM workers WHERE id = 'host:1:hung'"))
            assert status.scalar_one() == "lost"
        with store.session() as s:  # cut off once
            assert cut_off_lost_workers(s, timedelta(0), me="host:2:other") == []
    finally:
        hung.reset()
        other.close()


def test_claims_are_per_thread_in_one_process(store):
    claims = Claims(store)
    seen: list[bool] = []
    with claims.holding(ClaimKind.THREAD, 1) as mine:
        assert mine
        with claims.holding(ClaimKind.THREAD, 1) as again:  # the same thread, deeper down
            assert again
        other = threading.Thread(target=lambda: seen.append(claims.try_claim(ClaimKind.THREAD, 1)))
        other.start()
        other.join()
    assert seen == [False]
    assert claims.try_claim(ClaimKind.THREAD, 1)  # released when the block ended
    claims.close()


@pytest.mark.postgres
def test_workers_starting_at_once_on_a_new_database_all_start(store):
    """Each worker sets LangGraph's checkpoint tables up when it starts: on a new database,
    several at once used to collide (a duplicate key, or a deadlock with the saver's
    concurrent index builds) and a worker died at start."""
    if store.dialect != "postgresql":
        pytest.skip("the PostgreSQL saver's setup")
    from revfield.field import open_checkpointer

    name = f"revfield_setup_race_{os.getpid()}"
    admin = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    fresh = Store.from_url(store.engine.url.set(database=name).render_as_string(False))
    try:
        fresh.migrate()
        start = threading.Barrier(5)

        def open_one() -> None:
            start.wait()
            with open_checkpointer(fresh):
                pass

        assert _at_once(*[open_one] * 5) == [None] * 5
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
