"""Reads run together (one round trip on PostgreSQL) give what each statement gives alone:
the same rows, the same Python types, for every account of a replayed book."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.clock import ManualClock
from revfield.demo.book import START, generate_book
from revfield.demo.replay import load_book, replay
from revfield.domain import EventStatus
from revfield.field import Field, open_checkpointer, run_detection
from revfield.ingest import ingest_signals
from revfield.llm import OfflineModel
from revfield.memory import (
    Store,
    TouchWindow,
    account_rows,
    contact_row,
    current_risk,
    deal_row,
    decision_counts,
    decision_reads,
    event_standing,
    fact_counts,
    load_event,
    open_risks,
    recall,
    recall_for_event,
)
from revfield.memory import _recall as recall_sql
from revfield.memory import _together as together
from revfield.memory._risks import CURRENT_RISK
from revfield.memory._tables import ACCOUNTS, CONTACTS, DEALS, EVENTS, FACTS, TEAMS
from revfield.memory._together import insert_of, insert_rows, run_together
from revfield.memory._types import UTCDateTime, enum_column
from revfield.memory.models import Team
from revfield.outbox import LogExecutor
from revfield.policies import load_pack

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def book_store(store: Store, tmp_path: Path) -> Store:
    """A small book replayed for two days: accounts with deals, facts, churn risks, actions
    and decisions, all written by the field."""
    book = generate_book(2, prospects=8, customers=8)
    load_book(store, book)
    clock = ManualClock(START)
    with open_checkpointer(store) as saver:
        fld = Field(
            store,
            load_pack(POLICIES),
            OfflineModel(),
            clock,
            saver,
            executor=LogExecutor(path=tmp_path / "outbox.jsonl"),
        )
        replay(store, book, fld, clock, days=2)
        fld.close()
    # and a customer with three tickets and a detractor's NPS: an open churn risk
    with store.read() as s:
        customer = s.execute(
            sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.customer_state == "customer").limit(1)
        ).scalar_one()
    at = clock.now()
    signals = [
        {
            "source": "product",
            "external_id": f"ticket-{n}",
            "kind": "support_ticket",
            "occurred_at": (at - timedelta(days=3 - n)).isoformat(),
            "account_id": customer,
            "payload": {"priority": "high"},
        }
        for n in range(3)
    ]
    signals.append(
        {
            "source": "product",
            "external_id": "nps-1",
            "kind": "nps_response",
            "occurred_at": (at - timedelta(days=1)).isoformat(),
            "account_id": customer,
            "payload": {"score": 2},
        }
    )
    ingest_signals(signals, store=store, clock=clock)
    run_detection(store, load_pack(POLICIES), OfflineModel(), clock)
    with store.read() as s:
        assert current_risk(s, customer) is not None
    return store


def _alone(session: Any, statement: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(statement, params).mappings()]


def test_reads_together_give_each_statements_rows_and_types_and_recall_reads_through_them(
    book_store,
):
    with book_store.read() as s:
        ids = [r[0] for r in s.execute(sa.select(ACCOUNTS.c.id).order_by(ACCOUNTS.c.id))]
        assert len(ids) >= 16
        risks = 0
        for account_id in ids:
            key = {"account_id": account_id}
            reads = [
                (recall_sql._ACCOUNT, key),
                (recall_sql._FACTS, key),
                (recall_sql._CONTACTS, key),
                (recall_sql._OPEN_DEALS, key),
                (recall_sql._CLOSED_DEALS, {**key, "closed_limit": 5}),
                (recall_sql._SIGNALS, {**key, "signal_limit": 7}),
                (recall_sql._SIGNAL_COUNT, key),
                (CURRENT_RISK, key),  # an in_() list: its placeholders rendered as SQLAlchemy does
            ]
            together = run_together(s, reads)
            risks += bool(together[-1])
            alone = [_alone(s, statement, params) for statement, params in reads]
            assert together == alone, account_id
            for mine, theirs in zip(together, alone, strict=True):
                for a, b in zip(mine, theirs, strict=True):
                    assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
        assert risks  # the churn risk's row went through too
        # and recall, which reads through them, whatever it is asked for
        account_id = s.execute(
            sa.select(FACTS.c.account_id).group_by(FACTS.c.account_id).limit(1)
        ).scalar_one()
        memory = recall(s, account_id, signals=3, closed_deals=2)
        no_count = recall(s, account_id, signals=3, closed_deals=0, count_signals=False)
    assert memory.fact_count() > 0 and len(memory.signals) <= 3
    assert memory.signal_count >= len(memory.signals)
    assert no_count.signal_count == -1 and no_count.closed_deals == []
    assert no_count.facts == memory.facts and no_count.contacts == memory.contacts


def test_an_event_and_its_accounts_memory_read_together_match_each_read_alone(book_store):
    with book_store.read() as s:
        events = s.execute(sa.select(EVENTS.c.id, EVENTS.c.account_id).order_by(EVENTS.c.id))
        checked = 0
        for event_id, account_id in events:
            assert event_standing(s, event_id)[1] == account_id
            event, memory = recall_for_event(s, event_id, account_id, signals=5, closed_deals=2)
            assert event == load_event(s, event_id)
            assert memory == recall(s, account_id, signals=5, closed_deals=2)
            checked += 1
        assert checked >= 5
        # told the wrong account (it was merged, say): the event's own account's memory
        other = s.execute(
            sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.id != account_id).limit(1)
        ).scalar_one()
        event, memory = recall_for_event(s, event_id, other, count_signals=False)
        assert memory.account.id == account_id == event.account_id
        # not told at all (a run an earlier revfield started): the event's account all the same
        assert recall_for_event(s, event_id, None, count_signals=False) == (event, memory)
        with pytest.raises(LookupError, match="no field event #999999"):
            recall_for_event(s, 999_999, account_id)


def test_a_decisions_reads_together_match_each_read_alone(book_store):
    now = START + timedelta(days=2)
    kinds = ("send_email", "book_meeting")
    with book_store.read() as s:
        rows = s.execute(
            sa.select(CONTACTS.c.account_id, CONTACTS.c.id, DEALS.c.id.label("deal"))
            .select_from(CONTACTS.outerjoin(DEALS, DEALS.c.account_id == CONTACTS.c.account_id))
            .order_by(CONTACTS.c.id)
        ).all()
        assert any(r.deal for r in rows)
        seen_risk = False
        for account_id, contact_id, deal_id in rows:
            window = TouchWindow(kinds, ("email_replied",), now - timedelta(days=14), "both")
            got = decision_reads(
                s,
                account_id=account_id,
                contact_id=contact_id,
                deal_id=deal_id,
                touches=window,
                motion="acquisition",
                now=now,
                contact_kinds=("email_replied", "meeting_held"),
            )
            assert got.account == dict(account_rows(s, [account_id])[account_id])
            assert got.facts == fact_counts(s, [account_id]).get(account_id, {})
            assert got.contact == dict(contact_row(s, contact_id) or {})
            assert got.deal == (dict(deal_row(s, deal_id) or {}) if deal_id else None)
            assert got.counts == decision_counts(
                s,
                account_id=account_id,
                contact_id=contact_id,
                touches=window,
                motion="acquisition",
                now=now,
                contact_kinds=("email_replied", "meeting_held"),
            )
            assert got.risk_facts == open_risks(s, account_id)
            assert got.risk == current_risk(s, account_id)
            seen_risk |= got.risk is not None and bool(got.risk_facts)
        assert seen_risk


def test_an_account_that_does_not_exist_reads_as_nothing(store):
    with store.read() as s:
        got = decision_reads(
            s,
            account_id="nobody",
            contact_id=None,
            deal_id=None,
            touches=None,
            motion=None,
            now=START,
            contact_kinds=None,
        )
    assert got.account is None and got.facts == {} and got.risk is None
    assert got.contact is None and got.deal is None


def test_a_read_that_fails_raises_sqlalchemys_error_naming_its_statement(store):
    missing = sa.select(sa.table("no_such_table", sa.column("x")))
    with pytest.raises(sa.exc.DBAPIError, match="no_such_table"), store.read() as s:
        run_together(s, [(recall_sql._ACCOUNT, {"account_id": "acme"}), (missing, {})])


def test_the_engines_listeners_and_log_see_every_statement_run_together(store, caplog):
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    key = {"account_id": "acme"}
    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:  # (SQLAlchemy's documented way to log its statements)
        with caplog.at_level("INFO", logger="sqlalchemy.engine"), store.read() as s:
            run_together(s, [(recall_sql._CONTACTS, key), (recall_sql._SIGNAL_COUNT, key)])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    reads = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2 and "contacts" in reads[0] and "count(" in reads[1]
    assert sum("FROM contacts" in r.getMessage() for r in caplog.records) == 1


# -- writes ---------------------------------------------------------------------------------

_SCRATCH = sa.MetaData()
_ROWS = sa.Table(
    "together_scratch",
    _SCRATCH,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("state", enum_column(EventStatus), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
)
_COLUMNS = ("name", "at", "data", "state", "ok", "score")
_WRITTEN = [
    {
        "name": "plain",
        "at": START,
        "data": {"cited": [1, 2], "why": "naïve ✓", "nested": {"n": None, "f": 0.1}},
        "state": EventStatus.PENDING,
        "ok": True,
        "score": 0.25,
    },
    {
        "name": "empty",
        "at": None,
        "data": [],
        "state": EventStatus.DONE,
        "ok": False,
        "score": None,
    },
]


@pytest.fixture
def scratch(store: Store) -> Iterator[Session]:
    """A session with a table of every kind of column the run's writes use, rolled back."""
    session = Session(bind=store.engine)
    session.begin()
    _ROWS.create(session.connection())
    yield session
    session.rollback()
    session.close()


def _stored(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (the driver's values, no type processing)."""
    rows = session.execute(
        sa.text(
            "SELECT name, at, data, state, ok, score FROM together_scratch WHERE id IN "
            f"({', '.join(str(i) for i in ids)}) ORDER BY id"
        )
    )
    return [tuple(r) for r in rows]


def test_writes_run_together_store_what_sqlalchemy_stores(scratch):
    theirs = [
        scratch.execute(sa.insert(_ROWS).returning(_ROWS.c.id), row).scalar_one()
        for row in _WRITTEN
    ]
    mine = [
        rows[0]["id"]
        for rows in run_together(
            scratch, [(insert_of(_ROWS, _COLUMNS, ("id",)), row) for row in _WRITTEN]
        )
    ]
    assert _stored(scratch, mine) == _stored(scratch, theirs)
    read = [_alone(scratch, sa.select(_ROWS).where(_ROWS.c.id == i), {})[0] for i in mine]
    assert [{k: v for k, v in r.items() if k != "id"} for r in read] == _WRITTEN
    assert read[0]["at"].tzinfo is not None
    insert_rows(scratch, _ROWS, _WRITTEN * 20)  # many: SQLAlchemy's executemany
    assert scratch.execute(sa.select(sa.func.count()).select_from(_ROWS)).scalar_one() == 44


def test_an_update_run_together_says_how_many_rows_it_changed(scratch):
    insert_rows(scratch, _ROWS, _WRITTEN)
    ids = [r[0] for r in scratch.execute(sa.select(_ROWS.c.id).order_by(_ROWS.c.id))]
    done = (
        sa.update(_ROWS)
        .where(_ROWS.c.id.in_(sa.bindparam("ids", expanding=True)))
        .where(_ROWS.c.state.in_(["pending", "running"]))  # a list of the statement's own
        .values(state=sa.bindparam("to"), score=sa.bindparam("score"))
    )
    (changed,) = run_together(scratch, [(done, {"ids": ids, "to": "done", "score": 1.5})])
    assert changed == [] and changed.rowcount == 1  # the other row was done already
    (again,) = run_together(scratch, [(done, {"ids": ids[:1], "to": "done", "score": 2.0})])
    assert again.rowcount == 0
    states = scratch.execute(sa.select(_ROWS.c.state, _ROWS.c.score).order_by(_ROWS.c.id))
    assert [tuple(r) for r in states] == [(EventStatus.DONE, 1.5), (EventStatus.DONE, None)]


def test_a_write_that_would_leave_a_python_side_default_unfilled_is_refused(scratch):
    with_default = sa.Table(
        "together_defaults",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, default=7),
    )
    with pytest.raises(ValueError, match=r"Python-side defaults.*: n"):
        run_together(scratch, [(insert_of(with_default, ()), {})])
    with pytest.raises(sa.exc.InvalidRequestError, match="'name'"):
        run_together(scratch, [(insert_of(_ROWS, _COLUMNS), {"ok": True})])


def test_a_list_of_tuples_in_a_read_is_worked_out_as_sqlalchemy_does(scratch):
    insert_rows(scratch, _ROWS, _WRITTEN)
    pairs = (
        sa.select(_ROWS.c.name)
        .where(sa.tuple_(_ROWS.c.name, _ROWS.c.ok).in_(sa.bindparam("pairs", expanding=True)))
        .order_by(_ROWS.c.name)
    )
    for wanted in ([("plain", True), ("empty", False)], [("plain", False)], []):
        (rows,) = run_together(scratch, [(pairs, {"pairs": wanted})])
        assert rows == _alone(scratch, pairs, {"pairs": wanted})
    assert (
        len(rows) == 0
        and len(run_together(scratch, [(pairs, {"pairs": [("empty", False)]})])[0]) == 1
    )


def test_a_long_list_is_rendered_for_its_call_and_its_sql_is_not_kept(scratch):
    insert_rows(scratch, _ROWS, _WRITTEN * 40)  # 80 rows
    ids = [r[0] for r in scratch.execute(sa.select(_ROWS.c.id).order_by(_ROWS.c.id))]
    named = sa.select(_ROWS.c.id).where(_ROWS.c.id.in_(sa.bindparam("ids", expanding=True)))
    for n in (1, 3, 64, 65, 80):
        (rows,) = run_together(scratch, [(named, {"ids": ids[:n]})])
        assert sorted(r["id"] for r in rows) == ids[:n]
    kept = together._prepared(named, scratch.get_bind().dialect).templates
    assert sorted(kept) == [(1,), (3,), (64,)]


def test_objects_added_to_the_session_are_written_before_statements_run_together(store):
    with store.session() as s:
        s.add(Team(id="t-new", name="New", created_at=START))  # not flushed yet
        (rows,) = run_together(s, [(sa.select(TEAMS.c.id).where(TEAMS.c.id == "t-new"), {})])
        assert rows == [{"id": "t-new"}]
