"""The inbox reads one page of what the caller may answer, scoped by the database: the scope
is exactly :func:`revfield.review.may_answer`'s, for sellers, managers and RevOps, on every
rung of the ladder, page after page, and a token check on every request writes only when the
token's ``last_used_at`` is due."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

import revfield.memory._reviews as reviews_module
import revfield.service._web as web_module
from revfield.memory import list_users, pending_reviews
from revfield.memory.models import ApiToken, table_of
from revfield.review import Actor, climb_ladder, inbox_page, may_answer, resolve_actor
from tests.agents import world
from tests.factories import T0
from tests.service.conftest import PEOPLE, Api
from tests.service.test_web import sign_in

ACCOUNTS = {"acme.io": "ana", "beta.io": "bo", "gamma.io": "al", "desk.io": "mia"}


@pytest.fixture
def crowded(api: Api) -> Api:
    """Items on every rung: for each account (and one nobody owns) a 10% discount (owner
    rung) and a 20% one (manager rung), climbed one rung past their deadline (manager,
    RevOps), then the same again, fresh."""
    for account, owner in ACCOUNTS.items():
        if account not in ("acme.io", "beta.io"):
            world.account(api.store, account, owner=owner)
    world.account(api.store, "nobody.io", owner=None)
    for round_ in ("first", "second"):
        for account in [*ACCOUNTS, "nobody.io"]:
            for pct in (10, 20):
                api.submit(pct, account, subject=f"{round_} {pct}% for {account}")
        if round_ == "first":
            api.clock.advance(timedelta(hours=world.PACK.review.deadline_hours + 1))
            with api.store.session() as s:
                assert climb_ladder(s, world.PACK, api.clock.now())
    return api


def _actors(api: Api) -> list[Actor]:
    with api.store.read() as s:
        people = [resolve_actor(s, p) for p in PEOPLE]
    return [
        *people,
        Actor("ghost", "seller"),  # no accounts
        Actor("lone", "manager"),  # a manager without a team sees nothing of any team's
        Actor("mia", "manager", "team-b"),  # the team decides, not the id
        Actor("al", "owner", "team-a"),  # a role named like the rung: a seller's reach
    ]


def test_the_database_scope_is_may_answer_for_everyone(crowded: Api):
    with crowded.store.read() as s:
        every = pending_reviews(s)
        rungs = {p.review.assignee_role for p in every}
        assert rungs == {"owner", "manager", "revops"}
        for actor in _actors(crowded):
            expected = [
                p.review.id
                for p in every
                if may_answer(actor, p.review.assignee_role, p.owner_id, p.owner_team)
            ]
            page = inbox_page(s, actor)
            assert [i.review_id for i in page.items] == expected, actor
            assert page.total == len(expected), actor
            pages, offset = [], 0
            while offset < page.total + 2:
                part = inbox_page(s, actor, limit=3, offset=offset)
                assert part.total == len(expected), actor
                pages += [i.review_id for i in part.items]
                offset += 3
            assert pages == expected, actor


def test_each_person_pages_through_their_inbox_over_http(crowded: Api):
    with crowded.store.read() as s:
        every = pending_reviews(s)
        actors = {p: resolve_actor(s, p) for p in PEOPLE}
    for person, actor in actors.items():
        expected = [
            p.review.id
            for p in every
            if may_answer(actor, p.review.assignee_role, p.owner_id, p.owner_team)
        ]
        seen: list[int] = []
        for offset in range(0, len(expected) + 1, 4):
            body = crowded.get("/inbox", person, params={"limit": 4, "offset": offset}).json()
            assert (body["total"], body["limit"], body["offset"]) == (len(expected), 4, offset)
            seen += [i["review_id"] for i in body["items"]]
        assert seen == expected, person
        deadlines = [i.review.deadline_at for i in every if i.review.id in set(expected)]
        assert deadlines == sorted(deadlines)
    assert len(crowded.get("/inbox", "rex").json()["items"]) == min(len(every), 50)
    ana = crowded.get("/inbox", "ana").json()
    assert ana["items"]
    assert {i["owner_id"] for i in ana["items"]} == {"ana"}
    assert {i["rung"] for i in ana["items"]} == {"owner"}


def test_past_the_cap_the_count_stops_and_every_page_is_still_reached(
    crowded: Api, monkeypatch: pytest.MonkeyPatch
):
    """An inbox deeper than the cap says "N+" instead of counting every item on every page;
    pages still run to the last item, told by ``more`` / ``has_more``, not by the count."""
    monkeypatch.setattr(reviews_module, "COUNT_CAP", 5)
    with crowded.store.read() as s:
        every = [p.review.id for p in pending_reviews(s)]
        rex, ana = resolve_actor(s, "rex"), resolve_actor(s, "ana")
        mine = [i.review_id for i in inbox_page(s, ana).items]
        page = inbox_page(s, rex, limit=3)
        assert len(every) > 5 + 3 and 0 < len(mine) <= 5
        assert (page.total, page.capped, page.more, page.waiting) == (5, True, True, "5+")
        # under the cap the count is exact; without a limit every item is read and counted
        small = inbox_page(s, ana, limit=len(mine))
        assert (small.total, small.capped, small.more) == (len(mine), False, False)
        whole = inbox_page(s, rex)
        assert (whole.total, whole.capped, whole.more) == (len(every), False, False)
        # a page deep past the cap: at least what it shows there is; a page that reaches the
        # last item: the exact count, whatever the cap
        deep = inbox_page(s, rex, limit=3, offset=8)
        assert (deep.total, deep.capped, deep.more, deep.waiting) == (12, True, True, "12+")
        last = inbox_page(s, rex, limit=len(every) + 10)
        assert (last.total, last.capped, last.more) == (len(every), False, False)
    seen: list[int] = []
    offset, more = 0, True
    while more:
        body = crowded.get("/inbox", "rex", params={"limit": 4, "offset": offset}).json()
        seen += [i["review_id"] for i in body["items"]]
        more = body["has_more"]
        if more:  # at least the cap, and at least the items up to this page and one more
            assert body["total_capped"] and body["total"] == max(5, len(seen) + 1)
        else:
            assert (body["total"], body["total_capped"]) == (len(every), False)
        offset += 4
    assert seen == every  # the last page said no more, past the cap
    browser = sign_in(crowded, "rex")
    whole_page = browser.get("/")  # a page of 50 holds all 20: the count is exact
    assert f"{len(every)} items waiting" in whole_page.text
    assert "Showing the first" not in whole_page.text
    monkeypatch.setattr(web_module, "PAGE_SIZE", 3)
    short_page = browser.get("/")
    assert "5+ items waiting" in short_page.text
    assert "Showing the first 3 of 5+; answer these to see the rest." in short_page.text


def test_the_token_check_writes_last_used_at_most_once_a_minute(api: Api):
    def last_used() -> object:
        with api.store.read() as s:
            (ana,) = [u for u in list_users(s) if u.id == "ana"]
        return ana.last_used_at

    def stamps() -> list[object]:
        with api.store.read() as s:
            return sorted(str(r.last_used_at) for r in s.execute(sa.select(table_of(ApiToken))))

    assert api.get("/inbox", "ana").status_code == 200
    assert last_used() == T0
    before = stamps()
    api.clock.advance(timedelta(seconds=59))
    for _ in range(3):
        assert api.get("/inbox", "ana").status_code == 200
    assert stamps() == before  # requests within the minute write nothing
    api.clock.advance(timedelta(seconds=2))
    assert api.get("/inbox", "ana").status_code == 200
    assert last_used() == T0 + timedelta(seconds=61)
    assert api.get("/inbox", "ana", headers={"Authorization": "Bearer rvf_nope"}).status_code == 401
