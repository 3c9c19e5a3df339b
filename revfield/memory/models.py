"""The account memory's tables (SQLAlchemy 2, typed).

One continuous context per account, from first anonymous visit to year-three expansion.
Every row that describes a customer is keyed by ``account_id`` — never by team — so the
memory can shard by account. Signals are append-only; facts are never deleted, only
superseded.

The annotations here are evaluated when the module loads (no ``from __future__ import
annotations``): SQLAlchemy then reads each ``Mapped[...]`` as an object instead of evaluating
its text, which takes a fifth off the import every command that opens the memory pays.
"""

from datetime import date, datetime
from typing import Any, ClassVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from revfield.domain import CustomerState, DealOutcome, FactType, Role, Segment, SignalKind
from revfield.memory._types import UTCDateTime, enum_column

__all__ = [
    "Account",
    "ActionRecord",
    "ApiToken",
    "AuditEntry",
    "Base",
    "ChurnRisk",
    "Contact",
    "DeadLetter",
    "Deal",
    "DecisionRecord",
    "Fact",
    "FieldEvent",
    "ModelCall",
    "Notification",
    "OutboxItem",
    "Review",
    "Schedule",
    "Signal",
    "SignalDetection",
    "Team",
    "User",
    "Worker",
    "table_of",
]


class _PostgresJSONB(sa.types.TypeDecorator[Any]):
    """PostgreSQL's ``JSONB``, the type :data:`JSONType` takes there, imported when a
    PostgreSQL dialect first asks for it: the dialect package costs every command that opens
    SQLite ~50 ms to import."""

    impl = sa.JSON
    cache_ok = True
    render_bind_cast = True
    """As ``JSONB`` itself: psycopg's statements cast each JSON parameter (``%(x)s::JSONB``)."""

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB())


JSONType = sa.JSON().with_variant(_PostgresJSONB(), "postgresql")
"""JSON, stored as ``JSONB`` on PostgreSQL."""
Money = sa.Numeric(14, 2, asdecimal=False)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        date: sa.Date(),
    }


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]


class User(Base):
    """A person who answers reviews: seller (AE, CSM), manager or RevOps."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    team_id: Mapped[str | None] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    created_at: Mapped[datetime]


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    domain: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    segment: Mapped[Segment | None] = mapped_column(enum_column(Segment))
    industry: Mapped[str | None] = mapped_column(sa.String(120))
    employees: Mapped[int | None]
    region: Mapped[str | None] = mapped_column(sa.String(120))
    customer_state: Mapped[CustomerState] = mapped_column(
        enum_column(CustomerState), default=CustomerState.PROSPECT, index=True
    )
    owner_id: Mapped[str | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    plan: Mapped[str | None] = mapped_column(sa.String(64))
    seats: Mapped[int | None]
    mrr: Mapped[float | None] = mapped_column(Money)
    source: Mapped[str] = mapped_column(sa.String(64))
    """Where the account first entered the memory: an importer name, or ``signal``."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(120))
    """Job role as the source states it (``VP Sales``, ``IT admin``)."""
    do_not_contact: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime]


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (sa.Index("ix_deals_account_id_outcome", "account_id", "outcome"),)

    id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    owner_id: Mapped[str | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(300))
    stage: Mapped[str] = mapped_column(sa.String(64))
    stage_entered_at: Mapped[datetime | None]
    amount: Mapped[float | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD", server_default="USD")
    product: Mapped[str | None] = mapped_column(sa.String(120))
    close_date: Mapped[date | None]
    outcome: Mapped[DealOutcome] = mapped_column(
        enum_column(DealOutcome), default=DealOutcome.OPEN, index=True
    )
    source: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Signal(Base):
    """An observation. Append-only; ``(source, external_id)`` makes delivery idempotent."""

    __tablename__ = "signals"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id"),
        sa.Index("ix_signals_account_id_occurred_at", "account_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[SignalKind] = mapped_column(enum_column(SignalKind))
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"), index=True)
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    """The email as received, kept even when it could not be attributed (free-mail)."""
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    text: Mapped[str | None] = mapped_column(sa.Text)
    """Free text (email body, transcript, ticket). Untrusted data, never instructions."""
    digest: Mapped[str] = mapped_column(sa.String(32))
    """Hash of the signal's content: a re-send with different content is a conflict."""


class Fact(Base):
    """Something learned about an account, with its provenance. Superseded, never deleted."""

    __tablename__ = "facts"
    __table_args__ = (sa.Index("ix_facts_account_id_type", "account_id", "type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    type: Mapped[FactType] = mapped_column(enum_column(FactType))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    """What the fact is about (``budget``, a competitor's name): facts with the same account,
    type and subject supersede one another."""
    value: Mapped[str] = mapped_column(sa.Text)
    span: Mapped[str | None] = mapped_column(sa.Text)
    """The quoted words of the source signal the fact was read from."""
    confidence: Mapped[float]
    source_signal_id: Mapped[int] = mapped_column(sa.ForeignKey("signals.id"), index=True)
    observed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    superseded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("facts.id"))


class DeadLetter(Base):
    """A row that could not be accepted, kept verbatim with the reason."""

    __tablename__ = "dead_letters"
    __table_args__ = (sa.UniqueConstraint("source_file", "line", "raw_digest"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_file: Mapped[str] = mapped_column(sa.String(1024))
    line: Mapped[int]
    field: Mapped[str | None] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.Text)
    raw: Mapped[str] = mapped_column(sa.Text)
    raw_digest: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]


class DecisionRecord(Base):
    """A policy decision on a proposed action, with everything needed to replay it."""

    __tablename__ = "decisions"
    __table_args__ = (
        sa.Index("ix_decisions_account_id_decided_at", "account_id", "decided_at"),
        sa.Index("ix_decisions_contact_id_decided_at", "contact_id", "decided_at"),
        sa.Index("ix_decisions_motion_verdict_decided_at", "motion", "verdict", "decided_at"),
        sa.Index("ix_decisions_action_id", "action_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    deal_id: Mapped[str | None] = mapped_column(sa.ForeignKey("deals.id"))
    action_id: Mapped[int | None]
    """The proposed action decided on (when actions are stored)."""
    action_kind: Mapped[str] = mapped_column(sa.String(64))
    motion: Mapped[str] = mapped_column(sa.String(32))
    verdict: Mapped[str] = mapped_column(sa.String(16))
    matched_rules: Mapped[list[str]] = mapped_column(JSONType)
    guardrails: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    missing_criteria: Mapped[list[str]] = mapped_column(JSONType)
    escalate_to: Mapped[str | None] = mapped_column(sa.String(32))
    policy_version: Mapped[str] = mapped_column(sa.String(80))
    explanation: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[dict[str, Any]]
    """The evaluated context, as JSON: replaying it through a pack gives the same decision."""
    decided_at: Mapped[datetime]


class FieldEvent(Base):
    """A detected situation worth acting on, routed to an agent by customer state."""

    __tablename__ = "field_events"
    __table_args__ = (
        sa.Index("ix_field_events_account_id_kind_key", "account_id", "kind", "key"),
        sa.Index("ix_field_events_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(200))
    """What the situation is about within its kind (a contact, a deal, a feature): the same
    account, kind and key is not raised again within the cooldown."""
    signal_ids: Mapped[list[int]] = mapped_column(JSONType)
    """The signals that triggered it (provenance)."""
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    deal_id: Mapped[str | None] = mapped_column(sa.ForeignKey("deals.id"))
    detail: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    """When the situation arose (the triggering signal's time)."""
    detected_at: Mapped[datetime]
    agent: Mapped[str | None] = mapped_column(sa.String(32))
    """The agent the router chose, or None when no agent acts on it."""
    status: Mapped[str] = mapped_column(sa.String(16))
    """An :class:`~revfield.domain.EventStatus`: ``pending``, ``running``, ``waiting``,
    ``done`` or ``ignored``; it moves only as the domain's transition table allows."""


class SignalDetection(Base):
    """That a signal went through detection (claimed once, in the same transaction)."""

    __tablename__ = "signal_detections"

    signal_id: Mapped[int] = mapped_column(sa.ForeignKey("signals.id"), primary_key=True)
    processed_at: Mapped[datetime]
    facts: Mapped[int] = mapped_column(default=0)
    events: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    """A model fault while reading the signal's text (escalated as a ``model_fault`` event)."""


class ModelCall(Base):
    """One call to a model: for cost, latency and the eval report."""

    __tablename__ = "model_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operation: Mapped[str] = mapped_column(sa.String(32))
    backend: Mapped[str] = mapped_column(sa.String(16))
    model: Mapped[str] = mapped_column(sa.String(120))
    ok: Mapped[bool]
    latency_ms: Mapped[float]
    prompt_tokens: Mapped[int]
    completion_tokens: Mapped[int]
    error: Mapped[str | None] = mapped_column(sa.Text)
    signal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signals.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"))
    called_at: Mapped[datetime]


class ActionRecord(Base):
    """An action an agent proposed, with what justifies it and where it stands."""

    __tablename__ = "actions"
    __table_args__ = (
        sa.UniqueConstraint("field_event_id", "agent", "kind", "target"),
        sa.Index("ix_actions_account_id_created_at", "account_id", "created_at"),
        sa.Index("ix_actions_status", "status"),
        sa.Index("ix_actions_contact_id_updated_at", "contact_id", "updated_at"),
        sa.Index("ix_actions_account_id_updated_at", "account_id", "updated_at"),
        sa.Index("ix_actions_after_action_id", "after_action_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    deal_id: Mapped[str | None] = mapped_column(sa.ForeignKey("deals.id"))
    field_event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("field_events.id"))
    agent: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(64))
    motion: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str] = mapped_column(sa.String(200))
    """Who or what the action addresses (``contact:12``, ``deal:d1``, ``account``): with the
    event, agent and kind it makes proposing idempotent."""
    proposal: Mapped[dict[str, Any]]
    """The whole proposed action as the agent made it (edits are applied here)."""
    digest: Mapped[str] = mapped_column(sa.String(32))
    """Hash of kind, target and payload: a review binds the exact action it shows."""
    status: Mapped[str] = mapped_column(sa.String(16))
    """An :class:`~revfield.domain.ActionStatus`; it moves only as the domain's transition
    table allows."""
    thread_id: Mapped[str] = mapped_column(sa.String(120))
    """The agent run (LangGraph thread) that proposed it and waits for its answer."""
    after_action_id: Mapped[int | None] = mapped_column(sa.ForeignKey("actions.id"))
    """The action of the same run that must be carried out first (a follow-up waits for its
    email): stored when the action is recorded. If that one is rejected, blocked, cancelled
    or fails, this one is cancelled with it."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Review(Base):
    """An action waiting for a person: who should answer, why, by when, and the answer."""

    __tablename__ = "reviews"
    __table_args__ = (
        sa.Index("ix_reviews_status_assignee_role", "status", "assignee_role"),
        sa.Index("ix_reviews_status_deadline_at_id", "status", "deadline_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(sa.ForeignKey("actions.id"), index=True)
    decision_id: Mapped[int] = mapped_column(sa.ForeignKey("decisions.id"))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    verdict: Mapped[str] = mapped_column(sa.String(16))
    """``review`` or ``escalate``."""
    assignee_role: Mapped[str] = mapped_column(sa.String(16))
    """``owner``, ``manager`` or ``revops``: the rung of the ladder that should answer."""
    assignee_id: Mapped[str | None] = mapped_column(sa.ForeignKey("users.id"))
    level: Mapped[int]
    """Index on the pack's review ladder."""
    reason: Mapped[str] = mapped_column(sa.Text)
    action_digest: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    """A :class:`~revfield.domain.ReviewStatus`: ``pending``, ``approved``, ``rejected`` or
    ``superseded`` (climbed the ladder, re-escalated after an edit, or closed because what its
    action waited for won't go out)."""
    deadline_at: Mapped[datetime]
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(64))
    edits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(sa.Text)
    """The reason given with a rejection, or what happened to the item."""


class OutboxItem(Base):
    """An action to execute exactly once, through an executor, under an idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(sa.ForeignKey("actions.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    executor: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(16))
    """An :class:`~revfield.domain.OutboxStatus`: ``waiting`` (for the action its action waits
    for), ``pending`` (due), ``sending`` (claimed), ``sent``, ``failed`` or ``cancelled`` (what
    its action waited for will never go out)."""
    attempts: Mapped[int]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    executed_at: Mapped[datetime | None]


class ChurnRisk(Base):
    """An account's churn risk and how it was worked off: opened by a churn-risk fact (later
    ones attach to it), addressed when its save play is carried out, resolved by a person or by
    signals the pack counts as recovery."""

    __tablename__ = "churn_risks"
    __table_args__ = (
        sa.Index("ix_churn_risks_account_id_status", "account_id", "status"),
        sa.Index("ix_churn_risks_save_play_action_id", "save_play_action_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(sa.String(16))
    """A :class:`~revfield.domain.RiskStatus`: ``open``, ``addressed`` or ``resolved``."""
    fact_ids: Mapped[list[int]] = mapped_column(JSONType)
    """The churn-risk facts on record for it, first one first (the evidence)."""
    save_play_action_id: Mapped[int | None] = mapped_column(sa.ForeignKey("actions.id"))
    """The save play working it off (one per risk: later signals attach to it)."""
    opened_at: Mapped[datetime]
    addressed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(sa.String(64))
    """A user id, or ``detection`` for recovery signals."""
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    """Why it was resolved, in a person's words or the recovery signal's."""
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: every decision, review and execution, who did it and when."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_account_id_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(64))
    """A user id, ``agent:<name>``, ``policy`` or ``outbox``."""
    event: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"))
    action_id: Mapped[int | None] = mapped_column(sa.ForeignKey("actions.id"))
    review_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reviews.id"))
    detail: Mapped[dict[str, Any]]


def table_of(model: type[Base]) -> sa.Table:
    """The Core table of a model, typed as a ``Table`` (``__table__`` is typed loosely)."""
    return cast(sa.Table, model.__table__)


class InterruptAnswer(Base):
    """An answer given to a review item's interrupt from a LangGraph client, as it was taken
    or refused: a run that replays the interrupt reuses it instead of deciding again."""

    __tablename__ = "interrupt_answers"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    """Thread, task and the interrupt's position in it."""
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id"))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    """``taken`` or ``refused``."""
    message: Mapped[str] = mapped_column(sa.Text)
    answered_at: Mapped[datetime]


class ApiToken(Base):
    """A user's bearer token for the HTTP API and the web inbox. Only the SHA-256 of the token
    is kept (see :mod:`revfield.memory._users` for why a fast hash is right for it); the token
    itself is shown once, when it is issued."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Hex SHA-256 of the whole token (``rvf_…``)."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    """When it stopped working (``revfield user revoke``); a revoked token is unknown."""
    last_used_at: Mapped[datetime | None]
    """When it was last presented, to the minute (written at most once a minute)."""


class Notification(Base):
    """A person to tell that an item reached their rung of the ladder: written in the same
    transaction as the climb, delivered through the ``notify`` executor at least once (always
    under the same idempotency key) and then marked ``sent``."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    """``escalated:<new review id>``: the same on every delivery of this notification."""
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id"))
    """The item opened on the new rung."""
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))
    recipient_id: Mapped[str | None] = mapped_column(sa.ForeignKey("users.id"))
    """Who holds the new rung for the account (None: nobody does)."""
    rung: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict[str, Any]]
    """What the notification says: the step (from, to), the action, the deadline, the reason."""
    status: Mapped[str] = mapped_column(sa.String(16))
    """``pending`` (not delivered yet) or ``sent``."""
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Worker(Base):
    """One ``revfield worker`` process: its heartbeat, and the database session (``backend_pid``)
    that holds its claims. A worker whose heartbeat is older than the lease is cut off (its
    session terminated, which frees its claims) and marked ``lost``."""

    __tablename__ = "workers"
    __table_args__ = (sa.Index("ix_workers_status_beat_at", "status", "beat_at"),)

    id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    """``<host>:<pid>:<random>``."""
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    backend_pid: Mapped[int | None]
    """The PostgreSQL backend of the connection that holds the worker's claims."""
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    """The database's time of the last heartbeat (one clock for every host)."""
    stopped_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    """``running``, ``stopped`` (shut down cleanly) or ``lost`` (cut off by another worker)."""
    units: Mapped[int] = mapped_column(sa.BigInteger)
    """Units of work done so far."""


class MotionBudgetDay(Base):
    """A motion's automated actions on one day (UTC), counted against its daily budget.

    A decision that would automate a budgeted motion takes one slot here before it is recorded
    (:func:`~revfield.memory.reserve_budget`): on PostgreSQL in a transaction of its own, so
    deciders for different accounts wait for each other only for that one update, never for
    each other's whole decision. ``spent`` never passes the budget; a slot whose decision was
    lost (a process killed before its commit) stays spent, so a day can end a slot or two under
    its budget, never over it."""

    __tablename__ = "motion_budget_days"

    motion: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    spent: Mapped[int]
    """Slots taken: the automated decisions of the motion that day, and any lost with their run."""


class Schedule(Base):
    """When a periodic sweep last ran (whichever worker ran it): a sweep runs once per period."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_at: Mapped[datetime]
    """The business clock's time of the last run."""
    worker_id: Mapped[str | None] = mapped_column(sa.String(120))
