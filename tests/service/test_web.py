"""The web inbox through FastAPI's TestClient: signing in with a token (the cookie's flags,
the audit trail), CSRF on every form, each seller's own items only, and answering from the
pages (approve through the outbox, an out-of-bounds edit, a stale page, a revoked token)."""

from __future__ import annotations

import base64
import re

import httpx
from fastapi.testclient import TestClient

from revfield.memory import audit_trail, revoke_tokens
from tests.factories import T0
from tests.service.conftest import Api

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_in(api: Api, user: str, client: TestClient | None = None) -> TestClient:
    """``client`` (the app's) signed in as ``user`` through the login form."""
    client = client or api.client
    client.cookies.clear()
    page = client.get("/login")
    done = client.post(
        "/login",
        data={"token": api.tokens[user], "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    return client


def an_objection_fact(api: Api) -> int:
    facts = api.get("/accounts/acme.io", "rex").json()["facts"]["objection"]
    return int(facts[0]["id"])


def test_the_inbox_asks_for_a_login_first(api: Api):
    api.client.cookies.clear()
    page = api.client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    login = api.client.get("/login")
    assert login.status_code == 200 and "Your token" in login.text
    assert 'type="password"' in login.text


def test_a_bad_token_is_refused_and_audited(api: Api):
    page = api.client.get("/login")
    refused = api.client.post(
        "/login", data={"token": "rvf_not-a-token", "csrf": csrf_of(page)}, follow_redirects=False
    )
    assert refused.status_code == 401
    assert "That token is unknown or revoked" in refused.text
    assert "rvf_not-a-token" not in refused.text
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/login"
    with api.store.read() as session:
        (entry,) = audit_trail(session, event="login_refused")
    assert entry.actor == "anonymous" and entry.detail["via"] == "web"


def test_a_good_token_opens_a_session_in_an_httponly_samesite_cookie(api: Api):
    page = api.client.get("/login")
    done = api.client.post(
        "/login", data={"token": api.tokens["ana"], "csrf": csrf_of(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("revfield_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1].strip('"')
    payload = base64.urlsafe_b64decode(value.rsplit(".", 1)[0]).decode()
    assert api.tokens["ana"] not in payload and '"u":"ana"' in payload  # never the token
    assert "ana · seller" in api.client.get("/").text
    with api.store.read() as session:
        (entry,) = audit_trail(session, event="login")
    assert entry.actor == "ana" and entry.detail["via"] == "web"


def test_the_cookie_is_secure_over_tls(api: Api):
    with TestClient(api.client.app, base_url="https://testserver") as tls:
        page = tls.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        done = tls.post(
            "/login",
            data={"token": api.tokens["ana"], "csrf": csrf_of(page)},
            follow_redirects=False,
        )
        cookie = done.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_forged_or_tampered_cookie_is_no_session(api: Api):
    sign_in(api, "ana")
    value = api.client.cookies["revfield_session"]
    data, signature = value.rsplit(".", 1)
    forged = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(data).replace(b'"ana"', b'"rex"')
    ).decode()
    api.client.cookies.clear()
    api.client.cookies.set("revfield_session", f"{forged}.{signature}")
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_a_post_without_the_sessions_csrf_token_is_refused(api: Api):
    sent = api.submit(10)
    review_id = sent["review_id"]
    sign_in(api, "ana")
    digest = api.item("ana", review_id)["digest"]
    for data in ({"digest": digest}, {"digest": digest, "csrf": "forged"}):
        refused = api.client.post(f"/items/{review_id}/approve", data=data)
        assert refused.status_code == 403
        assert "security token" in refused.text and "Nothing was changed" in refused.text
    assert api.item("ana", review_id) and api.executed() == []
    # the login and logout forms too
    api.client.cookies.clear()
    login = api.client.post("/login", data={"token": api.tokens["ana"]}, follow_redirects=False)
    assert login.status_code == 403
    sign_in(api, "ana")
    assert api.client.post("/logout", data={"csrf": "nope"}).status_code == 403
    assert api.client.get("/", follow_redirects=False).status_code == 200


def test_a_seller_sees_only_their_items_and_why(api: Api):
    fact_id = an_objection_fact(api)
    mine = api.submit(10, cites=[fact_id])
    theirs = api.submit(12, account="beta.io")
    sign_in(api, "ana")
    page = api.client.get("/")
    assert page.status_code == 200
    assert f"#{mine['review_id']}" in page.text and f"#{theirs['review_id']}" not in page.text
    assert "beta.io" not in page.text
    assert "10% for acme.io" in page.text and "Acme" in page.text
    for rule in mine["rules"]:
        assert rule in page.text
    assert "Too expensive for a team our size" in page.text  # the cited fact, and its type
    assert "objection" in page.text
    assert "/accounts/acme.io/timeline#signal-" in page.text
    timeline = api.client.get("/accounts/acme.io/timeline")
    assert timeline.status_code == 200 and "Too expensive for a team our size" in timeline.text
    assert 'id="signal-' in timeline.text

    sign_in(api, "bo")
    page = api.client.get("/")
    assert f"#{theirs['review_id']}" in page.text and f"#{mine['review_id']}" not in page.text


def test_another_sellers_item_or_account_is_a_404_page(api: Api):
    theirs = api.submit(12, account="beta.io")
    sign_in(api, "ana")
    for path in (f"/items/{theirs['review_id']}", "/items/999999", "/accounts/beta.io/timeline"):
        page = api.client.get(path)
        assert page.status_code == 404, path
        assert "does not exist, or it is not yours to see" in page.text
    digest = api.item("bo", theirs["review_id"])["digest"]
    csrf = csrf_of(api.client.get("/"))
    answer = api.client.post(
        f"/items/{theirs['review_id']}/approve", data={"digest": digest, "csrf": csrf}
    )
    assert answer.status_code == 404 and api.executed() == []
    assert api.item("bo", theirs["review_id"])


def test_approving_from_the_page_executes_the_action_through_the_outbox(api: Api):
    sent = api.submit(10)
    review_id = sent["review_id"]
    sign_in(api, "ana")
    page = api.client.get(f"/items/{review_id}")
    assert page.status_code == 200
    for form in ("approve", "edit", "reject"):
        assert f'action="/items/{review_id}/{form}"' in page.text
    assert "discount pct" in page.text and "number, 0 to 100" in page.text  # typed, bounded
    digest = re.search(r'name="digest" value="([^"]+)"', page.text)
    assert digest and digest.group(1) == api.item("ana", review_id)["digest"]
    done = api.client.post(
        f"/items/{review_id}/approve",
        data={"digest": digest.group(1), "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    inbox = api.client.get("/")
    assert f"Item #{review_id}: approved" in inbox.text
    assert "The outbox carried out 1 action" in inbox.text
    assert "Nothing waits for you" in inbox.text
    assert f"Item #{review_id}: approved" not in api.client.get("/").text  # said once
    assert len(api.executed()) == 1
    chain = api.get("/accounts/acme.io", "ana").json()["actions"][0]
    assert chain["status"] == "executed" and chain["reviews"][0]["by"] == "ana"


def test_an_edit_out_of_bounds_shows_the_error_and_changes_nothing(api: Api):
    sent = api.submit(10)
    review_id = sent["review_id"]
    sign_in(api, "ana")
    page = api.client.get(f"/items/{review_id}")
    form = {"digest": api.item("ana", review_id)["digest"], "csrf": csrf_of(page)}
    too_much = api.client.post(
        f"/items/{review_id}/edit", data={**form, "field_discount_pct": "150"}
    )
    assert too_much.status_code == 422
    assert "That edit can&#39;t be made" in too_much.text and "discount_pct" in too_much.text
    assert 'value="150"' in too_much.text  # what was typed stays in the form
    not_a_number = api.client.post(
        f"/items/{review_id}/edit", data={**form, "field_discount_pct": "lots"}
    )
    assert not_a_number.status_code == 422 and "is not a number" in not_a_number.text
    unchanged = api.client.post(f"/items/{review_id}/edit", data={**form})
    assert unchanged.status_code == 422 and "Nothing was changed" in unchanged.text
    assert api.item("ana", review_id) and api.executed() == []

    edited = api.client.post(
        f"/items/{review_id}/edit",
        data={**form, "field_discount_pct": "8", "field_subject": "8% for acme.io"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    (line,) = api.executed()
    assert '"discount_pct": 8' in line and "8% for acme.io" in line


def test_a_stale_page_is_refused_with_a_clear_message(api: Api):
    sent = api.submit(10)
    review_id = sent["review_id"]
    sign_in(api, "ana")
    page = api.client.get(f"/items/{review_id}")
    stale = api.client.post(
        f"/items/{review_id}/approve", data={"digest": "0" * 64, "csrf": csrf_of(page)}
    )
    assert stale.status_code == 409
    assert "Nothing was changed" in stale.text and "reload it" in stale.text
    assert api.item("ana", review_id) and api.executed() == []


def test_a_rejection_needs_a_reason(api: Api):
    sent = api.submit(10)
    review_id = sent["review_id"]
    sign_in(api, "ana")
    page = api.client.get(f"/items/{review_id}")
    form = {"digest": api.item("ana", review_id)["digest"], "csrf": csrf_of(page)}
    bare = api.client.post(f"/items/{review_id}/reject", data={**form, "reason": "  "})
    assert bare.status_code == 422 and "Give a reason for rejecting" in bare.text
    done = api.client.post(
        f"/items/{review_id}/reject", data={**form, "reason": "Too generous"}, follow_redirects=True
    )
    assert f"Item #{review_id}: rejected" in done.text
    assert api.executed() == []


def test_revoking_the_token_ends_the_session(api: Api):
    sign_in(api, "ana")
    assert api.client.get("/", follow_redirects=False).status_code == 200
    with api.store.session() as session:
        revoke_tokens(session, "ana", now=T0)
    ended = api.client.get("/", follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"] == "/login?ended=1"
    assert 'revfield_session=""' in ended.headers["set-cookie"]
    assert "Your session ended" in api.client.get(ended.headers["location"]).text


def test_signing_out_ends_the_session(api: Api):
    sign_in(api, "ana")
    csrf = csrf_of(api.client.get("/"))
    out = api.client.post("/logout", data={"csrf": csrf}, follow_redirects=True)
    assert "You are signed out" in out.text
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_pages_are_not_in_the_openapi_document(api: Api):
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/login" not in paths and "/items/{review_id}/approve" not in paths
    assert api.client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_an_item_past_its_deadline_is_marked_overdue_and_a_sign_in_expires(api: Api):
    from datetime import timedelta

    sent = api.submit(10)
    sign_in(api, "ana")
    assert "Overdue" not in api.client.get("/").text
    deadline = api.item("ana", sent["review_id"])["deadline_at"]
    api.clock.advance(timedelta(days=2))
    expired = api.client.get("/", follow_redirects=False)  # a sign-in lasts 12 hours
    assert expired.status_code == 303 and expired.headers["location"] == "/login"
    sign_in(api, "ana")
    page = api.client.get("/")
    assert "1 overdue" in page.text and "Overdue" in page.text and "ago)" in page.text
    assert deadline[:10] in page.text


def test_sessions_outlive_a_restart_only_with_a_configured_secret_key(api: Api, monkeypatch):
    monkeypatch.setenv("REVFIELD_SECRET_KEY", "a-key-for-this-test-only")
    with TestClient(api.make_app()) as first:
        sign_in(api, "ana", first)
        cookie = first.cookies["revfield_session"]
    with TestClient(api.make_app()) as restarted:
        restarted.cookies.set("revfield_session", cookie)
        assert restarted.get("/", follow_redirects=False).status_code == 200
    monkeypatch.delenv("REVFIELD_SECRET_KEY")
    with TestClient(api.make_app()) as random_secret:
        random_secret.cookies.set("revfield_session", cookie)
        assert random_secret.get("/", follow_redirects=False).headers["location"] == "/login"
