"""The HTTP service under load, against a real uvicorn server on 127.0.0.1 (the app
``revfield serve`` runs, on its own port, in this process's threads):

- ``POST /signals`` in batches of 500, beside the same rows stored in-process through
  :func:`revfield.ingest.ingest_signals` in batches of 500 (the floor: what the ingest path
  itself costs, with no HTTP, JSON or token check).
- ``GET /inbox`` for one seller's first page (50 items) with 10,000 pending review items
  across 50 sellers, beside one plain SQL query (``sqlite3``) that reads the same page's rows:
  the reviews of the seller's accounts on the owner rung, joined to their actions and
  accounts, by deadline, 50 of them.

The 10,000 items are seeded through the path an agent's proposals take
(:func:`revfield.field` ``record_proposals``: the policy decides, the action and its decision
are recorded, a review item opens on the ladder), over one field event per account.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from benchmarks._report import Figure, console
from benchmarks._stores import fresh_sqlite
from benchmarks.bench_agents import PACK
from revfield.clock import ManualClock
from revfield.domain import EventStatus, Motion, ProposedAction
from revfield.field._steps import record_proposals
from revfield.ingest import ingest_signals
from revfield.memory import (
    NewFieldEvent,
    Store,
    add_field_events,
    issue_token,
    runnable_events,
    upsert,
)
from revfield.policies import load_pack
from revfield.review import inbox

WORK = Path(__file__).parent / ".work"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
BATCH = 500
SELLERS, TEAMS, ACCOUNTS_EACH, ITEMS = 50, 5, 20, 10_000
KINDS = ["web_visit", "email_opened", "email_replied", "content_engagement", "note"]


def _fresh(name: str) -> Store:
    return fresh_sqlite(WORK / name)


def _signals(n: int) -> list[dict[str, Any]]:
    """Signal records as integrations send them: 2,000 company domains, contacts by email."""
    rnd = random.Random(7)
    rows = []
    for i in range(n):
        company = rnd.randrange(2000)
        rec: dict[str, Any] = {
            "source": rnd.choice(["web", "outreach", "crm"]),
            "external_id": f"evt-{i}",
            "kind": rnd.choice(KINDS),
            "occurred_at": (T0 - timedelta(days=30) + timedelta(seconds=i * 7)).isoformat(),
        }
        if rnd.random() < 0.5:
            rec["contact_email"] = f"person{rnd.randrange(5)}@company{company}.com"
        else:
            rec["account_domain"] = f"company{company}.com"
        rec["payload"] = {"url": f"/page/{rnd.randrange(50)}", "score": rnd.randrange(100)}
        if rnd.random() < 0.2:
            rec["text"] = "Thanks for the deck, we are comparing options for next quarter."
        rows.append(rec)
    return rows


class _Server:
    """``revfield serve --port 0`` on 127.0.0.1, in its own process, over ``store``'s
    database (its own clock: the wall clock, as in production)."""

    def __init__(self, store: Store, name: str) -> None:
        self.log = WORK / f"{name}.log"
        self.env = {
            **os.environ,
            "REVFIELD_DATABASE_URL": str(store.url),
            "REVFIELD_POLICIES": str(PACK),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> _Server:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("revfield")), "serve", "--port", "0"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for _ in range(600):
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                self.url = found.group(1)
                return self
            try:
                self.proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            break
        raise RuntimeError(f"revfield serve did not start:\n{self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _token(store: Store, user_id: str, now: datetime) -> str:
    with store.session() as s:
        return issue_token(s, user_id, now=now)


def _bench_signals(n: int = 20_000) -> list[Figure]:
    rows = _signals(n)
    batches = [rows[i : i + BATCH] for i in range(0, n, BATCH)]
    clock = ManualClock(T0)
    floor_store = _fresh("service-floor.db")
    started = time.perf_counter()
    for batch in batches:
        ingest_signals(batch, store=floor_store, clock=clock, batch_size=BATCH, source="bench")
    floor = n / (time.perf_counter() - started)
    floor_store.dispose()

    store = _fresh("service-signals.db")
    with store.session() as s:
        upsert(s, "users", [{"id": "hook", "name": "Hook", "role": "revops"}], now=T0)
    token = _token(store, "hook", T0)
    bodies = [json.dumps(b).encode() for b in batches]
    with (
        _Server(store, "signals") as srv,
        httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {token}"}) as http,
    ):
        http.get("/healthz")
        started = time.perf_counter()
        for body in bodies:
            r = http.post(
                "/signals", content=body, headers={"content-type": "application/json"}, timeout=60
            )
            assert r.status_code == 200, r.text[:500]
            assert r.json()["accepted"] == BATCH, r.text[:500]
        rate = n / (time.perf_counter() - started)
    store.dispose()
    return [
        Figure(
            "POST /signals, batches of 500 (local uvicorn)",
            rate,
            "signals/s",
            "≥ 5,000 signals/s",
            rate >= 5000,
            "ingest_signals in-process, same rows, batches of 500",
            floor,
            rate / floor,
            f"{n:,} new signals, one keep-alive client, token checked per request",
        )
    ]


def _seed_reviews(store: Store, clock: ManualClock) -> None:
    """50 sellers in 5 teams (a manager each) and RevOps; 20 accounts per seller; 10,000
    pending items (discounts: 10% waits for the owner, 20% for the manager), recorded as
    an agent's proposals are."""
    pack = load_pack(PACK)
    teams = [{"id": f"team{t}", "name": f"Team {t}"} for t in range(TEAMS)]
    users: list[dict[str, Any]] = [{"id": "rev", "name": "Rev", "role": "revops"}]
    users += [
        {"id": f"mgr{t}", "name": f"Manager {t}", "role": "manager", "team_id": f"team{t}"}
        for t in range(TEAMS)
    ]
    users += [
        {"id": f"s{i:02}", "name": f"Seller {i}", "role": "seller", "team_id": f"team{i % TEAMS}"}
        for i in range(SELLERS)
    ]
    accounts = [
        {
            "id": f"a{i:02}-{j:02}.io",
            "name": f"Account {i}-{j}",
            "domain": f"a{i:02}-{j:02}.io",
            "segment": "smb",
            "customer_state": "customer",
            "owner_id": f"s{i:02}",
            "employees": 80,
            "source": "bench",
        }
        for i in range(SELLERS)
        for j in range(ACCOUNTS_EACH)
    ]
    per_account = ITEMS // len(accounts)
    with store.session() as s:
        upsert(s, "teams", teams, now=T0)
        upsert(s, "users", users, now=T0)
        upsert(s, "accounts", accounts, now=T0)
        add_field_events(
            s,
            [
                NewFieldEvent(
                    account_id=a["id"],
                    kind="pricing_objection",
                    key=f"bench:{a['id']}:{k}",
                    signal_ids=(),
                    detail="bench",
                    data={"k": k},
                    occurred_at=T0,
                    detected_at=T0,
                    agent="deal_desk",
                    status=EventStatus.PENDING,
                )
                for k in range(per_account)
                for a in accounts
            ],
        )
    with store.read() as s:
        events = sorted(eid for eid, _agent, _resumed in runnable_events(s))
    assert len(events) == ITEMS, len(events)
    chunk = 250
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("seeding 10,000 pending review items", total=ITEMS)
        for start in range(0, ITEMS, chunk):
            clock.set(T0 + timedelta(minutes=start // chunk))
            with store.session() as s:
                for n in range(start, min(start + chunk, ITEMS)):
                    account = accounts[n % len(accounts)]
                    proposal = ProposedAction(
                        kind="offer_discount",
                        motion=Motion.RETENTION_EXPANSION,
                        account_id=account["id"],
                        subject=f"Discount {n}",
                        discount_pct=20.0 if n % 5 == 4 else 10.0,
                    )
                    record_proposals(
                        s,
                        pack,
                        event_id=events[n],
                        agent="deal_desk",
                        thread_id=f"deal_desk:{events[n]}",
                        proposals=[proposal],
                        executor="log",
                        now=clock.now(),
                    )
            bar.advance(job, chunk)


_FLOOR_PAGE = """
SELECT r.*, a.name, a.owner_id, u.team_id, x.kind, x.motion, x.proposal
FROM reviews r JOIN actions x ON x.id = r.action_id
JOIN accounts a ON a.id = r.account_id LEFT JOIN users u ON u.id = a.owner_id
WHERE +r.status = 'pending' AND +r.assignee_role = 'owner' AND a.owner_id = ?
  AND x.account_id = a.id
ORDER BY r.deadline_at, r.id LIMIT 50
"""
"""The seller's page in one statement, by the seller's accounts' indexes (the ``+`` keeps
SQLite off the (status, rung) index, as the memory's query does): the database's share."""


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _bench_inbox(requests: int = 300) -> list[Figure]:
    clock = ManualClock(T0)
    store = _fresh("service-inbox.db")
    started = time.perf_counter()
    _seed_reviews(store, clock)
    seeded = time.perf_counter() - started
    with store.read() as s:
        pending = len(inbox(s))
    assert pending == ITEMS, pending
    token = _token(store, "s07", clock.now())
    db = WORK / "service-inbox.db"
    floor_ms: list[float] = []
    conn = sqlite3.connect(db)
    for _ in range(requests):
        t = time.perf_counter()
        rows = conn.execute(_FLOOR_PAGE, ("s07",)).fetchall()
        floor_ms.append((time.perf_counter() - t) * 1000)
    conn.close()
    page_ms: list[float] = []
    with (
        _Server(store, "inbox") as srv,
        httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {token}"}) as http,
    ):
        for _ in range(requests + 20):
            t = time.perf_counter()
            r = http.get("/inbox", params={"limit": 50})
            page_ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:500]
        body = r.json()
    assert len(body["items"]) == len(rows) == 50, (len(body["items"]), len(rows))
    store.dispose()
    p95, floor = _p95(page_ms[20:]), _p95(floor_ms)
    return [
        Figure(
            "GET /inbox p95, one seller's page of 50 (10,000 pending)",
            p95,
            "ms",
            "≤ 50 ms",
            p95 <= 50,
            "one plain SQL query for the same page's rows (sqlite3)",
            floor,
            floor / p95,
            f"{body['total']} items wait for the seller; {requests} requests after 20 warm-up; "
            f"10,000 items seeded through record_proposals in {seeded:.0f} s",
        )
    ]


def bench_service() -> list[Figure]:
    """Both service figures."""
    return [*_bench_signals(), *_bench_inbox()]
