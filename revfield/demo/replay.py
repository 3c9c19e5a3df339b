"""Replaying the generated book through the whole field, one simulated day at a time:

    ingest the day's signals → detection → people answer yesterday's review items →
    unanswered items climb the ladder → one agent run per field event → the outbox

on a :class:`ManualClock` (end of each day), offline. People are simulated too: each day,
items older than a day are approved, rejected or left (then they climb to the manager),
decided by the item's number, so the replay is deterministic. The last day's items are left
for whoever opens ``revfield inbox`` afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from revfield.clock import ManualClock
from revfield.demo.book import START, Book
from revfield.field import Field, run_detection
from revfield.ingest import ingest_signals
from revfield.memory import Store, insert_reference_rows, pending_reviews
from revfield.review import LOCAL_ADMIN, Actor, ReviewError, resolve_actor

__all__ = ["ReplayReport", "load_book", "replay"]


@dataclass
class ReplayReport:
    days: int = 0
    signals: int = 0
    agent_runs: int = 0
    approved: int = 0
    rejected: int = 0
    climbed: int = 0
    executed: int = 0
    re_escalated: int = 0
    seconds_agents: float = 0.0
    answers: list[str] = field(default_factory=list)


def load_book(store: Store, book: Book) -> None:
    """The book's teams, people, accounts, contacts and deals (signals arrive day by day)."""
    with store.session() as session:
        insert_reference_rows(session, "teams", book.teams)
        insert_reference_rows(session, "users", book.users)
        insert_reference_rows(
            session, "accounts", [{**a, "updated_at": a["created_at"]} for a in book.accounts]
        )
        insert_reference_rows(session, "contacts", book.contacts)
        insert_reference_rows(
            session, "deals", [{**d, "updated_at": d["created_at"]} for d in book.deals]
        )


def _answer_due(fld: Field, report: ReplayReport, before: datetime) -> None:
    with fld.store.read() as session:
        due = [
            (p.review.id, p.review.assignee_id)
            for p in pending_reviews(session, created_before=before)
        ]
    for review_id, assignee in due:
        roll = (review_id * 7919) % 20
        if roll >= 14:
            continue  # nobody answers in time: the ladder moves it up
        with fld.store.read() as session:
            try:
                actor: Actor = resolve_actor(session, assignee) if assignee else LOCAL_ADMIN
            except ReviewError:
                actor = LOCAL_ADMIN
        try:
            if roll < 11:
                result = fld.approve(review_id, actor=actor)
                report.approved += 1
            else:
                result = fld.reject(
                    review_id, actor=actor, reason="not the right moment for this account"
                )
                report.rejected += 1
        except ReviewError as exc:
            report.answers.append(str(exc))
            continue
        report.re_escalated += result.outcome == "re-escalated"


def replay(
    store: Store,
    book: Book,
    fld: Field,
    clock: ManualClock,
    *,
    days: int = 30,
    on_day: Callable[[int], None] | None = None,
) -> ReplayReport:
    report = ReplayReport()
    for day in range(days):
        end_of_day = START + timedelta(days=day, hours=18)
        clock.set(end_of_day)
        records = book.signals_on(day)
        if records:
            ingest_signals(records, store=store, clock=clock, source=f"demo-day-{day + 1}")
        report.signals += len(records)
        run_detection(store, fld.pack, fld.model, clock, governance=day % 7 == 6 or day == days - 1)
        _answer_due(fld, report, end_of_day - timedelta(hours=20))
        report.climbed += len(fld.climb_ladder())
        runs = fld.run_agents()
        report.agent_runs += runs.runs
        report.seconds_agents += runs.seconds
        report.executed += fld.deliver().sent
        report.days += 1
        if on_day is not None:
            on_day(day + 1)
    return report
