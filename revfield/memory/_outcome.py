"""What a run left in memory, whole: every action with its first decision, its review items
and its outbox item; every field event; model calls; dead letters. For the eval suite, which
compares it with a scenario's expectations (small memories: everything is read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._tables import (
    ACCOUNTS,
    ACTIONS,
    CHURN_RISKS,
    CONTACTS,
    DEAD_LETTERS,
    DEALS,
    DECISIONS,
    EVENTS,
    FACTS,
    MODEL_CALLS,
    OUTBOX,
    REVIEWS,
    SIGNALS,
)

__all__ = [
    "ActionOutcome",
    "EventOutcome",
    "FactOutcome",
    "ItemOutcome",
    "RunOutcome",
    "run_outcome",
]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One review item of an action."""

    id: int
    status: str
    level: int
    assignee_role: str
    assignee_id: str | None
    answered_by: str | None
    edits: dict[str, Any] | None
    reason: str


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """An action, what first decided it, who it waited for and what became of it."""

    id: int
    account_id: str
    contact_email: str | None
    agent: str
    kind: str
    motion: str
    status: str
    proposal: dict[str, Any]
    verdict: str
    """The first decision's verdict."""
    rules: tuple[str, ...]
    guardrails: tuple[str, ...]
    """Guardrails that tightened the first decision."""
    escalate_to: str | None
    explanation: str
    items: tuple[ItemOutcome, ...]
    outbox_status: str | None
    created_at: datetime
    final_verdict: str = ""
    """The last decision's verdict (after an edit: the re-decision)."""
    later_explanations: tuple[str, ...] = ()
    """The explanations of the decisions after the first."""

    @property
    def rung(self) -> str | None:
        """Who it first waited for: ``owner`` (a seller's review), ``manager``, ``revops``."""
        if self.items:
            role = self.items[0].assignee_role
            return "owner" if role == "seller" else role
        if self.verdict == "escalate":
            return self.escalate_to or "manager"
        return "owner" if self.verdict == "review" else None

    @property
    def executed(self) -> bool:
        return self.status == "executed" or self.outbox_status == "sent"

    @property
    def answered_by_person(self) -> bool:
        """Whether a person approved it (or an edited version of it)."""
        return any(i.status == "approved" for i in self.items)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """A field event as a run left it."""

    id: int
    account_id: str
    kind: str
    detail: str
    status: str
    agent: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FactOutcome:
    """A current fact (not superseded)."""

    account_id: str
    type: str
    subject: str | None
    value: str


@dataclass
class RunOutcome:
    """Everything a run left in memory that a scenario can expect something of."""

    actions: list[ActionOutcome] = field(default_factory=list)
    events: list[EventOutcome] = field(default_factory=list)
    signals: int = 0
    dead_letters: int = 0
    model_calls: int = 0
    model_failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_latency_ms: list[float] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    """Outbox items by status."""
    facts: list[FactOutcome] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)
    """Account id → customer state."""
    contacts: dict[str, bool] = field(default_factory=dict)
    """Contact e-mail → do not contact."""
    deals: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Deal id → (stage, outcome)."""
    risks: dict[str, str] = field(default_factory=dict)
    """Account id → the status of its newest churn risk."""


def run_outcome(session: Session) -> RunOutcome:
    """Read the whole outcome of a run (all of memory: meant for an eval's small world)."""
    out = RunOutcome()
    first = (
        sa.select(DECISIONS.c.action_id, sa.func.min(DECISIONS.c.id).label("id"))
        .where(DECISIONS.c.action_id.is_not(None))
        .group_by(DECISIONS.c.action_id)
        .subquery()
    )
    items: dict[int, list[ItemOutcome]] = {}
    for r in session.execute(sa.select(REVIEWS).order_by(REVIEWS.c.id)).mappings():
        items.setdefault(r["action_id"], []).append(
            ItemOutcome(
                r["id"],
                r["status"],
                r["level"],
                r["assignee_role"],
                r["assignee_id"],
                r["answered_by"],
                r["edits"],
                r["reason"] or "",
            )
        )
    outbox = {
        r.action_id: r.status
        for r in session.execute(sa.select(OUTBOX.c.action_id, OUTBOX.c.status))
    }
    later: dict[int, list[tuple[str, str]]] = {}
    for action_id, verdict, explanation in session.execute(
        sa.select(DECISIONS.c.action_id, DECISIONS.c.verdict, DECISIONS.c.explanation)
        .where(DECISIONS.c.action_id.is_not(None))
        .order_by(DECISIONS.c.id)
    ):
        later.setdefault(action_id, []).append((verdict, explanation or ""))
    query = (
        sa.select(
            ACTIONS,
            CONTACTS.c.email.label("contact_email"),
            DECISIONS.c.verdict,
            DECISIONS.c.matched_rules,
            DECISIONS.c.guardrails,
            DECISIONS.c.escalate_to,
            DECISIONS.c.explanation,
        )
        .select_from(ACTIONS)
        .join(first, first.c.action_id == ACTIONS.c.id, isouter=True)
        .join(DECISIONS, DECISIONS.c.id == first.c.id, isouter=True)
        .join(CONTACTS, CONTACTS.c.id == ACTIONS.c.contact_id, isouter=True)
        .order_by(ACTIONS.c.id)
    )
    for r in session.execute(query).mappings():
        out.actions.append(
            ActionOutcome(
                id=r["id"],
                account_id=r["account_id"],
                contact_email=r["contact_email"],
                agent=r["agent"],
                kind=r["kind"],
                motion=r["motion"],
                status=r["status"],
                proposal=r["proposal"],
                verdict=r["verdict"] or "",
                rules=tuple(r["matched_rules"] or ()),
                guardrails=tuple(g["id"] for g in (r["guardrails"] or ()) if g.get("tightened")),
                escalate_to=r["escalate_to"],
                explanation=r["explanation"] or "",
                items=tuple(items.get(r["id"], ())),
                outbox_status=outbox.get(r["id"]),
                created_at=r["created_at"],
                final_verdict=later[r["id"]][-1][0] if later.get(r["id"]) else "",
                later_explanations=tuple(e for _, e in later.get(r["id"], [])[1:]),
            )
        )
    for r in session.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings():
        out.events.append(
            EventOutcome(
                r["id"], r["account_id"], r["kind"], r["detail"], r["status"], r["agent"], r["data"]
            )
        )
    out.signals = session.execute(sa.select(sa.func.count()).select_from(SIGNALS)).scalar_one()
    out.dead_letters = session.execute(
        sa.select(sa.func.count()).select_from(DEAD_LETTERS)
    ).scalar_one()
    for ok, latency, prompt, completion in session.execute(
        sa.select(
            MODEL_CALLS.c.ok,
            MODEL_CALLS.c.latency_ms,
            MODEL_CALLS.c.prompt_tokens,
            MODEL_CALLS.c.completion_tokens,
        )
    ):
        out.model_calls += 1
        out.model_failures += not ok
        out.prompt_tokens += prompt
        out.completion_tokens += completion
        out.model_latency_ms.append(float(latency))
    out.facts = [
        FactOutcome(*row)
        for row in session.execute(
            sa.select(FACTS.c.account_id, FACTS.c.type, FACTS.c.subject, FACTS.c.value)
            .where(FACTS.c.superseded_by.is_(None))
            .order_by(FACTS.c.id)
        )
    ]
    out.accounts = {
        i: str(state)
        for i, state in session.execute(sa.select(ACCOUNTS.c.id, ACCOUNTS.c.customer_state))
    }
    out.contacts = {
        email: bool(dnc)
        for email, dnc in session.execute(sa.select(CONTACTS.c.email, CONTACTS.c.do_not_contact))
        if email
    }
    out.deals = {
        i: (stage, str(outcome))
        for i, stage, outcome in session.execute(
            sa.select(DEALS.c.id, DEALS.c.stage, DEALS.c.outcome)
        )
    }
    for account_id, status in session.execute(
        sa.select(CHURN_RISKS.c.account_id, CHURN_RISKS.c.status).order_by(CHURN_RISKS.c.id)
    ):
        out.risks[account_id] = status
    out.outbox = {
        status: n
        for status, n in session.execute(
            sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
        )
    }
    return out
