"""What the field did, read back from memory: for ``revfield run`` and the demo's summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from revfield.memory._tables import ACTIONS, DECISIONS, EVENTS, OUTBOX, REVIEWS

__all__ = ["FieldSummary", "field_summary", "high_water"]


@dataclass
class FieldSummary:
    """What the field did, read back from memory: field events, actions by their first
    decision (and the discounts among them), guardrail trips, what waits for people, what the
    outbox executed, and how much the onboarding handovers carried across the close."""

    events: Counter[str] = field(default_factory=Counter)
    """Field events raised, by kind."""
    verdicts: Counter[str] = field(default_factory=Counter)
    """Actions by their first decision."""
    discounts: Counter[str] = field(default_factory=Counter)
    """``offer_discount`` actions (the deal desk's, or submitted) by their first decision."""
    guardrail_trips: Counter[str] = field(default_factory=Counter)
    """Guardrail id → decisions it made stricter."""
    pending_reviews: int = 0
    """Review items still waiting for a person (all of them, not only since ``since``)."""
    executed: int = 0
    """Outbox items the executor carried out (all of them)."""
    outbox_failed: int = 0
    outbox_cancelled: int = 0
    """Items cancelled because what they waited for will never go out (a rejected email's
    follow-up)."""
    handovers: int = 0
    """Onboarding handover briefs proposed."""
    facts_known: int = 0
    """Acquisition facts the handed-over accounts had."""
    facts_carried: int = 0
    """Of those, the facts their handover briefs carried."""
    unsupported_promises: int = 0
    """Promises made while selling that the capability catalog says the product can't keep."""

    @property
    def conservation(self) -> float:
        """Information conserved at handover: the share of acquisition facts the briefs
        carried (0 without handovers)."""
        return self.facts_carried / self.facts_known if self.facts_known else 0.0

    @property
    def actions(self) -> int:
        """Actions decided."""
        return sum(self.verdicts.values())


def high_water(session: Session) -> tuple[int, int]:
    """The newest field event and action ids: pass them to summarise only what follows."""
    return (
        session.execute(sa.select(sa.func.coalesce(sa.func.max(EVENTS.c.id), 0))).scalar_one(),
        session.execute(sa.select(sa.func.coalesce(sa.func.max(ACTIONS.c.id), 0))).scalar_one(),
    )


def field_summary(session: Session, since: tuple[int, int] = (0, 0)) -> FieldSummary:
    """Summarise what the field did, for ``revfield run`` and the demo. ``since`` is a
    :func:`high_water` mark taken earlier: events, decisions and handovers count only after it;
    pending reviews and outbox results count all."""
    event_min, action_min = since
    s = FieldSummary()
    for kind, n in session.execute(
        sa.select(EVENTS.c.kind, sa.func.count())
        .where(EVENTS.c.id > event_min)
        .group_by(EVENTS.c.kind)
    ):
        s.events[kind] = n
    first = (
        sa.select(DECISIONS.c.action_id, sa.func.min(DECISIONS.c.id).label("id"))
        .where(DECISIONS.c.action_id > action_min)
        .group_by(DECISIONS.c.action_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(DECISIONS.c.verdict, DECISIONS.c.guardrails, ACTIONS.c.kind)
        .join(first, first.c.id == DECISIONS.c.id)
        .join(ACTIONS, ACTIONS.c.id == DECISIONS.c.action_id)
    ).all()
    for verdict, guardrails, kind in rows:
        s.verdicts[verdict] += 1
        if kind == "offer_discount":
            s.discounts[verdict] += 1
        for g in guardrails:
            if g.get("tightened"):
                s.guardrail_trips[g["id"]] += 1
    s.pending_reviews = session.execute(
        sa.select(sa.func.count()).select_from(REVIEWS).where(REVIEWS.c.status == "pending")
    ).scalar_one()
    outbox: dict[str, int] = {
        status: n
        for status, n in session.execute(
            sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
        )
    }
    s.executed = outbox.get("sent", 0)
    s.outbox_failed, s.outbox_cancelled = outbox.get("failed", 0), outbox.get("cancelled", 0)
    for (proposal,) in session.execute(
        sa.select(ACTIONS.c.proposal).where(
            ACTIONS.c.kind == "handover_brief", ACTIONS.c.id > action_min
        )
    ):
        c = proposal.get("payload", {}).get("conservation", {})
        s.handovers += 1
        s.facts_known += int(c.get("known", 0))
        s.facts_carried += int(c.get("carried", 0))
        s.unsupported_promises += int(proposal.get("unsupported_promises", 0))
    return s
