"""What the policy layer reads from memory to decide: accounts, contacts and deals as rows,
current fact counts, touches in a window (what went out, from the actions' state), automated
actions today, risk facts, and the last contact. Each statement is built once (building and
cache-keying ``select()`` objects cost more than running them); what one decision counts —
its touches, its motion's budget, the account's last contact — is read in one statement
(:func:`decision_counts`: on PostgreSQL one round trip instead of four)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import ActionStatus, DealOutcome, FactType
from revfield.memory._risks import CURRENT_RISK, ChurnRiskView, risk_view
from revfield.memory._sql import chunks
from revfield.memory._tables import (
    ACCOUNTS,
    ACTIONS,
    CONTACTS,
    DEALS,
    DECISIONS,
    FACTS,
    MOTION_BUDGETS,
    SIGNALS,
    USERS,
)
from revfield.memory._together import Run, run_together
from revfield.memory._types import as_utc

__all__ = [
    "AUTO_SINCE",
    "BUDGET_SPENT",
    "Counts",
    "DecisionReads",
    "TouchWindow",
    "account_rows",
    "auto_decisions_since",
    "contact_row",
    "day_start",
    "deal_row",
    "decision_counts",
    "decision_reads",
    "fact_counts",
    "last_contact",
    "open_deals",
    "open_risks",
]

_B = sa.bindparam
_CHUNK = 2000

_ACCOUNTS = sa.select(ACCOUNTS).where(ACCOUNTS.c.id.in_(_B("ids", expanding=True)))
_FACT_COUNTS = (
    sa.select(FACTS.c.account_id, FACTS.c.type, sa.func.count())
    .where(FACTS.c.account_id.in_(_B("ids", expanding=True)), FACTS.c.superseded_by.is_(None))
    .group_by(FACTS.c.account_id, FACTS.c.type)
)
_CONTACT = sa.select(CONTACTS).where(CONTACTS.c.id == _B("id"))
_DEAL = sa.select(DEALS).where(DEALS.c.id == _B("id"))
_WENT_OUT = (ActionStatus.APPROVED.value, ActionStatus.QUEUED.value, ActionStatus.EXECUTED.value)
"""Statuses of an action that went out, or is on its way (approved by a person, or automated)."""
AUTO_SINCE = (
    sa.select(sa.func.count())
    .select_from(DECISIONS)
    .where(
        # (names no column has: the budget counter's first row is inserted from this count)
        DECISIONS.c.motion == _B("b_motion"),
        DECISIONS.c.verdict == "auto",
        DECISIONS.c.decided_at >= _B("b_since"),
    )
)
_RISKS = sa.select(FACTS.c.subject, FACTS.c.observed_at).where(
    FACTS.c.account_id == _B("account_id"),
    FACTS.c.type == FactType.RISK.value,
    FACTS.c.superseded_by.is_(None),
)
_LAST_CONTACT = (
    sa.select(SIGNALS.c.account_id, sa.func.max(SIGNALS.c.occurred_at))
    .where(
        SIGNALS.c.account_id.in_(_B("ids", expanding=True)),
        SIGNALS.c.kind.in_(_B("kinds", expanding=True)),
    )
    .group_by(SIGNALS.c.account_id)
)
_LAST_CONTACT_BY = (
    sa.select(SIGNALS.c.account_id, sa.func.max(SIGNALS.c.occurred_at))
    .where(
        SIGNALS.c.account_id.in_(_B("ids", expanding=True)),
        SIGNALS.c.kind.in_(_B("kinds", expanding=True)),
        SIGNALS.c.occurred_at <= _B("as_of"),
    )
    .group_by(SIGNALS.c.account_id)
)
_OPEN_DEALS = (
    sa.select(
        DEALS.c.id,
        DEALS.c.account_id,
        DEALS.c.owner_id,
        DEALS.c.stage,
        DEALS.c.amount,
        DEALS.c.product,
        DEALS.c.created_at,
        DEALS.c.stage_entered_at,
        USERS.c.team_id,
    )
    .select_from(DEALS.outerjoin(USERS, DEALS.c.owner_id == USERS.c.id))
    .where(DEALS.c.outcome == DealOutcome.OPEN.value, DEALS.c.created_at <= _B("as_of"))
    .order_by(DEALS.c.id)
)


def account_rows(session: Session, ids: Iterable[str]) -> dict[str, Mapping[Any, Any]]:
    """``accounts`` rows by id."""
    out: dict[str, Mapping[Any, Any]] = {}
    for part in chunks(sorted(set(ids)), _CHUNK):
        for row in session.execute(_ACCOUNTS, {"ids": list(part)}).mappings():
            out[row["id"]] = row
    return out


def fact_counts(session: Session, ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Current (not superseded) facts per account and type."""
    out: dict[str, dict[str, int]] = {}
    for part in chunks(sorted(set(ids)), _CHUNK):
        for account_id, type_, n in session.execute(_FACT_COUNTS, {"ids": list(part)}):
            out.setdefault(account_id, {})[str(type_)] = n
    return out


def contact_row(session: Session, contact_id: int) -> Mapping[Any, Any] | None:
    """A ``contacts`` row, or None."""
    return session.execute(_CONTACT, {"id": contact_id}).mappings().first()


def deal_row(session: Session, deal_id: str) -> Mapping[Any, Any] | None:
    """A ``deals`` row, or None."""
    return session.execute(_DEAL, {"id": deal_id}).mappings().first()


def auto_decisions_since(session: Session, motion: str, since: datetime) -> int:
    """Actions of ``motion`` decided ``auto`` since ``since``."""
    return int(session.execute(AUTO_SINCE, {"b_motion": motion, "b_since": since}).scalar_one())


def open_risks(session: Session, account_id: str) -> list[tuple[str | None, datetime]]:
    """``(subject, observed at)`` of the account's current risk facts."""
    rows = session.execute(_RISKS, {"account_id": account_id})
    return [(subject, as_utc(when)) for subject, when in rows]


def last_contact(
    session: Session,
    ids: Iterable[str],
    kinds: Sequence[str],
    as_of: datetime | None = None,
) -> dict[str, datetime]:
    """When each account was last in contact (its newest signal of ``kinds``, up to
    ``as_of`` when given); accounts never contacted are absent."""
    out: dict[str, datetime] = {}
    query = _LAST_CONTACT if as_of is None else _LAST_CONTACT_BY
    for part in chunks(sorted(set(ids)), _CHUNK):
        params: dict[str, Any] = {"ids": list(part), "kinds": list(kinds)}
        if as_of is not None:
            params["as_of"] = as_of
        for account_id, last in session.execute(query, params):
            if last is not None:
                out[account_id] = as_utc(last)
    return out


def open_deals(session: Session, as_of: datetime) -> list[Mapping[Any, Any]]:
    """Deals open at ``as_of`` (created by then), with their owner's team, by id."""
    return list(session.execute(_OPEN_DEALS, {"as_of": as_of}).mappings())


@dataclass(frozen=True, slots=True)
class TouchWindow:
    """Which touches a decision counts: actions of ``action_kinds`` that went out or are on
    their way (approved by a person, or automated), plus signals of ``signal_kinds``, since
    ``since``; ``of`` says whose: ``contact``, ``account``, or ``both`` (one pass per table,
    the contact's share summed apart)."""

    action_kinds: Sequence[str]
    signal_kinds: Sequence[str]
    since: datetime
    of: str


@dataclass(frozen=True, slots=True)
class Counts:
    """What :func:`decision_counts` read; None where it was not asked."""

    touches: tuple[int, int] | None
    """``(contact touches, account touches)``, 0 for the one not asked for."""
    budget_spent: int | None
    """The motion's slots taken today (:func:`~revfield.memory.budget_spent`)."""
    last_contact: datetime | None
    """The account's newest contact signal (None: never, or not asked)."""


def _touch_counts(of: str) -> tuple[sa.Subquery, sa.Subquery]:
    """One-row aggregates of the actions and signals that touch a contact (``of`` contact:
    filtered by it) or an account (filtered by it, the contact's share summed apart)."""
    parts = []
    for name, table, kinds, when, went in (
        ("sent", ACTIONS, "t_akinds", ACTIONS.c.updated_at, (ACTIONS.c.status.in_(_WENT_OUT),)),
        ("seen", SIGNALS, "t_skinds", SIGNALS.c.occurred_at, ()),
    ):
        who = (
            table.c.contact_id == _B("t_contact")
            if of == "contact"
            else table.c.account_id == _B("t_account")
        )
        parts.append(
            sa.select(
                sa.func.sum(sa.case((table.c.contact_id == _B("t_contact"), 1), else_=0)).label(
                    "of_contact"
                ),
                sa.func.count().label("of_account"),
            )
            .where(who, table.c.kind.in_(_B(kinds, expanding=True)), *went, when >= _B("t_since"))
            .subquery(name)
        )
    return parts[0], parts[1]


BUDGET_SPENT = sa.func.coalesce(
    sa.select(MOTION_BUDGETS.c.spent)
    .where(MOTION_BUDGETS.c.motion == _B("b_motion"), MOTION_BUDGETS.c.day == _B("b_day"))
    .scalar_subquery(),
    AUTO_SINCE.scalar_subquery(),  # before the day's first slot: the day's automated decisions
)
"""The slots a motion's budget has taken on a day (``b_motion``, ``b_day``; ``b_since``: the
day's start): its counter row, or before the day's first slot, the day's automated
decisions."""
_LAST_ONE = (
    sa.select(sa.func.max(SIGNALS.c.occurred_at))
    .where(
        SIGNALS.c.account_id == _B("l_account"),
        SIGNALS.c.kind.in_(_B("l_kinds", expanding=True)),
    )
    .scalar_subquery()
)
_COUNTS: dict[tuple[str | None, bool, bool], sa.Select[Any]] = {}


def _counts_query(of: str | None, budget: bool, last: bool) -> sa.Select[Any]:
    key = (of, budget, last)
    if key not in _COUNTS:
        columns: list[Any] = []
        sent = seen = None
        if of is not None:
            sent, seen = _touch_counts(of)
            columns += [sent.c.of_contact, sent.c.of_account, seen.c.of_contact, seen.c.of_account]
        if budget:
            columns.append(BUDGET_SPENT.label("spent"))
        if last:
            columns.append(_LAST_ONE.label("last_contact"))
        query = sa.select(*columns)
        if sent is not None and seen is not None:
            query = query.select_from(sent.join(seen, sa.true()))
        _COUNTS[key] = query
    return _COUNTS[key]


def _counts_read(
    *,
    account_id: str,
    contact_id: int | None,
    touches: TouchWindow | None,
    motion: str | None,
    now: datetime | None,
    contact_kinds: Sequence[str] | None,
) -> tuple[sa.Select[Any], dict[str, Any]] | None:
    """The statement and parameters of :func:`decision_counts` (None: nothing asked)."""
    day = now.astimezone(UTC).date() if now is not None else None
    budget = motion is not None and day is not None
    last = contact_kinds is not None
    of = touches.of if touches is not None else None
    if of is None and not budget and not last:
        return None
    params: dict[str, Any] = {}
    if touches is not None:
        params.update(
            t_contact=contact_id,
            t_account=account_id,
            t_akinds=list(touches.action_kinds),
            t_skinds=list(touches.signal_kinds),
            t_since=touches.since,
        )
    if budget and day is not None:
        params.update(b_motion=motion, b_day=day, b_since=day_start(day))
    if last:
        params.update(l_account=account_id, l_kinds=list(contact_kinds or ()))
    return _counts_query(of, budget, last), params


def _counts_of(
    row: Mapping[Any, Any], params: Mapping[str, Any], touches: TouchWindow | None
) -> Counts:
    """:class:`Counts` from the row of :func:`_counts_read`'s statement (run with
    ``params``)."""
    counted = None
    if touches is not None:
        contact = int(row["of_contact"] or 0) + int(row["of_contact_1"] or 0)
        account = int(row["of_account"] or 0) + int(row["of_account_1"] or 0)
        of = touches.of
        counted = (contact if of != "account" else 0, account if of != "contact" else 0)
    seen = row.get("last_contact")
    return Counts(
        touches=counted,
        budget_spent=int(row["spent"]) if "b_motion" in params else None,
        last_contact=as_utc(seen) if seen is not None else None,
    )


def decision_counts(
    session: Session,
    *,
    account_id: str,
    contact_id: int | None,
    touches: TouchWindow | None = None,
    motion: str | None = None,
    now: datetime | None = None,
    contact_kinds: Sequence[str] | None = None,
) -> Counts:
    """What a decision counts, in one statement: touches in ``touches``' window
    (:class:`TouchWindow`), the slots ``motion``'s budget has taken on the day of ``now``
    (as :func:`~revfield.memory.budget_spent`), and the account's last contact signal of
    ``contact_kinds`` (as :func:`last_contact`) — each only when asked."""
    read = _counts_read(
        account_id=account_id,
        contact_id=contact_id,
        touches=touches,
        motion=motion,
        now=now,
        contact_kinds=contact_kinds,
    )
    if read is None:
        return Counts(None, None, None)
    return _counts_of(session.execute(*read).mappings().one(), read[1], touches)


_ACCOUNT_ONE = sa.select(ACCOUNTS).where(ACCOUNTS.c.id == _B("account_id"))
_FACT_COUNTS_ONE = (
    sa.select(FACTS.c.type, sa.func.count().label("n"))
    .where(FACTS.c.account_id == _B("account_id"), FACTS.c.superseded_by.is_(None))
    .group_by(FACTS.c.type)
)


@dataclass(frozen=True, slots=True)
class DecisionReads:
    """Everything a run's first decision on an account reads, read together
    (:func:`decision_reads`)."""

    account: Mapping[str, Any] | None
    """The ``accounts`` row (None: no such account)."""
    facts: dict[str, int]
    """Current facts by type."""
    contact: Mapping[str, Any] | None
    """The ``contacts`` row of the contact asked for."""
    deal: Mapping[str, Any] | None
    """The ``deals`` row of the deal asked for."""
    counts: Counts
    """As :func:`decision_counts` reads them."""
    risk_facts: list[tuple[str | None, datetime]]
    """As :func:`open_risks` reads them."""
    risk: ChurnRiskView | None
    """As :func:`~revfield.memory.current_risk` reads it."""


def decision_reads(
    session: Session,
    *,
    account_id: str,
    contact_id: int | None,
    deal_id: str | None,
    touches: TouchWindow | None,
    motion: str | None,
    now: datetime,
    contact_kinds: Sequence[str] | None,
) -> DecisionReads:
    """The account, its fact counts, the contact and deal (when given), what the decision
    counts (as :func:`decision_counts`), the account's risk facts and its churn risk: in one
    round trip on PostgreSQL (see :mod:`revfield.memory._together`)."""
    key = {"account_id": account_id}
    reads: list[Run] = [(_ACCOUNT_ONE, key), (_FACT_COUNTS_ONE, key), (_RISKS, key)]
    reads.append((CURRENT_RISK, key))
    counts = _counts_read(
        account_id=account_id,
        contact_id=contact_id,
        touches=touches,
        motion=motion,
        now=now,
        contact_kinds=contact_kinds,
    )
    if counts is not None:
        reads.append(counts)
    if contact_id is not None:
        reads.append((_CONTACT, {"id": contact_id}))
    if deal_id is not None:
        reads.append((_DEAL, {"id": deal_id}))
    account, facts, risk_facts, risk, *more = run_together(session, reads)
    counted = Counts(None, None, None)
    if counts is not None:
        counted = _counts_of(more.pop(0)[0], counts[1], touches)
    contact = more.pop(0) if contact_id is not None else []
    deal = more.pop(0) if deal_id is not None else []
    return DecisionReads(
        account=account[0] if account else None,
        facts={str(r["type"]): int(r["n"]) for r in facts},
        contact=contact[0] if contact else None,
        deal=deal[0] if deal else None,
        counts=counted,
        risk_facts=[(r["subject"], as_utc(r["observed_at"])) for r in risk_facts],
        risk=risk_view(risk[0]) if risk else None,
    )


def day_start(day: date) -> datetime:
    """The first instant of ``day`` (UTC), where a day's budget starts counting."""
    return datetime.combine(day, time(), tzinfo=UTC)
