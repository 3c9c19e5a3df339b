"""People and their bearer tokens: adding a user, issuing, checking and revoking tokens, the
list ``revfield user list`` shows, and the audit entries of logins.

A token is ``rvf_`` followed by :func:`secrets.token_urlsafe` of 32 bytes (256 random bits).
It is shown once, when it is issued; the memory keeps only its SHA-256 (hex).

**Why a fast hash, and not a slow salted one (bcrypt, scrypt, Argon2).** A slow, salted hash
protects *passwords*: people choose them, so there are few enough likely ones that an attacker
holding a leaked hash can try them all, and the slowness and the salt are what make that
expensive. A token is not chosen by anyone: it is 256 bits from the operating system's
random source, so a leaked SHA-256 of it can't be reversed by trying candidates — there are
2^256 of them, and no dictionary — whether each try costs a nanosecond or a second. A salt
adds nothing either: no two tokens share a value, and nobody precomputes tables over 2^256
inputs. What a slow hash would cost is real: every HTTP request verifies its token, the inbox's
p95 target is 50 ms, and bcrypt or Argon2 spend tens to hundreds of milliseconds per check by
design. SHA-256 takes about a microsecond, and because it is deterministic the token is found
by one indexed lookup of its hash (a salted hash would need the user first, i.e. a second
identifier in every request). An HMAC with a server secret would add protection only if the
database leaked without the secret; with 256-bit tokens there is nothing left to protect, and
one more secret to keep and rotate is one more thing to lose. Comparing by an index lookup
leaks no useful timing either: an attacker who can't invert SHA-256 can't choose hashes to
probe the index with.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from revfield._text import did_you_mean
from revfield.domain import Role
from revfield.errors import RevfieldError
from revfield.memory._audit import audit
from revfield.memory._reviews import UserRow
from revfield.memory._tables import API_TOKENS, TEAMS, USERS
from revfield.memory._types import as_utc

__all__ = [
    "LAST_USED_EVERY",
    "TOKEN_PREFIX",
    "TokenCheck",
    "UserError",
    "UserListing",
    "add_user",
    "audit_login",
    "check_token",
    "issue_token",
    "list_users",
    "note_token_used",
    "resolve_user_id",
    "revoke_tokens",
    "user_for_token",
    "user_for_token_hash",
    "user_id_from_name",
]

TOKEN_PREFIX = "rvf_"
"""How every revfield token starts: recognisable in a config file, a log line or a secret
scanner's rules (a log redacts anything that starts with it)."""

LAST_USED_EVERY = timedelta(minutes=1)
"""A token's ``last_used_at`` moves at most this often: not a write on every request."""

_MAX_TOKEN = 200
"""Longer than any token revfield issues: refused without a lookup."""

_ROLES = ", ".join(r.value for r in Role)


class UserError(RevfieldError):
    """A user can't be added or found as asked: the id is taken, the team or role doesn't
    exist, the email belongs to someone else, no user has that id or name."""


@dataclass(frozen=True, slots=True)
class UserListing:
    """A user as ``revfield user list`` shows them."""

    id: str
    name: str
    role: Role
    team_id: str | None
    email: str | None
    created_at: datetime
    active_tokens: int
    """Tokens issued and not revoked (0: the user can't sign in to the service)."""
    last_used_at: datetime | None
    """When any of their tokens was last presented (to the minute), if ever."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_id_from_name(name: str) -> str:
    """A user id made from a person's name: ``Ana Lima`` → ``ana-lima`` (lower case, runs of
    anything but letters and digits made one ``-``); empty when the name has neither."""
    return re.sub(r"[\W_]+", "-", name.strip().lower()).strip("-")[:64]


def _check_id(user_id: str) -> None:
    if not user_id or len(user_id) > 64 or any(c.isspace() or not c.isprintable() for c in user_id):
        raise UserError(f"`{user_id}` can't be a user id: give 1 to 64 characters, without spaces")


def _describe(session: Session, user_id: str) -> str:
    row = session.execute(
        sa.select(USERS.c.name, USERS.c.role, USERS.c.team_id).where(USERS.c.id == user_id)
    ).first()
    if row is None:
        return user_id
    team = f" in {row.team_id}" if row.team_id else ""
    return f"{user_id} ({row.name}, {Role(row.role).value}{team})"


def add_user(
    session: Session,
    *,
    id: str,
    name: str,
    role: Role | str,
    team_id: str | None,
    email: str | None,
    now: datetime,
    new_team: bool = False,
    actor: str = "local-admin",
    operator: str | None = None,
) -> UserRow:
    """Add a person who answers reviews, without a token (:func:`issue_token` gives one), and
    audit it (``user_added``, by ``actor``; ``operator``: who typed it, when not the actor).
    ``new_team``: create the team ``team_id`` if there is none of that id (else an unknown
    team is refused: a typo would leave a manager in charge of nobody). Raises
    :class:`UserError` when the id is taken or malformed, the role or team is unknown, a
    manager has no team, or the email belongs to another user."""
    user_id = id.strip()
    _check_id(user_id)
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError("a user's name is 1 to 200 characters")
    try:
        wanted = Role(role)
    except ValueError:
        raise UserError(f"unknown role `{role}`; a user is one of {_ROLES}") from None
    if session.execute(sa.select(USERS.c.id).where(USERS.c.id == user_id)).first() is not None:
        raise UserError(
            f"a user `{user_id}` already exists: {_describe(session, user_id)}; nothing was "
            "changed\n  help: give the new user another id"
        )
    created_team = False
    if team_id is not None:
        team_id = team_id.strip()
        if not team_id or len(team_id) > 64:
            raise UserError("a team id is 1 to 64 characters")
        known_team = (
            session.execute(sa.select(TEAMS.c.id).where(TEAMS.c.id == team_id)).first() is not None
        )
        created_team = new_team and not known_team
        if not known_team and not new_team:
            teams = list(
                session.execute(sa.select(TEAMS.c.id).order_by(TEAMS.c.id).limit(500)).scalars()
            )
            known = (
                f"; teams: {', '.join(teams[:8])}{', …' if len(teams) > 8 else ''}"
                if teams
                else "; there are no teams yet (CRM imports create them)"
            )
            raise UserError(
                f"no team `{team_id}`{did_you_mean(team_id, teams)}{known}\n  help: name a team "
                "that exists, or create it with the user (`--new-team` on the command line)"
            )
    elif wanted is Role.MANAGER:
        raise UserError("a manager answers for their team's accounts, so give the manager a team")
    if email is not None:
        email = email.strip().lower()
        if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
            raise UserError(f"`{email}` is not an email address")
        taken = session.execute(sa.select(USERS.c.id).where(USERS.c.email == email)).scalar()
        if taken is not None:
            raise UserError(f"the email {email} already belongs to {_describe(session, taken)}")
    values = {
        "id": user_id,
        "name": name,
        "email": email,
        "role": wanted.value,
        "team_id": team_id,
        "created_at": now,
    }
    try:
        with session.begin_nested():  # a concurrent add of the same id or email loses here
            if created_team:
                session.execute(
                    sa.insert(TEAMS), {"id": team_id, "name": team_id, "created_at": now}
                )
            session.execute(sa.insert(USERS), values)
    except sa.exc.IntegrityError:
        raise UserError(
            f"a user `{user_id}` (or one with email {email}, or the team {team_id}) was added "
            "just now by someone else; nothing was changed"
        ) from None
    audit(
        session,
        actor=actor,
        event="user_added",
        at=now,
        user=user_id,
        role=wanted.value,
        team=team_id,
        **({"new_team": True} if created_team else {}),
        **_by(operator),
    )
    return UserRow(user_id, wanted, team_id)


def _by(operator: str | None) -> dict[str, Any]:
    return {} if operator is None else {"operator": operator}


def _must_exist(session: Session, user_id: str) -> None:
    if session.execute(sa.select(USERS.c.id).where(USERS.c.id == user_id)).first() is None:
        known = list(session.execute(sa.select(USERS.c.id).limit(5000)).scalars())
        raise UserError(f"no user `{user_id}`{did_you_mean(user_id, known)}")


def issue_token(
    session: Session,
    user_id: str,
    *,
    now: datetime,
    actor: str = "local-admin",
    operator: str | None = None,
) -> str:
    """A new bearer token for ``user_id``: returned once, here; only its hash is kept. Other
    tokens of the user keep working (:func:`revoke_tokens` ends them). Audited as
    ``token_issued`` (never the token). Raises :class:`UserError` for an unknown user."""
    _must_exist(session, user_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = session.execute(
        sa.insert(API_TOKENS).returning(API_TOKENS.c.id),
        {"user_id": user_id, "token_hash": _hash(token), "created_at": now},
    ).scalar_one()
    audit(
        session,
        actor=actor,
        event="token_issued",
        at=now,
        user=user_id,
        token_id=int(token_id),
        **_by(operator),
    )
    return token


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """A working token's user, and whether its ``last_used_at`` is due to move."""

    user: UserRow
    token_id: int
    due: bool
    """True when the token was last noted :data:`LAST_USED_EVERY` ago or more (or never):
    :func:`note_token_used` should write it."""


def check_token(session: Session, token: str, *, now: datetime) -> TokenCheck | None:
    """The user a bearer token belongs to, read only (any session, :meth:`~revfield.memory.
    Store.read` too): None when it is unknown, malformed or revoked. ``due`` says whether to
    note the use (:func:`note_token_used`, in a short write of its own)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    return _check_hash(session, _hash(token), now=now)


def _check_hash(session: Session, token_hash: str, *, now: datetime) -> TokenCheck | None:
    row = session.execute(
        sa.select(
            API_TOKENS.c.id,
            API_TOKENS.c.last_used_at,
            USERS.c.id.label("uid"),
            USERS.c.role,
            USERS.c.team_id,
        )
        .select_from(API_TOKENS.join(USERS, USERS.c.id == API_TOKENS.c.user_id))
        .where(API_TOKENS.c.token_hash == token_hash, API_TOKENS.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    last = row.last_used_at
    due = last is None or as_utc(last) <= now - LAST_USED_EVERY
    return TokenCheck(UserRow(row.uid, Role(row.role), row.team_id), int(row.id), due)


def note_token_used(session: Session, token_id: int, *, now: datetime) -> None:
    """Note that the token ``token_id`` was used at ``now``, unless it was noted less than
    :data:`LAST_USED_EVERY` before (concurrent requests write it once)."""
    stale = now - LAST_USED_EVERY
    session.execute(
        sa.update(API_TOKENS)
        .where(
            API_TOKENS.c.id == token_id,
            sa.or_(API_TOKENS.c.last_used_at.is_(None), API_TOKENS.c.last_used_at <= stale),
        )
        .values(last_used_at=now)
    )


def user_for_token(session: Session, token: str, *, now: datetime) -> UserRow | None:
    """The user a bearer token belongs to; None when it is unknown, malformed or revoked.
    Notes when it was used (``last_used_at``), at most once per :data:`LAST_USED_EVERY`, so
    checking a token is one indexed read and only rarely a write: call it in a session that
    may write (:meth:`~revfield.memory.Store.session`). A service that checks a token on
    every request reads with :func:`check_token` and writes with :func:`note_token_used`
    only when it is due."""
    found = check_token(session, token, now=now)
    if found is None:
        return None
    if found.due:
        note_token_used(session, found.token_id, now=now)
    return found.user


def user_for_token_hash(session: Session, token_hash: str) -> UserRow | None:
    """The user whose working token has this SHA-256 (hex, as the memory keeps it); None once
    the token is revoked. Read only. For a session that keeps the token's hash and not the
    token (the web inbox's cookie): revoking the token ends the session at its next request."""
    if len(token_hash) != 64:
        return None
    row = session.execute(
        sa.select(USERS.c.id, USERS.c.role, USERS.c.team_id)
        .select_from(API_TOKENS.join(USERS, USERS.c.id == API_TOKENS.c.user_id))
        .where(API_TOKENS.c.token_hash == token_hash, API_TOKENS.c.revoked_at.is_(None))
    ).first()
    return None if row is None else UserRow(row.id, Role(row.role), row.team_id)


def revoke_tokens(
    session: Session,
    user_id: str,
    *,
    now: datetime,
    actor: str = "local-admin",
    operator: str | None = None,
) -> int:
    """Revoke every token of ``user_id`` that still works; returns how many. From then on
    they are unknown to :func:`user_for_token`. Audited as ``tokens_revoked`` when there were
    any. Raises :class:`UserError` for an unknown user."""
    _must_exist(session, user_id)
    revoked = sa.update(API_TOKENS).where(
        API_TOKENS.c.user_id == user_id, API_TOKENS.c.revoked_at.is_(None)
    )
    count = cast(CursorResult[Any], session.execute(revoked.values(revoked_at=now))).rowcount
    if count:
        audit(
            session,
            actor=actor,
            event="tokens_revoked",
            at=now,
            user=user_id,
            count=count,
            **_by(operator),
        )
    return int(count)


def list_users(session: Session) -> list[UserListing]:
    """Every user, by id, with how many working tokens each has and when one was last used."""
    active = sa.func.sum(sa.case((API_TOKENS.c.revoked_at.is_(None), 1), else_=0))
    tokens = (
        sa.select(
            API_TOKENS.c.user_id,
            active.label("active"),
            sa.func.max(API_TOKENS.c.last_used_at).label("last_used"),
        )
        .group_by(API_TOKENS.c.user_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(USERS, tokens.c.active, tokens.c.last_used)
        .select_from(USERS.outerjoin(tokens, tokens.c.user_id == USERS.c.id))
        .order_by(USERS.c.id)
    ).mappings()
    return [
        UserListing(
            id=r["id"],
            name=r["name"],
            role=Role(r["role"]),
            team_id=r["team_id"],
            email=r["email"],
            created_at=r["created_at"],
            active_tokens=int(r["active"] or 0),
            last_used_at=as_utc(r["last_used"]) if r["last_used"] is not None else None,
        )
        for r in rows
    ]


def resolve_user_id(session: Session, wanted: str) -> str:
    """What a person typed — a user id, or a name (any case) only one user has — as a user
    id. Raises :class:`UserError` naming the users it could mean."""
    text = wanted.strip()
    if session.execute(sa.select(USERS.c.id).where(USERS.c.id == text)).first() is not None:
        return text
    named = list(
        session.execute(
            sa.select(USERS.c.id)
            .where(sa.func.lower(USERS.c.name) == text.lower())
            .order_by(USERS.c.id)
            .limit(6)
        ).scalars()
    )
    if len(named) == 1:
        return str(named[0])
    if named:
        raise UserError(f"{len(named)} users are named {text}: {', '.join(named)}; give the id")
    known = list(session.execute(sa.select(USERS.c.id).limit(5000)).scalars())
    raise UserError(
        f"no user `{text}`{did_you_mean(text, known)}\n  help: `revfield user list` shows them"
    )


def audit_login(
    session: Session,
    *,
    user_id: str | None,
    now: datetime,
    ok: bool = True,
    via: str = "web",
    **detail: Any,
) -> None:
    """Append a login to the audit trail: ``login`` by the user, or ``login_refused`` (by
    ``anonymous`` when no user was recognised). ``via`` says where (``web``, ``api``);
    ``detail`` adds what helps later (the client's address, a request id) — never the token."""
    audit(
        session,
        actor=user_id or "anonymous",
        event="login" if ok else "login_refused",
        at=now,
        via=via,
        **detail,
    )
