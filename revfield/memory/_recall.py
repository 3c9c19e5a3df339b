"""Context assembly: everything the memory knows about one account, as one typed value.

Agents read this, ``revfield account show`` renders it, and policies evaluate against parts
of it. Built from a handful of indexed queries; no ORM identity map on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from revfield._text import did_you_mean
from revfield.domain import CustomerState, DealOutcome, FactType, Role, Segment, SignalKind
from revfield.errors import RevfieldError
from revfield.memory._events import EventView, event_of, event_read
from revfield.memory._risks import CURRENT_RISK as _CURRENT_RISK
from revfield.memory._risks import ChurnRiskView, risk_view
from revfield.memory._tables import ACCOUNTS, CONTACTS, DEALS, FACTS, SIGNALS, USERS
from revfield.memory._together import Rows, Run, run_together
from revfield.memory._trace import action_chain

__all__ = [
    "AccountMemory",
    "AccountNotFoundError",
    "AccountView",
    "ContactView",
    "DealView",
    "FactView",
    "SignalView",
    "find_account_id",
    "recall",
    "recall_for_event",
]

DEFAULT_SIGNALS = 50
DEFAULT_CLOSED_DEALS = 10


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class OwnerView(_View):
    id: str
    name: str
    role: Role
    team_id: str | None


class AccountView(_View):
    """The account itself, as the memory holds it: who it is, where it stands (prospect,
    customer, churned), who owns it, and what it pays for."""

    id: str
    name: str
    domain: str | None
    segment: Segment | None
    industry: str | None
    employees: int | None
    region: str | None
    customer_state: CustomerState
    owner: OwnerView | None
    """The seller who owns the account (answers its owner-level review items)."""
    plan: str | None
    seats: int | None
    mrr: float | None
    source: str
    """Where the account first entered the memory (a CRM import, a signal's source)."""
    created_at: datetime
    """When the account entered the memory (``account.age_days`` counts from it)."""


class ContactView(_View):
    """A person at the account whom the field may write to."""

    id: int
    email: str | None
    name: str | None
    role: str | None
    """Job role as recorded (``VP Sales``), not a revfield role."""
    do_not_contact: bool
    """The contact opted out (an unsubscribe reply, a CRM flag): no outreach reaches them."""


class DealView(_View):
    """An open or recently closed deal on the account, with its stage and how long it has
    been there."""

    id: str
    name: str | None
    stage: str
    stage_entered_at: datetime | None
    """When the deal reached ``stage`` (``deal.days_in_stage`` counts from it); None when the
    export does not say."""
    amount: float | None
    currency: str
    product: str | None
    close_date: date | None
    outcome: DealOutcome
    owner_id: str | None
    created_at: datetime


class SignalView(_View):
    """One observation about the account (a visit, an email, a reply, usage, a ticket…), as
    it was sent."""

    id: int
    source: str
    external_id: str
    kind: SignalKind
    occurred_at: datetime
    contact_id: int | None
    contact_email: str | None
    payload: dict[str, Any]
    text: str | None


class FactView(_View):
    """A current fact and where it came from."""

    id: int
    type: FactType
    subject: str | None
    value: str
    span: str | None
    confidence: float
    observed_at: datetime
    contact_id: int | None
    source_signal_id: int
    source_signal_kind: SignalKind
    source_signal_source: str
    source_signal_occurred_at: datetime


class AccountMemory(_View):
    """One account's memory at a glance."""

    account: AccountView
    contacts: list[ContactView]
    open_deals: list[DealView]
    closed_deals: list[DealView]
    """The most recently closed deals (won or lost), newest first."""
    signals: list[SignalView]
    """The latest signals, newest first."""
    signal_count: int
    """All signals the account has (-1 when the caller did not ask for the count)."""
    facts: dict[FactType, list[FactView]]
    """Current (not superseded) facts by type, newest first."""
    churn_risk: ChurnRiskView | None = None
    """The account's churn risk if one is open or addressed (not resolved): since when, the
    facts behind it, and its save play."""
    actions: list[dict[str, Any]] = Field(default_factory=list)
    """The newest actions proposed for the account, each with its whole trace: signals →
    facts → field event → decisions (rules, policy version) → reviews → outbox result
    (filled when ``recall(..., actions=N)`` asks for them)."""

    def fact_count(self) -> int:
        return sum(len(v) for v in self.facts.values())


class AccountNotFoundError(RevfieldError, LookupError):
    """No account in memory answers to what was asked (an id, a name or a domain); the message
    suggests close matches. Still a :class:`LookupError`, as it always was."""

    def __init__(self, wanted: str, hint: str = "") -> None:
        super().__init__(f"no account `{wanted}` in memory{hint}")
        self.wanted = wanted
        """What was asked for, as given."""


# The statements are built once: constructing and cache-keying seven select() objects on
# every call cost more than running them.
_ACCOUNT = (
    sa.select(
        ACCOUNTS,
        USERS.c.name.label("owner_name"),
        USERS.c.role.label("owner_role"),
        USERS.c.team_id.label("owner_team"),
    )
    .select_from(ACCOUNTS.outerjoin(USERS, ACCOUNTS.c.owner_id == USERS.c.id))
    .where(ACCOUNTS.c.id == sa.bindparam("account_id"))
)
_CONTACTS = (
    sa.select(
        CONTACTS.c.id, CONTACTS.c.email, CONTACTS.c.name, CONTACTS.c.role, CONTACTS.c.do_not_contact
    )
    .where(CONTACTS.c.account_id == sa.bindparam("account_id"))
    .order_by(CONTACTS.c.id)
)
_DEAL_COLUMNS = (
    DEALS.c.id,
    DEALS.c.name,
    DEALS.c.stage,
    DEALS.c.stage_entered_at,
    DEALS.c.amount,
    DEALS.c.currency,
    DEALS.c.product,
    DEALS.c.close_date,
    DEALS.c.outcome,
    DEALS.c.owner_id,
    DEALS.c.created_at,
)
_OPEN_DEALS = (
    sa.select(*_DEAL_COLUMNS)
    .where(
        DEALS.c.account_id == sa.bindparam("account_id"), DEALS.c.outcome == DealOutcome.OPEN.value
    )
    .order_by(DEALS.c.created_at.desc(), DEALS.c.id)
)
_CLOSED_DEALS = (
    sa.select(*_DEAL_COLUMNS)
    .where(
        DEALS.c.account_id == sa.bindparam("account_id"), DEALS.c.outcome != DealOutcome.OPEN.value
    )
    .order_by(DEALS.c.close_date.desc(), DEALS.c.id)
    .limit(sa.bindparam("closed_limit"))
)
_SIGNALS = (
    sa.select(
        SIGNALS.c.id,
        SIGNALS.c.source,
        SIGNALS.c.external_id,
        SIGNALS.c.kind,
        SIGNALS.c.occurred_at,
        SIGNALS.c.contact_id,
        SIGNALS.c.contact_email,
        SIGNALS.c.payload,
        SIGNALS.c.text,
    )
    .where(SIGNALS.c.account_id == sa.bindparam("account_id"))
    .order_by(SIGNALS.c.occurred_at.desc(), SIGNALS.c.id.desc())
    .limit(sa.bindparam("signal_limit"))
)
_SIGNAL_COUNT = (
    sa.select(sa.func.count())
    .select_from(SIGNALS)
    .where(SIGNALS.c.account_id == sa.bindparam("account_id"))
)
_FACTS = (
    sa.select(
        FACTS.c.id,
        FACTS.c.type,
        FACTS.c.subject,
        FACTS.c.value,
        FACTS.c.span,
        FACTS.c.confidence,
        FACTS.c.observed_at,
        FACTS.c.contact_id,
        FACTS.c.source_signal_id,
        SIGNALS.c.kind.label("source_signal_kind"),
        SIGNALS.c.source.label("source_signal_source"),
        SIGNALS.c.occurred_at.label("source_signal_occurred_at"),
    )
    .select_from(FACTS.join(SIGNALS, FACTS.c.source_signal_id == SIGNALS.c.id))
    .where(FACTS.c.account_id == sa.bindparam("account_id"), FACTS.c.superseded_by.is_(None))
    .order_by(FACTS.c.observed_at.desc(), FACTS.c.id.desc())
)


def recall(
    session: Session,
    account_id: str,
    *,
    signals: int = DEFAULT_SIGNALS,
    closed_deals: int = DEFAULT_CLOSED_DEALS,
    actions: int = 0,
    count_signals: bool = True,
) -> AccountMemory:
    """Assemble the :class:`AccountMemory` of ``account_id`` (raises
    :class:`AccountNotFoundError` when there is no such account)."""
    options = _Options(signals, closed_deals, actions, count_signals)
    # one round trip on PostgreSQL (see _together.py)
    return _memory(session, account_id, options, run_together(session, _reads(account_id, options)))


def recall_for_event(
    session: Session,
    event_id: int,
    account_id: str | None,
    *,
    signals: int = DEFAULT_SIGNALS,
    closed_deals: int = DEFAULT_CLOSED_DEALS,
    count_signals: bool = True,
) -> tuple[EventView, AccountMemory]:
    """The field event ``event_id`` (``LookupError`` when there is none) and the memory of
    its account ``account_id`` (as read with its status before: see
    :func:`~revfield.memory.event_standing`), read together — one round trip on PostgreSQL.
    Without ``account_id``, or when the event turns out to be another account's, the event's
    own account's memory is read after it."""
    options = _Options(signals, closed_deals, 0, count_signals)
    reads = [event_read(event_id)]
    if account_id is not None:
        reads += _reads(account_id, options)
    rows, *results = run_together(session, reads)
    event = event_of(rows, event_id)
    if event.account_id != account_id:
        results = run_together(session, _reads(event.account_id, options))
    return event, _memory(session, event.account_id, options, results)


@dataclass(frozen=True, slots=True)
class _Options:
    signals: int
    closed_deals: int
    actions: int
    count_signals: bool


def _reads(account_id: str, options: _Options) -> list[Run]:
    key = {"account_id": account_id}
    reads: list[Run] = [(_ACCOUNT, key), (_FACTS, key), (_CONTACTS, key), (_OPEN_DEALS, key)]
    reads.append((_SIGNALS, {**key, "signal_limit": options.signals}))
    reads.append((_CURRENT_RISK, key))
    if options.closed_deals:
        reads.append((_CLOSED_DEALS, {**key, "closed_limit": options.closed_deals}))
    if options.count_signals:
        reads.append((_SIGNAL_COUNT, key))
    return reads


def _memory(
    session: Session, account_id: str, options: _Options, results: list[Rows]
) -> AccountMemory:
    """The memory from what :func:`_reads` read."""
    found, fact_rows, contacts, open_deals, signal_rows, risk, *more = results
    if not found:
        raise AccountNotFoundError(account_id)
    row = found[0]
    closed = [DealView.model_validate(r) for r in more.pop(0)] if options.closed_deals else []
    owner = None
    if row["owner_id"]:
        owner = OwnerView(
            id=row["owner_id"],
            name=row["owner_name"],
            role=row["owner_role"],
            team_id=row["owner_team"],
        )
    facts: dict[FactType, list[FactView]] = {}
    for r in fact_rows:
        fact = FactView.model_validate(r)
        facts.setdefault(fact.type, []).append(fact)
    actions = options.actions
    return AccountMemory(
        account=AccountView.model_validate({**row, "owner": owner}),
        contacts=[ContactView.model_validate(r) for r in contacts],
        open_deals=[DealView.model_validate(r) for r in open_deals],
        closed_deals=closed,
        signals=[SignalView.model_validate(r) for r in signal_rows],
        signal_count=next(iter(more.pop(0)[0].values())) if options.count_signals else -1,
        facts=facts,
        churn_risk=risk_view(risk[0]) if risk else None,
        actions=action_chain(session, account_id, actions) if actions else [],
    )


def find_account_id(session: Session, wanted: str) -> str:
    """Resolve what a person typed — an id, a domain or an exact name — to an account id."""
    text = wanted.strip()
    for clause in (
        ACCOUNTS.c.id == text,
        ACCOUNTS.c.domain == text.lower(),
        sa.func.lower(ACCOUNTS.c.name) == text.lower(),
    ):
        found = session.execute(sa.select(ACCOUNTS.c.id).where(clause).limit(2)).scalars().all()
        if len(found) == 1:
            return str(found[0])
    like = (
        session.execute(
            sa.select(ACCOUNTS.c.id)
            .where(sa.or_(ACCOUNTS.c.id.ilike(f"%{text}%"), ACCOUNTS.c.name.ilike(f"%{text}%")))
            .order_by(ACCOUNTS.c.id)
            .limit(5)
        )
        .scalars()
        .all()
    )
    if like:
        hint = "; did you mean " + ", ".join(f"`{x}`" for x in like) + "?"
    else:
        hint = did_you_mean(text, session.execute(sa.select(ACCOUNTS.c.id).limit(5000)).scalars())
    raise AccountNotFoundError(wanted, hint)
