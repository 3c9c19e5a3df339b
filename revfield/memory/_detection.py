"""What detection reads and writes: signals not yet through detection (as frozen snapshots for
the pure rules), the history the rules need, the claim that a signal went through detection
(once, even with several workers), and the memory effects detection found (an opt-out, a
closed deal, a new customer)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.domain import (
    BecameCustomer,
    CustomerState,
    DealMoved,
    DealOutcome,
    DoNotContact,
    Effect,
    FactType,
    RiskRecovered,
    RiskStatus,
)
from revfield.memory._claims import bucket_expr
from revfield.memory._risks import current_risks, resolve_risk
from revfield.memory._sql import chunks, insert_ignore
from revfield.memory._tables import (
    ACCOUNTS,
    CHURN_RISKS,
    CONTACTS,
    DEALS,
    DETECTIONS,
    FACTS,
    SIGNALS,
)
from revfield.memory._types import as_utc

__all__ = [
    "AccountSnap",
    "SignalSnap",
    "account_snaps",
    "apply_effects",
    "champion_contacts",
    "claim_signals",
    "count_undetected",
    "customer_states",
    "last_usage_of_customers",
    "note_detections",
    "signal_series",
    "undetected_buckets",
    "undetected_signals",
]


@dataclass(frozen=True, slots=True)
class SignalSnap:
    """A signal as the detection rules read it."""

    id: int
    kind: str
    account_id: str
    contact_id: int | None
    occurred_at: datetime
    payload: Mapping[str, Any]
    text: str | None = None


@dataclass(frozen=True, slots=True)
class AccountSnap:
    """An account as the detection rules read it."""

    id: str
    customer_state: str
    plan: str | None = None
    seats: int | None = None
    at_risk: bool = False
    """Whether the account has a churn risk open or addressed (recovery signals resolve it)."""


def _undetected() -> sa.Exists:
    return sa.select(DETECTIONS.c.signal_id).where(DETECTIONS.c.signal_id == SIGNALS.c.id).exists()


def count_undetected(session: Session) -> int:
    """How many signals have not been through detection yet."""
    query = sa.select(sa.func.count()).select_from(SIGNALS).where(~_undetected())
    return int(session.execute(query).scalar_one())


_BUCKETS_DUE = (
    sa.select(bucket_expr(SIGNALS.c.account_id).label("bucket"), sa.func.max(SIGNALS.c.id))
    .where(SIGNALS.c.id > sa.bindparam("after"), ~_undetected())
    .group_by(sa.literal_column("bucket"))
)


def undetected_buckets(session: Session, after: Mapping[int, int]) -> set[int]:
    """The buckets of accounts (PostgreSQL, :func:`~revfield.memory.bucket_expr`) holding a
    signal not yet through detection above that bucket's ``after`` id: one statement where a
    worker would otherwise claim and read every bucket to find most of them done."""
    lowest = min(after.values(), default=0)
    rows = session.execute(_BUCKETS_DUE, {"after": lowest})
    return {int(bucket) for bucket, top in rows if top > after.get(int(bucket), 0)}


def undetected_signals(
    session: Session,
    *,
    after: int,
    size: int,
    payload_kinds: Collection[str],
    bucket: int | None = None,
) -> tuple[list[SignalSnap], list[int]]:
    """Up to ``size`` signals not yet through detection with ids above ``after``, oldest
    first: snapshots of those attributed to an account (payloads decoded only for
    ``payload_kinds``), and the ids of those that name no account. With ``bucket``
    (PostgreSQL), only the signals of that bucket of accounts (see
    :func:`~revfield.memory.bucket_expr`)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    # most signals are visits and opens: their payloads are not decoded at all
    payload = sa.type_coerce(SIGNALS.c.payload, sa.Text) if sqlite else SIGNALS.c.payload
    query = (
        sa.select(
            SIGNALS.c.id,
            SIGNALS.c.kind,
            SIGNALS.c.account_id,
            SIGNALS.c.contact_id,
            SIGNALS.c.occurred_at,
            payload.label("payload"),
            SIGNALS.c.text,
        )
        .where(SIGNALS.c.id > after, ~_undetected())
        .order_by(SIGNALS.c.id)
        .limit(size)
    )
    if bucket is not None and not sqlite:
        query = query.where(bucket_expr(SIGNALS.c.account_id) == bucket)
    rows = session.execute(query).all()
    snaps = [
        SignalSnap(
            r.id,
            str(r.kind),
            r.account_id,
            r.contact_id,
            r.occurred_at,
            _payload(r.payload) if r.kind in payload_kinds else {},
            r.text,
        )
        for r in rows
        if r.account_id is not None
    ]
    return snaps, [r.id for r in rows if r.account_id is None]


def _payload(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        loaded = json.loads(raw)
        return loaded if isinstance(loaded, dict) else {}
    return raw if isinstance(raw, dict) else {}


def account_snaps(session: Session, ids: Iterable[str]) -> dict[str, AccountSnap]:
    """Snapshots of the accounts ``ids``."""
    out = {}
    for part in chunks(sorted(set(ids)), 2000):
        at_risk = (
            sa.select(CHURN_RISKS.c.id)
            .where(
                CHURN_RISKS.c.account_id == ACCOUNTS.c.id,
                CHURN_RISKS.c.status.in_([RiskStatus.OPEN.value, RiskStatus.ADDRESSED.value]),
            )
            .exists()
        )
        query = sa.select(
            ACCOUNTS.c.id,
            ACCOUNTS.c.customer_state,
            ACCOUNTS.c.plan,
            ACCOUNTS.c.seats,
            at_risk.label("at_risk"),
        ).where(ACCOUNTS.c.id.in_(part))
        for r in session.execute(query):
            out[r.id] = AccountSnap(r.id, str(r.customer_state), r.plan, r.seats, bool(r.at_risk))
    return out


def customer_states(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """Each account's customer state."""
    out: dict[str, str] = {}
    for part in chunks(sorted(set(ids)), 1000):
        query = sa.select(ACCOUNTS.c.id, ACCOUNTS.c.customer_state).where(ACCOUNTS.c.id.in_(part))
        out.update({i: str(s) for i, s in session.execute(query)})
    return out


def signal_series(
    session: Session,
    kind: str,
    account_ids: Iterable[str],
    *,
    since: datetime,
    until: datetime,
    amount: str | None = None,
) -> dict[str, list[tuple[datetime, int, float]]]:
    """``(when, signal id, amount)`` of each account's signals of ``kind`` in a window; the
    amount is the payload's number under ``amount`` (0 when absent), or 1 per signal."""
    value = (
        sa.literal(1.0)
        if amount is None
        else sa.func.coalesce(SIGNALS.c.payload[amount].as_float(), 0.0)
    )
    out: dict[str, list[tuple[datetime, int, float]]] = defaultdict(list)
    for part in chunks(sorted(set(account_ids)), 1000):
        query = sa.select(SIGNALS.c.account_id, SIGNALS.c.occurred_at, SIGNALS.c.id, value).where(
            SIGNALS.c.account_id.in_(part),
            SIGNALS.c.kind == kind,
            SIGNALS.c.occurred_at >= since,
            SIGNALS.c.occurred_at <= until,
        )
        for account_id, when, sid, number in session.execute(query):
            out[account_id].append((when, sid, float(number or 0.0)))
    return out


def champion_contacts(session: Session, account_ids: Iterable[str]) -> dict[str, set[int]]:
    """The contacts current champion facts name, per account."""
    query = sa.select(FACTS.c.account_id, FACTS.c.contact_id).where(
        FACTS.c.account_id.in_(sorted(set(account_ids))),
        FACTS.c.type == FactType.CHAMPION.value,
        FACTS.c.superseded_by.is_(None),
        FACTS.c.contact_id.is_not(None),
    )
    out: dict[str, set[int]] = {}
    for row in session.execute(query):
        out.setdefault(row.account_id, set()).add(int(row.contact_id))
    return out


def claim_signals(session: Session, ids: Iterable[int], now: datetime) -> set[int]:
    """Mark signals as through detection; returns those this transaction claimed (another
    worker may have claimed some since they were read)."""
    wanted = sorted(set(ids))
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":  # the write lock is held: look, then insert the rest
        taken: set[int] = set()
        for part in chunks(wanted, 1000):
            query = sa.select(DETECTIONS.c.signal_id).where(DETECTIONS.c.signal_id.in_(part))
            taken.update(session.scalars(query))
        fresh = [i for i in wanted if i not in taken]
        # as SQLAlchemy stores a DateTime on SQLite: naive UTC
        stamp = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(
            "INSERT INTO signal_detections (signal_id, processed_at, facts, events) "
            "VALUES (?, ?, 0, 0)",
            [(i, stamp) for i in fresh],
        )
        return set(fresh)
    claimed: set[int] = set()
    for part in chunks(wanted, 1000):
        stmt = insert_ignore(dialect, DETECTIONS).returning(DETECTIONS.c.signal_id)
        rows = [
            {"signal_id": i, "processed_at": now, "facts": 0, "events": 0, "error": None}
            for i in part
        ]
        claimed.update(session.execute(stmt, rows).scalars())
    return claimed


def note_detections(session: Session, counts: Sequence[tuple[int, int, int, str | None]]) -> None:
    """Record what detection made of each claimed signal: ``(signal id, facts, events,
    error)``."""
    if not counts:
        return
    session.execute(
        sa.update(DETECTIONS)
        .where(DETECTIONS.c.signal_id == sa.bindparam("sid"))
        .values(
            facts=sa.bindparam("facts"), events=sa.bindparam("events"), error=sa.bindparam("error")
        ),
        [{"sid": s, "facts": f, "events": e, "error": err} for s, f, e, err in counts],
    )


def apply_effects(session: Session, effects: Iterable[Effect], now: datetime) -> None:
    """Apply what detection learned: an opted-out contact, a new customer, a deal moved or
    closed."""
    for effect in effects:
        if isinstance(effect, DoNotContact):
            session.execute(
                sa.update(CONTACTS)
                .where(CONTACTS.c.id == effect.contact_id)
                .values(do_not_contact=True)
            )
        elif isinstance(effect, RiskRecovered):
            for risk in current_risks(session, [effect.account_id]).values():
                resolve_risk(session, risk.id, by="detection", reason=effect.reason, now=now)
        elif isinstance(effect, DealMoved):
            session.execute(
                sa.update(DEALS)
                .where(
                    DEALS.c.id == effect.deal_id,
                    DEALS.c.outcome == DealOutcome.OPEN.value,
                    sa.or_(
                        DEALS.c.stage_entered_at.is_(None),
                        DEALS.c.stage_entered_at <= effect.at,
                    ),
                )
                .values(stage=effect.stage, stage_entered_at=effect.at, updated_at=now)
            )
        elif isinstance(effect, BecameCustomer):
            session.execute(
                sa.update(ACCOUNTS)
                .where(
                    ACCOUNTS.c.id == effect.account_id,
                    ACCOUNTS.c.customer_state == CustomerState.PROSPECT.value,
                )
                .values(customer_state=CustomerState.CUSTOMER.value, updated_at=now)
            )
        else:
            session.execute(
                sa.update(DEALS)
                .where(DEALS.c.id == effect.deal_id, DEALS.c.outcome == DealOutcome.OPEN.value)
                .values(
                    stage=effect.stage,
                    outcome=effect.outcome.value,
                    stage_entered_at=effect.at,
                    close_date=effect.at.date(),
                    updated_at=now,
                )
            )


def last_usage_of_customers(session: Session, since: datetime) -> dict[str, datetime]:
    """Each customer's last product usage, for customers used at ``since`` or later."""
    query = (
        sa.select(SIGNALS.c.account_id, sa.func.max(SIGNALS.c.occurred_at))
        .select_from(SIGNALS.join(ACCOUNTS, ACCOUNTS.c.id == SIGNALS.c.account_id))
        .where(
            SIGNALS.c.kind == "product_usage",
            ACCOUNTS.c.customer_state == CustomerState.CUSTOMER.value,
        )
        .group_by(SIGNALS.c.account_id)
        .having(sa.func.max(SIGNALS.c.occurred_at) >= since)
    )
    return {account_id: as_utc(last) for account_id, last in session.execute(query)}
