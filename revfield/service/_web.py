"""The web inbox: server-rendered pages (Jinja2, no JavaScript) where a person signs in with
their token, reads what waits for them and why, and approves, edits or rejects it.

- ``GET/POST /login``, ``POST /logout``: a token in, a session cookie out. The cookie is
  HttpOnly, SameSite=Lax, Secure when the request came over TLS (behind a proxy: uvicorn's
  ``--forwarded-allow-ips`` makes a trusted ``X-Forwarded-Proto`` count), and signed
  (HMAC-SHA256) with ``REVFIELD_SECRET_KEY`` or, when that is unset, a random secret of the
  process (everyone signs in again after a restart). It holds the user id and the SHA-256 of
  the token, never the token: each request checks that the token still works, so revoking it
  ends the session. Logins, accepted and refused, go to the audit trail.
- ``GET /``: the caller's items (the API's scope), each with the action, who it is for, the
  deadline, and why: the rules that matched, the explanation, the cited facts and signals
  (linked to the account's timeline, ``GET /accounts/{id}/timeline``).
- ``GET /items/{id}`` and ``POST /items/{id}/approve|edit|reject``: the item and its three
  forms; each sends back the digest the page showed (a stale one is refused, nothing
  changes). Answers go through :func:`~revfield.service._reviews.answer_item`, as the API's.

Every form carries the session's CSRF token; a POST without it is refused (403). An item or
account outside the caller's scope is a 404 page, exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from revfield.config import load_settings
from revfield.domain import EDITABLE
from revfield.memory import (
    AccountMemory,
    AccountNotFoundError,
    Session,
    account_owner,
    audit_login,
    find_account_id,
    recall,
    trace_of,
    user_for_token,
    user_for_token_hash,
)
from revfield.review import Actor, InboxItem, inbox, inbox_page
from revfield.service._auth import sees_account
from revfield.service._errors import ApiError
from revfield.service._reviews import answer_item, item_action
from revfield.service._state import Service, service
from revfield.service._storable import problem_in

__all__ = ["COOKIE", "SESSION_LIFETIME", "router"]

log = structlog.get_logger("revfield.service.web")

router = APIRouter(include_in_schema=False)

ServiceDep = Annotated[Service, Depends(service)]

COOKIE = "revfield_session"
"""The session cookie's name."""

SESSION_LIFETIME = timedelta(hours=12)
"""How long a sign-in lasts (on the service's clock)."""

PAGE_SIZE = 100
"""Items on the inbox page (the rest: answer some, or use ``GET /inbox``)."""

_HERE = Path(__file__).resolve().parent
_STYLE = (_HERE / "static" / "style.css").read_bytes()
_MAX_FORM = 64 * 1024
_SIGNING = b"revfield-web-session\x00"
_SECRET_LOCK = threading.Lock()

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _relative(value: datetime, now: datetime) -> str:
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        text = f"{max(1, round(span / 60))} min"
    elif span < 2 * 86400:
        text = f"{round(span / 3600)} h"
    else:
        text = f"{round(span / 86400)} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


_ENV = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["when"] = _when
_ENV.filters["number"] = _number
_ENV.filters["urlpart"] = lambda value: quote(str(value), safe="")
_ENV.filters["label"] = lambda value: str(value).replace("_", " ")


# --- the session cookie -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Session:
    csrf: str
    expires: int
    """Seconds since the epoch, on the service's clock."""
    user_id: str | None = None
    token_hash: str | None = None
    flash: str | None = None
    """A message for the next page (what an answer did)."""


def _secret(request: Request) -> bytes:
    state = request.app.state
    found: bytes | None = getattr(state, "web_secret", None)
    if found is None:
        with _SECRET_LOCK:
            found = getattr(state, "web_secret", None)
            if found is None:
                found = _configured_secret() or secrets.token_bytes(32)
                state.web_secret = found
    return found


def _configured_secret() -> bytes | None:
    try:
        key = load_settings().secret_key
    except (OSError, ValueError) as exc:  # `revfield serve` read them already: keep serving
        log.warning("settings unreadable; web sessions use a per-process secret", error=str(exc))
        return None
    if key is None or not key.get_secret_value():
        return None
    return key.get_secret_value().encode("utf-8")


def _sign(secret: bytes, data: bytes) -> str:
    return hmac.new(secret, _SIGNING + data, hashlib.sha256).hexdigest()


def _encode(secret: bytes, session: _Session) -> str:
    fields = {
        "c": session.csrf,
        "e": session.expires,
        "u": session.user_id,
        "t": session.token_hash,
        "f": session.flash,
    }
    compact = {k: v for k, v in fields.items() if v is not None}
    data = base64.urlsafe_b64encode(json.dumps(compact, separators=(",", ":")).encode())
    return f"{data.decode('ascii')}.{_sign(secret, data)}"


def _decode(secret: bytes, value: str, now: datetime) -> _Session | None:
    data, _, signature = value.encode("ascii", "replace").rpartition(b".")
    if not data or not hmac.compare_digest(_sign(secret, data).encode(), signature):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(data))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(fields, dict):
        return None
    csrf, expires = fields.get("c"), fields.get("e")
    user_id, token_hash, flash = fields.get("u"), fields.get("t"), fields.get("f")
    if not isinstance(csrf, str) or not isinstance(expires, int) or expires <= now.timestamp():
        return None
    if not all(v is None or isinstance(v, str) for v in (user_id, token_hash, flash)):
        return None
    return _Session(csrf, expires, user_id, token_hash, flash)


def _read_session(request: Request, svc: Service) -> _Session | None:
    value = request.cookies.get(COOKIE)
    return None if not value else _decode(_secret(request), value, svc.clock.now())


def _new_session(svc: Service, **fields: Any) -> _Session:
    expires = int((svc.clock.now() + SESSION_LIFETIME).timestamp())
    return _Session(csrf=secrets.token_urlsafe(32), expires=expires, **fields)


def _set_cookie(request: Request, response: Response, session: _Session) -> None:
    response.set_cookie(
        COOKIE,
        _encode(_secret(request), session),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


def _token_hash(token: str) -> str:
    """The token's hash as the memory keeps it (SHA-256, hex; see revfield.memory's users)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Visitor:
    """A signed-in person: who they are, and their session (its CSRF token)."""

    actor: Actor
    session: _Session


def _signed_in(request: Request, svc: Service) -> _Visitor | Response:
    """The signed-in person, or the redirect to the login page (with the cookie cleared when
    the session ended because its token was revoked)."""
    session = _read_session(request, svc)
    if session is None or session.user_id is None or session.token_hash is None:
        return _redirect("/login")
    with svc.store.read() as db:
        user = user_for_token_hash(db, session.token_hash)
    if user is None or user.id != session.user_id:
        response = _redirect("/login?ended=1")
        _clear_cookie(request, response)
        return response
    return _Visitor(Actor(user.id, user.role.value, user.team_id), session)


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def _page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    visitor: _Visitor | None = None,
    session: _Session | None = None,
    **context: Any,
) -> HTMLResponse:
    session = session or (visitor.session if visitor else None)
    html = _ENV.get_template(template).render(
        visitor=visitor,
        actor=visitor.actor if visitor else None,
        csrf=session.csrf if session else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


# --- forms ------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``, at most 64 KiB)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "send the page's form (url-encoded)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_FORM:
        raise ApiError(413, "too_large", "the form is larger than 64 KiB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise ApiError(413, "too_large", "the form is larger than 64 KiB")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", "the form is not valid UTF-8 url-encoding") from None


FormDep = Annotated[dict[str, str], Depends(_form)]


def _csrf_refused(request: Request, visitor: _Visitor | None = None) -> HTMLResponse:
    return _page(
        request,
        "error.html",
        status=403,
        visitor=visitor,
        title="This form can't be accepted",
        message=(
            "The form did not carry this session's security token: it expired, you signed "
            "in again in another tab, or it was sent from another site. Nothing was changed. "
            "Go back, reload the page and try again."
        ),
    )


def _csrf_ok(session: _Session | None, form: dict[str, str]) -> bool:
    sent = form.get("csrf", "")
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, sent)


def _not_found(request: Request, visitor: _Visitor, what: str) -> HTMLResponse:
    return _page(
        request,
        "error.html",
        status=404,
        visitor=visitor,
        title="Not found",
        message=f"{what} does not exist, or it is not yours to see.",
    )


# --- login and logout -------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, svc: ServiceDep, ended: int = 0, out: int = 0) -> Response:
    """The sign-in form (a token)."""
    session = _read_session(request, svc)
    if session is not None and session.user_id is not None:
        return _redirect("/")
    if session is None:
        session = _new_session(svc)
    notice = (
        "Your session ended: the token it was opened with no longer works. Sign in again."
        if ended
        else "You are signed out."
        if out
        else None
    )
    response = _page(request, "login.html", session=session, notice=notice, error=None)
    _set_cookie(request, response, session)
    return response


@router.post("/login")
def login(request: Request, svc: ServiceDep, form: FormDep) -> Response:
    """Check the token: a session for its user, or the form again saying why not."""
    session = _read_session(request, svc)
    if not _csrf_ok(session, form):
        return _csrf_refused(request)
    assert session is not None
    token = form.get("token", "").strip()
    client = request.client.host if request.client else None
    now = svc.clock.now()
    with svc.store.session() as db:
        user = user_for_token(db, token, now=now) if token else None
        audit_login(
            db,
            user_id=user.id if user else None,
            now=now,
            ok=user is not None,
            via="web",
            client=client,
        )
    if user is None:
        error = (
            "That token is unknown or revoked. Ask RevOps for a new one "
            "(`revfield user add`, or a new token for your user)."
            if token
            else "Paste your token (`revfield user add` printed it) to sign in."
        )
        return _page(request, "login.html", status=401, session=session, notice=None, error=error)
    fresh = _new_session(svc, user_id=user.id, token_hash=_token_hash(token))
    response = _redirect("/")
    _set_cookie(request, response, fresh)
    return response


@router.post("/logout")
def logout(request: Request, svc: ServiceDep, form: FormDep) -> Response:
    """End the session (the token keeps working elsewhere)."""
    if not _csrf_ok(_read_session(request, svc), form):
        return _csrf_refused(request)
    response = _redirect("/login?out=1")
    _clear_cookie(request, response)
    return response


@router.get("/static/style.css")
def style() -> Response:
    """The stylesheet."""
    return Response(
        _STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


# --- what a page shows of an item ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditableField:
    """One field the edit form offers, typed from the action catalog."""

    name: str
    type: str
    """``string``, ``text`` (long string), ``int``, ``double`` or ``bool``."""
    value: Any
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    description: str = ""

    @property
    def bounds(self) -> str:
        """The type and bounds, in words."""
        if self.values:
            return "one of " + ", ".join(self.values)
        if self.type == "bool":
            return "yes or no"
        if self.type in ("string", "text"):
            if self.min is not None and self.max is not None:
                return f"text, {_number(self.min)} to {_number(self.max)} characters"
            if self.max is not None:
                return f"text, at most {_number(self.max)} characters"
            return "text"
        kind = "whole number" if self.type == "int" else "number"
        if self.min is not None and self.max is not None:
            return f"{kind}, {_number(self.min)} to {_number(self.max)}"
        if self.min is not None:
            return f"{kind}, at least {_number(self.min)}"
        if self.max is not None:
            return f"{kind}, at most {_number(self.max)}"
        return kind


_BUILTIN: dict[str, tuple[str, float | None, float | None, str]] = {
    "subject": ("string", None, None, "The subject line or title."),
    "body": ("text", None, None, "The message itself."),
    "discount_pct": ("double", 0, 100, "The discount, in percent."),
    "amount": ("double", 0, None, "The amount, in the deal's currency."),
    "to_stage": ("string", None, None, "The stage the deal moves to."),
    "channel": ("string", None, None, "How it is sent (email, task…)."),
}


def editable_fields(svc: Service, proposal: dict[str, Any]) -> list[EditableField]:
    """The fields a person may change on this action, with their types and bounds: the
    built-in ones (:data:`~revfield.domain.EDITABLE`) and the kind's declared editable ones."""
    kind = str(proposal.get("kind", ""))
    catalog = svc.pack().catalog
    spec = catalog.spec(kind)
    out = []
    for name in catalog.editable(kind):
        if name in EDITABLE:
            type_, lo, hi, description = _BUILTIN.get(name, ("string", None, None, ""))
            out.append(EditableField(name, type_, proposal.get(name), lo, hi, None, description))
        elif spec is not None and name in spec.fields:
            f = spec.fields[name]
            value = proposal.get("payload", {}).get(name, f.neutral())
            max_ = f.max if f.max is not None or f.type != "string" else 2000
            out.append(EditableField(name, f.type, value, f.min, max_, f.values, f.description))
    return out


def _parse_edits(
    fields: list[EditableField], form: dict[str, str]
) -> tuple[dict[str, Any], str | None]:
    """The fields the person changed, typed; or the error to show."""
    edits: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f"field_{f.name}")
        if raw is None:
            continue
        value: Any
        if f.type in ("string", "text"):
            value = raw.replace("\r\n", "\n")
            same = value == (f.value or "")
        elif f.type == "bool":
            value = raw == "true"
            same = value == bool(f.value)
        else:
            try:
                number = float(raw.strip())
            except ValueError:
                return {}, f"`{f.name}`: `{raw}` is not a number ({f.bounds})"
            if not math.isfinite(number):
                return {}, f"`{f.name}`: give a finite number ({f.bounds})"
            if f.type == "int":
                if not number.is_integer():
                    return {}, f"`{f.name}`: `{raw}` is not a whole number ({f.bounds})"
                value = int(number)
            else:
                value = number
            same = f.value is not None and float(f.value) == number
        if not same:
            edits[f.name] = value
    if not edits:
        return {}, "Nothing was changed. To send the action as shown, approve it."
    return edits, None


def _details(proposal: dict[str, Any]) -> list[tuple[str, str]]:
    """What matters in the proposal besides its subject and body."""
    out: list[tuple[str, str]] = []
    for name in ("discount_pct", "amount"):
        if proposal.get(name):
            out.append((name, _number(proposal[name]) + ("%" if name == "discount_pct" else "")))
    for name in ("to_stage", "channel", "deal_id"):
        if proposal.get(name):
            out.append((name, str(proposal[name])))
    for key, value in (proposal.get("payload") or {}).items():
        if isinstance(value, str | int | float | bool) and value != "" and len(out) < 12:
            out.append((str(key), _number(value)))
    return out


def _card(
    db: Session, item: InboxItem, memory: AccountMemory, now: datetime, *, full: bool
) -> dict[str, Any]:
    """One item as a page shows it: the action, who it is for, the deadline, and why."""
    proposal = item.proposal
    trace = trace_of(db, item.action_id, proposal.get("field_event_id"), proposal)
    current = {f.id: f for facts in memory.facts.values() for f in facts}
    facts = []
    for fact_id in trace["fact_ids"]:
        f = current.get(fact_id)
        facts.append(
            {"id": fact_id, "type": f.type.value, "value": f.value, "signal_id": f.source_signal_id}
            if f is not None
            else {"id": fact_id, "type": "fact", "value": "no longer current", "signal_id": None}
        )
    contact = next((c for c in memory.contacts if c.id == proposal.get("contact_id")), None)
    body = str(proposal.get("body") or "")
    return {
        "item": item,
        "subject": str(proposal.get("subject") or ""),
        "body": body if full or len(body) <= 280 else body[:277].rstrip() + "…",
        "details": _details(proposal),
        "account": memory.account,
        "contact": contact,
        "overdue": item.deadline_at < now,
        "due": _relative(item.deadline_at, now),
        "rules": trace["rules"],
        "policy_version": trace["policy_version"],
        "facts": facts,
        "signal_ids": trace["signal_ids"],
        "concerns": [str(c) for c in proposal.get("concerns", [])],
    }


def _cards(svc: Service, items: list[InboxItem], *, full: bool = False) -> list[dict[str, Any]]:
    now = svc.clock.now()
    memories: dict[str, AccountMemory] = {}
    cards = []
    with svc.store.read() as db:
        for item in items:
            memory = memories.get(item.account_id)
            if memory is None:
                memory = recall(db, item.account_id, signals=0, closed_deals=0, count_signals=False)
                memories[item.account_id] = memory
            cards.append(_card(db, item, memory, now, full=full))
    return cards


def _pending_item(svc: Service, actor: Actor, review_id: int) -> InboxItem | None:
    """The pending item if it waits for ``actor``."""
    try:
        item_action(svc, actor, review_id)  # the API's scope check
    except ApiError:
        return None
    with svc.store.read() as db:
        return next((i for i in inbox(db, actor) if i.review_id == review_id), None)


# --- the inbox, an item, an account ----------------------------------------------------


@router.get("/")
def inbox_view(request: Request, svc: ServiceDep) -> Response:
    """The items waiting for the signed-in person, oldest deadline first."""
    visitor = _signed_in(request, svc)
    if isinstance(visitor, Response):
        return visitor
    with svc.store.read() as db:
        found = inbox_page(db, visitor.actor, limit=PAGE_SIZE)
    cards = _cards(svc, found.items)
    flash = visitor.session.flash
    response = _page(
        request,
        "inbox.html",
        visitor=visitor,
        cards=cards,
        waiting=found.waiting,
        more=found.more,
        overdue=sum(1 for c in cards if c["overdue"]),
        flash=flash,
    )
    if flash:  # shown once
        _set_cookie(request, response, replace(visitor.session, flash=None))
    return response


def _item_page(
    request: Request,
    svc: Service,
    visitor: _Visitor,
    review_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    item = _pending_item(svc, visitor.actor, review_id)
    if item is None:
        if error is not None:  # answered or gone meanwhile: say what happened
            return _page(
                request,
                "error.html",
                status=status,
                visitor=visitor,
                title="This item was not answered",
                message=error,
            )
        return _not_found(request, visitor, f"Review item #{review_id}")
    (card,) = _cards(svc, [item], full=True)
    fields = editable_fields(svc, item.proposal)
    return _page(
        request,
        "item.html",
        status=status,
        visitor=visitor,
        card=card,
        fields=fields,
        error=error,
        form=form or {},
    )


@router.get("/items/{review_id}")
def item_page(request: Request, review_id: int, svc: ServiceDep) -> Response:
    """One item: everything the inbox shows, in full, and the forms that answer it."""
    visitor = _signed_in(request, svc)
    if isinstance(visitor, Response):
        return visitor
    return _item_page(request, svc, visitor, review_id)


def _answered(request: Request, visitor: _Visitor, message: str) -> Response:
    response = _redirect("/")
    _set_cookie(request, response, replace(visitor.session, flash=message))
    return response


def _summary(outcome: str, review_id: int, message: str, executed: int) -> str:
    done = f" The outbox carried out {executed} action{'s' if executed != 1 else ''}."
    return f"Item #{review_id}: {outcome}. {message}{done if executed else ''}"


def _answer(
    request: Request,
    svc: Service,
    review_id: int,
    form: dict[str, str],
    *,
    approve: bool,
    edits: bool = False,
) -> Response:
    visitor = _signed_in(request, svc)
    if isinstance(visitor, Response):
        return visitor
    if not _csrf_ok(visitor.session, form):
        return _csrf_refused(request, visitor)
    if _pending_item(svc, visitor.actor, review_id) is None:
        return _not_found(request, visitor, f"Review item #{review_id}")
    if (found := problem_in(form)) is not None:
        where, why = found
        return _item_page(
            request, svc, visitor, review_id, status=422, error=f"`{where}` {why}", form=form
        )
    digest = form.get("digest", "")
    changes: dict[str, Any] | None = None
    reason: str | None = None
    if edits:
        item = _pending_item(svc, visitor.actor, review_id)
        assert item is not None
        changes, error = _parse_edits(editable_fields(svc, item.proposal), form)
        if error is not None:
            return _item_page(request, svc, visitor, review_id, status=422, error=error, form=form)
    elif not approve:
        reason = form.get("reason", "").strip()
        if not reason:
            error = "Give a reason for rejecting: it is kept with the answer in the audit trail."
            return _item_page(request, svc, visitor, review_id, status=422, error=error, form=form)
        if len(reason) > 4000:
            error = "Keep the reason under 4,000 characters."
            return _item_page(request, svc, visitor, review_id, status=422, error=error, form=form)
    try:
        result = answer_item(
            svc, visitor.actor, review_id, digest, approve=approve, edits=changes, reason=reason
        )
    except ApiError as exc:
        if exc.status == 404:
            return _not_found(request, visitor, f"Review item #{review_id}")
        if exc.status == 409:
            error = (
                f"Nothing was changed: {exc.message}. The page you answered from is out of "
                "date; reload it to see the item as it is now."
            )
        else:
            error = f"That edit can't be made: {exc.message.removeprefix('edit ')}"
        return _item_page(
            request, svc, visitor, review_id, status=exc.status, error=error, form=form
        )
    message = _summary(result.outcome, review_id, result.message, result.outbox.executed)
    return _answered(request, visitor, message)


@router.post("/items/{review_id}/approve")
def approve_item(request: Request, review_id: int, svc: ServiceDep, form: FormDep) -> Response:
    """Approve the action as the page showed it."""
    return _answer(request, svc, review_id, form, approve=True)


@router.post("/items/{review_id}/edit")
def edit_item(request: Request, review_id: int, svc: ServiceDep, form: FormDep) -> Response:
    """Approve with the changed fields; the policy decides on the edited action again."""
    return _answer(request, svc, review_id, form, approve=True, edits=True)


@router.post("/items/{review_id}/reject")
def reject_item(request: Request, review_id: int, svc: ServiceDep, form: FormDep) -> Response:
    """Reject the action, with the reason."""
    return _answer(request, svc, review_id, form, approve=False)


@router.get("/accounts/{account}/timeline")
def timeline_page(request: Request, account: str, svc: ServiceDep) -> Response:
    """An account's memory as a page: its facts, latest signals and actions."""
    visitor = _signed_in(request, svc)
    if isinstance(visitor, Response):
        return visitor
    if problem_in(account) is not None:
        return _not_found(request, visitor, "That account")
    with svc.store.read() as db:
        try:
            found = find_account_id(db, account)
        except AccountNotFoundError:
            return _not_found(request, visitor, f"Account {account}")
        owner, team = account_owner(db, found)
        if not sees_account(visitor.actor, owner, team):
            return _not_found(request, visitor, f"Account {account}")
        memory = recall(db, found, signals=100, actions=20)
    facts = sorted(
        (f for facts in memory.facts.values() for f in facts),
        key=lambda f: f.observed_at,
        reverse=True,
    )
    return _page(request, "account.html", visitor=visitor, memory=memory, facts=facts)
