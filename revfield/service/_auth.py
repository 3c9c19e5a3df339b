"""Who is calling: the bearer token (``Authorization: Bearer <token>``, or ``x-api-key:
<token>`` as LangGraph clients send it) names a user in memory, who answers as an
:class:`~revfield.review.Actor`; and what each caller may see.

Scope is the review package's: a seller sees their own accounts' owner-level items, a manager
their team's owner- and manager-level items, RevOps everything
(:func:`~revfield.review.may_answer`). An account (and its agent runs) is visible to its
owner, to the manager of the owner's team, and to RevOps. Anything outside a caller's scope
answers exactly as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from revfield.domain import Role
from revfield.memory import check_token, note_token_used
from revfield.review import Actor
from revfield.service._errors import ApiError
from revfield.service._state import Service, service

__all__ = ["CurrentActor", "current_actor", "require_role", "sees_account"]

_BEARER = HTTPBearer(
    auto_error=False,
    description="A revfield token (`revfield user add` prints one): `Authorization: Bearer rvf_…`",
)
_API_KEY = APIKeyHeader(
    name="x-api-key",
    auto_error=False,
    description="The same token as `x-api-key`, as the LangGraph SDK and Agent Inbox send it.",
)

_HELP = (
    "send your token as `Authorization: Bearer <token>` or `x-api-key: <token>` "
    "(`revfield user add NAME --role ROLE` prints one)"
)


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="revfield"'}
    )


def current_actor(
    request: Request,
    svc: Annotated[Service, Depends(service)],
    _bearer: Annotated[object, Depends(_BEARER)] = None,
    _key: Annotated[object, Depends(_API_KEY)] = None,
) -> Actor:
    """The caller, from their token (a FastAPI dependency). A missing, unknown or revoked
    token is 401."""
    header = request.headers.get("authorization")
    token: str | None = None
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized(f"the Authorization header is not `Bearer <token>`; {_HELP}")
        token = value.strip()
    else:
        token = (request.headers.get("x-api-key") or "").strip() or None
    if token is None:
        raise _unauthorized(f"no token; {_HELP}")
    now = svc.clock.now()
    with svc.store.read() as session:  # a read: no write lock on every request
        found = check_token(session, token, now=now)
    if found is not None and found.due:  # at most once a minute: a short write of its own
        with svc.store.session() as session:
            note_token_used(session, found.token_id, now=now)
    user = None if found is None else found.user
    if user is None:
        raise _unauthorized(
            "the token is unknown or revoked; ask RevOps for a new one (`revfield user add`, "
            "or a new token for your user)"
        )
    actor = Actor(user.id, user.role.value, user.team_id)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
"""The authenticated caller, as an endpoint parameter."""


def require_role(actor: Actor, *roles: Role, what: str) -> None:
    """Refuse (403) a caller whose role is not one of ``roles``."""
    if actor.role not in {r.value for r in roles}:
        allowed = " and ".join(r.value for r in roles)
        raise ApiError(403, "forbidden", f"{what} is for {allowed}; {actor.id} is a {actor.role}")


def sees_account(actor: Actor, owner_id: str | None, owner_team: str | None) -> bool:
    """Whether ``actor`` may see an account owned by ``owner_id`` of team ``owner_team``: its
    owner, the manager of the owner's team, RevOps."""
    if actor.role == Role.REVOPS.value:
        return True
    if actor.role == Role.MANAGER.value:
        return owner_team is not None and owner_team == actor.team_id
    return owner_id is not None and owner_id == actor.id
