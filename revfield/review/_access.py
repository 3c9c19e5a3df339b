"""Who may answer what: sellers their own accounts' items, managers their team's, RevOps all."""

from __future__ import annotations

from dataclasses import dataclass

from revfield.domain import Role
from revfield.errors import RevfieldError
from revfield.memory import Session, find_user, user_ids

__all__ = ["LOCAL_ADMIN", "RANK", "Actor", "ReviewError", "may_answer", "resolve_actor"]

RANK = {"seller": 0, "owner": 0, "manager": 1, "revops": 2}
"""How far up the ladder a role or rung reaches."""


class ReviewError(RevfieldError):
    """An answer that can't be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Actor:
    """The person answering: their user id, role and team (and the operator acting for
    them, if any)."""

    id: str
    role: str
    team_id: str | None = None
    operator: str | None = None
    """Who gave the answer on this person's behalf, when it is not the person: the command
    line's ``--as USER`` puts the local machine's user here (``pat@laptop``). The audit entry
    of the answer names both: the actor, and ``operator`` in its detail."""


LOCAL_ADMIN = Actor("local-admin", Role.REVOPS.value)
"""Who answers from the command line when no ``--as USER`` is given: the operator."""


def resolve_actor(session: Session, user_id: str | None) -> Actor:
    """The :class:`Actor` for a user id (:data:`LOCAL_ADMIN` for None); an unknown id is a
    :class:`ReviewError` naming some users that exist."""
    if user_id is None:
        return LOCAL_ADMIN
    user = find_user(session, user_id)
    if user is None:
        known = user_ids(session)
        raise ReviewError(
            f"no user `{user_id}`" + (f"; users include {', '.join(known)}" if known else "")
        )
    return Actor(user.id, user.role.value, user.team_id)


def may_answer(actor: Actor, rung: str, owner_id: str | None, owner_team: str | None) -> bool:
    """Sellers answer their own accounts' owner-level items; managers their team's owner- and
    manager-level items; RevOps everything."""
    if actor.role == Role.REVOPS.value:
        return True
    if actor.role == Role.MANAGER.value:
        return (
            rung in ("owner", "manager") and owner_team is not None and owner_team == actor.team_id
        )
    return rung == "owner" and owner_id == actor.id
