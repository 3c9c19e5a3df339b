"""Users and their bearer tokens, the audit trail the database keeps append-only, and the
command line's ``--as`` recorded as an operator acting for a user — as a person administering
revfield meets them: ``revfield user …``, ``revfield audit``, and what the database refuses."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from revfield.cli import app
from revfield.domain import FactType, Role
from revfield.memory import (
    TOKEN_PREFIX,
    Store,
    UserError,
    UserRow,
    add_user,
    audit,
    audit_login,
    audit_trail,
    issue_token,
    list_users,
    revoke_tokens,
    user_for_token,
)
from revfield.memory.models import ApiToken, AuditEntry, FieldEvent, table_of
from tests.agents import world
from tests.conftest import T0

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
LEGACY = ROOT / "tests" / "fixtures" / "paused_before_typed_interrupts.db"
TOKENS, AUDIT_LOG = table_of(ApiToken), table_of(AuditEntry)
TOKEN = re.compile(r"token: (rvf_[A-Za-z0-9_-]+)")


def _cli(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, *args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _rows(store: Store, table: sa.Table) -> list[dict]:
    with store.read() as s:
        return [dict(r) for r in s.execute(sa.select(table).order_by(table.c[0])).mappings()]


@pytest.fixture
def people(store: Store) -> Store:
    """Team A (sellers ana and al, manager mia), team B (seller bo, manager max), revops rex."""
    world.people(store)
    return store


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> str:
    """The person at the terminal: pat on the machine laptop."""
    monkeypatch.setattr("getpass.getuser", lambda: "pat")
    monkeypatch.setattr("socket.gethostname", lambda: "laptop")
    return "pat@laptop"


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_names_its_user_and_only_its_sha256_is_stored(people: Store):
    with people.session() as s:
        user = add_user(
            s, id="ana-lima", name="Ana Lima", role="seller", team_id="team-a", email=None, now=T0
        )
        token = issue_token(s, user.id, now=T0)
    assert token.startswith(TOKEN_PREFIX) and len(token) >= len(TOKEN_PREFIX) + 43
    (row,) = _rows(people, TOKENS)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(_rows(people, TOKENS) + _rows(people, AUDIT_LOG), default=str)
    with people.session() as s:
        assert user_for_token(s, token, now=T0) == UserRow("ana-lima", Role.SELLER, "team-a")
        assert user_for_token(s, token[:-1] + ("A" if token[-1] != "A" else "B"), now=T0) is None
        assert user_for_token(s, "Bearer " + token, now=T0) is None
        assert user_for_token(s, "", now=T0) is None


def test_last_used_is_noted_at_most_once_a_minute(people: Store):
    with people.session() as s:
        token = issue_token(s, "ana", now=T0)

    def look(at: timedelta) -> object:
        with people.session() as s:
            assert user_for_token(s, token, now=T0 + at) is not None
        (row,) = _rows(people, TOKENS)
        return row["last_used_at"]

    assert _rows(people, TOKENS)[0]["last_used_at"] is None
    assert look(timedelta(0)) == T0
    assert look(timedelta(seconds=59)) == T0  # no write for a request within the minute
    assert look(timedelta(seconds=61)) == T0 + timedelta(seconds=61)
    with people.read() as s:
        (ana,) = [u for u in list_users(s) if u.id == "ana"]
    assert (ana.active_tokens, ana.last_used_at) == (1, T0 + timedelta(seconds=61))


def test_a_revoked_token_is_unknown_and_a_new_one_works(people: Store):
    with people.session() as s:
        first, second = issue_token(s, "ana", now=T0), issue_token(s, "ana", now=T0)
        other = issue_token(s, "bo", now=T0)
    later = T0 + timedelta(hours=1)
    with people.session() as s:
        assert revoke_tokens(s, "ana", now=later) == 2
        assert revoke_tokens(s, "ana", now=later) == 0
        assert user_for_token(s, first, now=later) is None
        assert user_for_token(s, second, now=later) is None
        assert user_for_token(s, other, now=later) is not None  # bo's still works
        fresh = issue_token(s, "ana", now=later)
        assert user_for_token(s, fresh, now=later) == UserRow("ana", Role.SELLER, "team-a")
    with (
        pytest.raises(UserError, match=r"no user `anna`; did you mean `ana`\?"),
        people.session() as s,
    ):
        issue_token(s, "anna", now=later)
    with people.read() as s:
        trail = [(e.event, e.detail.get("user")) for e in audit_trail(s)]
    assert trail[:2] == [("token_issued", "ana"), ("tokens_revoked", "ana")]
    assert ("token_issued", "bo") in trail


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"id": "ana"}, "a user `ana` already exists: ana (Ana, seller in team-a)"),
        ({"team_id": "tem-a"}, "no team `tem-a`; did you mean `team-a`?; teams: team-a, team-b"),
        ({"role": "boss"}, "unknown role `boss`; a user is one of seller, manager, revops"),
        ({"role": "manager", "team_id": None}, "give the manager a team"),
        ({"email": "not-an-email"}, "`not-an-email` is not an email address"),
        ({"id": "ana lima"}, "`ana lima` can't be a user id"),
    ],
    ids=["id taken", "unknown team", "bad role", "manager without team", "bad email", "bad id"],
)
def test_adding_a_user_is_refused_with_what_is_wrong(people: Store, kwargs, says):
    given = {
        "id": "ana-lima",
        "name": "Ana Lima",
        "role": "seller",
        "team_id": "team-a",
        "email": None,
        **kwargs,
    }
    with pytest.raises(UserError) as err, people.session() as s:
        add_user(s, now=T0, **given)
    assert says in str(err.value)
    with people.read() as s:
        assert "ana-lima" not in {u.id for u in list_users(s)}


def test_an_email_belongs_to_one_user(people: Store):
    with people.session() as s:
        add_user(s, id="a1", name="A", role="seller", team_id=None, email="A@x.io", now=T0)
    taken = r"the email a@x.io already belongs to a1 \(A, seller\)"
    with pytest.raises(UserError, match=taken), people.session() as s:
        add_user(s, id="a2", name="B", role="seller", team_id=None, email="a@x.io", now=T0)


# -- the command line -----------------------------------------------------------------------


def test_user_add_prints_the_token_once_and_it_signs_the_user_in(db_url, people, operator):
    added = _cli(db_url, "user", "add", "Ana Lima", "--role", "seller", "--team", "team-a")
    assert added.exit_code == 0, added.output
    out = _flat(added.output)
    assert "added user ana-lima: Ana Lima, seller in team team-a" in out
    assert "shown only this once" in out
    token = TOKEN.search(added.output).group(1)  # type: ignore[union-attr]
    assert f"Authorization: Bearer {token}" in out
    with people.session() as s:
        assert user_for_token(s, token, now=T0) == UserRow("ana-lima", Role.SELLER, "team-a")
    listed = _cli(db_url, "user", "list")
    assert listed.exit_code == 0 and token not in listed.output
    lines = {line.split()[0]: line.split() for line in listed.output.splitlines() if line.strip()}
    assert lines["ana-lima"][-3:] == ["active", "2026-11-02", "09:00"]  # signed in above
    assert lines["ana"][-2:] == ["none", "—"]
    assert "users (7, 1 with a token)" in listed.output
    # the audit names the operator who added them, never the token
    trail = json.loads(_cli(db_url, "audit", "--json").output)
    assert [(e["event"], e["actor"], e["detail"]["operator"]) for e in trail] == [
        ("token_issued", "local-admin", operator),
        ("user_added", "local-admin", operator),
    ]
    assert token not in json.dumps(trail)


def test_a_manager_of_a_new_team(db_url, people):
    refused = _cli(db_url, "user", "add", "Zoe", "--role", "manager", "--team", "team-c")
    assert refused.exit_code == 1
    assert "help: name a team that exists, or create it with the user (`--new-team`" in _flat(
        refused.output
    )
    added = _cli(
        db_url, "user", "add", "Zoe", "--role", "manager", "--team", "team-c", "--new-team"
    )
    assert added.exit_code == 0, added.output
    assert "added user zoe: Zoe, manager in team team-c" in added.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["Ana", "--id", "ana", "--role", "seller"], "error: a user `ana` already exists"),
        (["Ana Lima", "--role", "seller", "--team", "west"], "error: no team `west`"),
        (["Ana Lima", "--role", "boss"], "error: unknown role `boss`"),
        (["!!!", "--role", "seller"], "error: `!!!` makes no user id help: give one with --id"),
    ],
    ids=["id taken", "unknown team", "bad role", "no id from the name"],
)
def test_user_add_errors_are_one_clear_message(db_url, people, args, says):
    result = _cli(db_url, "user", "add", *args)
    assert result.exit_code == 1
    assert says in _flat(result.output)
    assert "Traceback" not in result.output and "token:" not in result.output


def test_user_revoke_by_name_then_a_new_token(db_url, people):
    token = TOKEN.search(  # type: ignore[union-attr]
        _cli(db_url, "user", "add", "Ana Lima", "--role", "seller").output
    ).group(1)
    revoked = _cli(db_url, "user", "revoke", "ana lima")
    assert revoked.exit_code == 0 and "revoked 1 token of ana-lima" in revoked.output
    with people.session() as s:
        assert user_for_token(s, token, now=T0) is None
    again = _cli(db_url, "user", "revoke", "ana-lima", "--new-token")
    assert (
        "ana-lima had no working token" in again.output and "shown only this once" in again.output
    )
    fresh = TOKEN.search(again.output).group(1)  # type: ignore[union-attr]
    with people.session() as s:
        assert user_for_token(s, fresh, now=T0) is not None
    unknown = _cli(db_url, "user", "revoke", "anna")
    assert unknown.exit_code == 1 and "error: no user `anna`; did you mean `ana`?" in unknown.output


def test_users_from_crm_imports_have_no_tokens(db_url, store, tmp_path):
    maven, olist = tmp_path / "maven", tmp_path / "olist"
    maven.mkdir(), olist.mkdir()
    files = {
        maven / "accounts.csv": "account,sector,year_established,revenue,employees,"
        "office_location,subsidiary_of\nAcme Corporation,technolgy,1996,1100.04,2822,"
        "United States,\n",
        maven / "products.csv": "product,series,sales_price\nGTX Basic,GTX,550\n",
        maven / "sales_teams.csv": "sales_agent,manager,regional_office\n"
        "Anna Snelling,Dustin Brinkmann,Central\n",
        maven / "sales_pipeline.csv": "opportunity_id,sales_agent,product,account,deal_stage,"
        "engage_date,close_date,close_value\n1C1I7A6R,Anna Snelling,GTX Basic,"
        "Acme Corporation,Won,2016-10-20,2017-03-01,1054\n",
        olist / "olist_marketing_qualified_leads_dataset.csv": "mql_id,first_contact_date,"
        "landing_page_id,origin\nm1,2018-02-01,lp1,social\n",
        olist / "olist_closed_deals_dataset.csv": "mql_id,seller_id,sdr_id,sr_id,won_date,"
        "business_segment,lead_type,lead_behaviour_profile,has_company,has_gtin,average_stock,"
        "business_type,declared_product_catalog_size,declared_monthly_revenue\n"
        "m1,s1,sdr1,sr1,2018-02-26 19:58:54,pet,online_medium,cat,,,,reseller,,0.0\n",
        olist / "olist_sellers_dataset.csv": "seller_id,seller_zip_code_prefix,seller_city,"
        "seller_state\ns1,13023,campinas,SP\n",
    }
    for path, text in files.items():
        path.write_text(text)
    for kind, folder in (("maven", maven), ("olist", olist)):
        imported = _cli(db_url, "import-crm", kind, str(folder))
        assert imported.exit_code == 0, imported.output
    with store.read() as s:
        users = list_users(s)
    assert len(users) == 4  # Maven's seller and manager, Olist's SDR and sales rep
    assert all(u.active_tokens == 0 and u.last_used_at is None for u in users)
    assert _rows(store, TOKENS) == []
    listed = _cli(db_url, "user", "list")
    assert "users (4, 0 with a token)" in listed.output
    assert len(re.findall(r"\bnone\b", listed.output)) == 4, listed.output


# -- the append-only audit ------------------------------------------------------------------


def _one_entry(store: Store) -> int:
    with store.session() as s:
        audit(s, actor="ana", event="review_approved", at=T0, note="fine")
    return int(_rows(store, AUDIT_LOG)[-1]["id"])


def test_the_database_refuses_to_update_or_delete_audit_entries(store: Store):
    entry = _one_entry(store)
    for statement in (
        f"UPDATE audit_log SET actor = 'mallory' WHERE id = {entry}",
        f"DELETE FROM audit_log WHERE id = {entry}",
        "DELETE FROM audit_log",
    ):
        refused = pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only")
        with refused, store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    refused = pytest.raises(sa.exc.DBAPIError, match="append-only")
    with store.session() as s, refused, s.begin_nested():  # through a session too
        s.execute(sa.update(AUDIT_LOG).values(event="nothing"))
    second = _one_entry(store)  # appending still works
    rows = _rows(store, AUDIT_LOG)
    assert [(r["id"], r["actor"], r["event"]) for r in rows] == [
        (entry, "ana", "review_approved"),
        (second, "ana", "review_approved"),
    ]
    if store.dialect == "postgresql":  # TRUNCATE is left alone: a test suite empties tables
        with store.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_log")
        assert _rows(store, AUDIT_LOG) == []


def test_downgrading_0009_lifts_the_triggers_and_upgrading_puts_them_back(store: Store):
    entry = _one_entry(store)
    store.downgrade("0008")
    assert "api_tokens" not in sa.inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE audit_log SET actor = 'rex' WHERE id = {entry}")
    store.migrate()
    assert "api_tokens" in sa.inspect(store.engine).get_table_names()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM audit_log WHERE id = {entry}")


def test_an_old_database_migrates_to_tokens_and_an_append_only_audit(tmp_path: Path):
    path = tmp_path / "old.db"
    shutil.copy(LEGACY, path)
    store = Store.from_url(f"sqlite:///{path}")
    try:
        store.migrate()
        assert store.current_revision() == store.head_revision()
        with store.session() as s:
            assert issue_token(s, "ana", now=T0).startswith(TOKEN_PREFIX)
            assert [u.active_tokens for u in list_users(s) if u.id == "ana"] == [1]
        assert _rows(store, AUDIT_LOG)  # the old run's trail is kept, and now refused changes
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.exec_driver_sql("DELETE FROM audit_log")
    finally:
        store.dispose()


def test_a_login_is_audited_without_its_token(people: Store):
    with people.session() as s:
        audit_login(s, user_id="ana", now=T0, via="web", client="127.0.0.1")
        audit_login(s, user_id=None, now=T0, ok=False, via="api", reason="unknown token")
    with people.read() as s:
        trail = audit_trail(s)
        assert [(e.actor, e.event, e.detail) for e in trail] == [
            ("anonymous", "login_refused", {"via": "api", "reason": "unknown token"}),
            ("ana", "login", {"via": "web", "client": "127.0.0.1"}),
        ]
        assert [e.event for e in audit_trail(s, actor="ana")] == ["login"]


# -- `--as` and `revfield audit` ------------------------------------------------------------

DISCOUNT = {
    "kind": "offer_discount",
    "discount_pct": 20,
    "subject": "A pilot price",
    "account": "acme.io",
    "contact": "pat@acme.io",
    "cites": [1],
}


@pytest.fixture
def acme(db_url: str, people: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """acme.io, a prospect ana owns (team A, manager mia), with a contact and an objection;
    globex.io, owned by bo (team B)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("REVFIELD_POLICIES", str(POLICIES))
    monkeypatch.setenv("REVFIELD_OUTBOX_LOG", str(tmp_path / "outbox.jsonl"))
    world.account(people, "acme.io")
    world.contact(people, "acme.io")
    world.fact(people, "acme.io", FactType.OBJECTION, "Too expensive for a team our size")
    world.account(people, "globex.io", owner="bo")
    world.contact(people, "globex.io")
    return people


def test_an_answer_given_with_as_is_recorded_as_the_operator_acting_for_the_user(
    db_url, acme, operator
):
    sent = _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "ana")
    assert sent.exit_code == 0, sent.output
    assert "waits for the manager (mia)" in _flat(sent.output)
    (event,) = _rows(acme, table_of(FieldEvent))
    assert event["data"]["source"] == f"cli:ana (operator {operator})"

    approved = _cli(db_url, "approve", "1", "--as", "mia", "--edit", "discount_pct=12")
    assert approved.exit_code == 0, approved.output
    with acme.read() as s:
        answered = {e.event: e for e in audit_trail(s, review_id=1)}
    for event_name in ("action_edited", "review_approved"):
        entry = answered[event_name]
        assert (entry.actor, entry.detail["operator"]) == ("mia", operator)
    shown = _cli(db_url, "audit", "--action", "1")
    assert shown.exit_code == 0, shown.output
    assert "audit trail of action #1" in shown.output
    approved_line = next(i for i, x in enumerate(shown.output.splitlines()) if "review_approv" in x)
    around = _flat("\n".join(shown.output.splitlines()[approved_line : approved_line + 2]))
    assert f"{operator}" in around and "as mia" in around


def test_without_as_the_answer_is_the_local_admins_and_names_no_operator(db_url, acme, operator):
    _cli(db_url, "submit", json.dumps(DISCOUNT))
    rejected = _cli(db_url, "reject", "1", "--reason", "not this quarter")
    assert rejected.exit_code == 0, rejected.output
    with acme.read() as s:
        (entry,) = audit_trail(s, event="review_rejected")
    assert entry.actor == "local-admin" and "operator" not in entry.detail
    assert entry.detail["note"] == "not this quarter"


def test_as_a_user_who_may_not_answer_is_refused_and_nothing_is_audited(db_url, acme, operator):
    _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "ana")
    refused = _cli(db_url, "approve", "1", "--as", "bo")
    assert refused.exit_code == 1
    assert "bo (seller) may not answer review #1" in _flat(refused.output)
    with acme.read() as s:
        assert audit_trail(s, event="review_approved") == []


def test_audit_lists_newest_first_filters_by_account_and_prints_json(db_url, acme, operator):
    _cli(db_url, "submit", json.dumps(DISCOUNT), "--as", "ana")
    _cli(db_url, "reject", "1", "--reason", "too early", "--as", "mia")
    other = {**DISCOUNT, "account": "globex.io", "contact": None, "cites": [], "discount_pct": 5}
    assert _cli(db_url, "submit", json.dumps(other)).exit_code == 0

    everything = json.loads(_cli(db_url, "audit", "--json").output)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    assert {e["account_id"] for e in everything} == {"acme.io", "globex.io"}
    (rejected,) = [e for e in everything if e["event"] == "review_rejected"]
    assert rejected["actor"] == "mia" and rejected["detail"]["operator"] == operator
    assert rejected["detail"]["note"] == "too early" and rejected["review_id"] == 1
    assert rejected["at"].endswith("+00:00")

    acme_only = json.loads(_cli(db_url, "audit", "--account", "Acme", "--json").output)
    assert acme_only and {e["account_id"] for e in acme_only} == {"acme.io"}
    two = json.loads(_cli(db_url, "audit", "--limit", "2", "--json").output)
    assert [e["id"] for e in two] == ids[:2]

    table = _cli(db_url, "audit", "--account", "acme.io")
    assert table.exit_code == 0, table.output
    out = _flat(table.output)
    assert "audit trail of acme.io" in out and "review_rejected" in out and "globex" not in out
    assert "note too early" in out

    unknown = _cli(db_url, "audit", "--account", "initech")
    assert unknown.exit_code == 1 and "error:" in unknown.output
    assert "Traceback" not in unknown.output
    empty = _cli(db_url, "audit", "--action", "99")
    assert empty.exit_code == 0 and "the audit trail is empty for that filter" in empty.output
