"""The statuses an action, a review item, an outbox item, a field event and a churn risk move
through, and the only moves allowed between them. The memory refuses any other move (see
:func:`revfield.memory.transition`), so two writers can never both win one.

===================  ======================================================================
machine              allowed moves
===================  ======================================================================
action               (new) → ``pending_review`` | ``queued`` | ``blocked``;
                     ``pending_review`` → ``approved`` | ``rejected`` | ``blocked`` |
                     ``cancelled``; ``approved`` → ``queued``; ``queued`` → ``executed`` |
                     ``failed`` | ``cancelled``
review item          (new) → ``pending``; ``pending`` → ``approved`` | ``rejected`` |
                     ``superseded``
outbox item          (new) → ``pending`` | ``waiting``; ``waiting`` → ``pending`` (what
                     it waits for was executed) | ``cancelled``; ``pending`` → ``sending`` |
                     ``cancelled``; ``sending`` → ``sent`` | ``pending`` (retry) | ``failed`` |
                     ``sending`` (claimed again once the lease ran out)
field event          (new) → ``pending`` | ``ignored``; ``pending`` → ``running`` | ``done``;
                     ``running`` → ``waiting`` | ``done``; ``waiting`` → ``done``
churn risk           (new) → ``open``; ``open`` → ``addressed`` (its save play was carried
                     out) | ``resolved``; ``addressed`` → ``resolved``
===================  ======================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import cast

__all__ = [
    "ActionStatus",
    "EventStatus",
    "OutboxStatus",
    "ReviewStatus",
    "RiskStatus",
    "Status",
    "allowed_from",
    "initial",
]


class ActionStatus(StrEnum):
    """Where a proposed action stands."""

    PENDING_REVIEW = "pending_review"
    """Waits for a person's answer (its verdict was ``review`` or ``escalate``)."""
    QUEUED = "queued"
    """In the outbox, to be carried out (``auto``, or approved)."""
    BLOCKED = "blocked"
    """The policy blocked it (or an edit made it blocked): recorded, never executed."""
    APPROVED = "approved"
    """A person approved it; its run queues it next."""
    REJECTED = "rejected"
    """A person rejected it: never executed."""
    EXECUTED = "executed"
    """The executor carried it out."""
    FAILED = "failed"
    """The executor refused it, or gave up after retries."""
    CANCELLED = "cancelled"
    """It waited for another action that will never go out."""

    @property
    def gone(self) -> bool:
        """Whether the action will never be carried out: what waits for it is cancelled."""
        return self in _GONE


_GONE = frozenset(
    {ActionStatus.REJECTED, ActionStatus.BLOCKED, ActionStatus.FAILED, ActionStatus.CANCELLED}
)


class ReviewStatus(StrEnum):
    """Where a review item stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    """Moved up the ladder, re-escalated after an edit, or closed because what its action
    waited for won't go out."""


class OutboxStatus(StrEnum):
    """Where an outbox item stands."""

    WAITING = "waiting"
    """Its action waits for another (``after_action_id``) not executed yet: not due. It
    becomes ``pending`` in the transaction that records that action executed."""
    PENDING = "pending"
    """Due: a worker (or, for an item its caller carries out, the caller) may claim it."""
    SENDING = "sending"
    """Claimed by a worker; claimed again once its lease runs out."""
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """What it waited for will never go out."""


class EventStatus(StrEnum):
    """Where a field event stands with its agent run."""

    PENDING = "pending"
    """Waits for its agent."""
    RUNNING = "running"
    """Its run is under way (or was cut off and will be taken up again)."""
    WAITING = "waiting"
    """Its run is paused until people answer."""
    DONE = "done"
    IGNORED = "ignored"
    """No agent acts on it: updating the memory was the whole effect."""


class RiskStatus(StrEnum):
    """Where an account's churn risk stands: opened by a churn-risk fact, worked off by a
    save play, or resolved."""

    OPEN = "open"
    """Churn signals are on record and nothing has been done yet: expansion waits."""
    ADDRESSED = "addressed"
    """Its save play was carried out; expansion is proposed again (the policy decides)."""
    RESOLVED = "resolved"
    """A person closed it with a reason, or signals the pack calls recovery did."""


Status = ActionStatus | ReviewStatus | OutboxStatus | EventStatus | RiskStatus

A, R, OB, E, K = ActionStatus, ReviewStatus, OutboxStatus, EventStatus, RiskStatus
_MOVES: Mapping[type[StrEnum], Mapping[StrEnum | None, frozenset[StrEnum]]] = {
    ActionStatus: {
        None: frozenset({A.PENDING_REVIEW, A.QUEUED, A.BLOCKED}),
        A.PENDING_REVIEW: frozenset({A.APPROVED, A.REJECTED, A.BLOCKED, A.CANCELLED}),
        A.APPROVED: frozenset({A.QUEUED}),
        A.QUEUED: frozenset({A.EXECUTED, A.FAILED, A.CANCELLED}),
    },
    ReviewStatus: {
        None: frozenset({R.PENDING}),
        R.PENDING: frozenset({R.APPROVED, R.REJECTED, R.SUPERSEDED}),
    },
    OutboxStatus: {
        None: frozenset({OB.PENDING, OB.WAITING}),
        OB.WAITING: frozenset({OB.PENDING, OB.CANCELLED}),
        OB.PENDING: frozenset({OB.SENDING, OB.CANCELLED}),
        OB.SENDING: frozenset({OB.SENT, OB.PENDING, OB.FAILED, OB.SENDING}),
    },
    EventStatus: {
        None: frozenset({E.PENDING, E.IGNORED}),
        E.PENDING: frozenset({E.RUNNING, E.DONE}),
        E.RUNNING: frozenset({E.WAITING, E.DONE}),
        E.WAITING: frozenset({E.DONE}),
    },
    RiskStatus: {
        None: frozenset({K.OPEN}),
        K.OPEN: frozenset({K.ADDRESSED, K.RESOLVED}),
        K.ADDRESSED: frozenset({K.RESOLVED}),
    },
}
"""Status type → current status (None: a new row) → the statuses it may move to."""


def allowed_from(to: Status) -> frozenset[Status]:
    """Every status that may move to ``to``."""
    moves = _MOVES[type(to)]
    return frozenset(
        cast(Status, s) for s, targets in moves.items() if s is not None and to in targets
    )


def initial(status: Status) -> bool:
    """Whether a new row may start in ``status``."""
    return status in _MOVES[type(status)][None]
