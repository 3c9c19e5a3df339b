"""A deterministic, generated book of business for the demo: teams, sellers, prospects and
customers with contacts and deals, and 30 days of signals — web visits, intent, outbound
emails and replies, call transcripts rich in acquisition facts, deals closing won, product
usage, seats, tickets, NPS, champions leaving, pricing objections, subscriptions coming up for
renewal (a few of them hard: an enterprise customer pushing back on price while looking at a
competitor). Same seed, same book, byte for byte.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DAYS", "SEED", "START", "Book", "generate_book"]

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
"""Days of signals in the book, from :data:`START`."""
SEED = 7
"""The seed ``revfield demo`` generates its book from unless told otherwise."""

PREFIX = (
    "North",
    "Blue",
    "Oak",
    "Harbor",
    "Fern",
    "Quanta",
    "Silver",
    "Granite",
    "Cedar",
    "Summit",
    "River",
    "Lumen",
    "Atlas",
    "Nimbus",
    "Vertex",
    "Copper",
    "Maple",
    "Orion",
    "Pioneer",
    "Beacon",
    "Falcon",
    "Aspen",
    "Cobalt",
    "Meridian",
    "Sterling",
    "Willow",
    "Redwood",
    "Polar",
    "Crescent",
    "Evergreen",
    "Juniper",
    "Keystone",
)
SUFFIX = (
    "wind",
    "peak",
    "line",
    "field",
    "hill",
    "labs",
    "stone",
    "works",
    "bridge",
    "point",
    "gate",
    "logic",
    "soft",
    "ware",
    "metrics",
    "cloud",
    "systems",
    "data",
    "grid",
    "forge",
)
KIND = (
    "Analytics",
    "Logistics",
    "Health",
    "Finance",
    "Software",
    "Retail",
    "Security",
    "Media",
    "Energy",
    "Robotics",
)
TLD = (".com", ".io", ".co", ".de", ".ai", ".net")
ICP_INDUSTRIES = (
    "software",
    "technology",
    "finance",
    "FinTech",
    "DevTools",
    "Cybersecurity",
    "services",
    "marketing",
    "medical",
    "HealthTech",
    "retail",
)
OTHER_INDUSTRIES = ("construction", "agriculture", "hospitality")
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
FIRST = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoe",
)
LAST = (
    "Alvarez",
    "Brandt",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Varga",
    "Weber",
    "Young",
)
ROLES = (
    "VP Sales",
    "Head of RevOps",
    "Sales Operations Manager",
    "CFO",
    "Director of Customer Success",
    "RevOps Analyst",
    "CRO",
    "Head of Sales Enablement",
    "IT Manager",
)
STAGES = ("prospecting", "engaging", "evaluation", "proposal", "negotiation")
PLANS = {
    "smb": ("Basic", 100, 12, 600.0),
    "mid_market": ("Pro", 250, 45, 2800.0),
    "enterprise": ("Enterprise", 1000, 220, 9000.0),
}
"""Segment → (plan, usage included per 30 days, typical seats, typical MRR)."""

PAINS = (
    "We struggle to get one forecast the board trusts; every region sends different numbers.",
    "Our reps update the CRM manually and it takes hours every Friday.",
    "We have no visibility into which deals are stuck until the quarter is lost.",
    "Handover from sales to onboarding is a mess: customers repeat everything they told us.",
    "Renewals surprise us because nobody watches product usage.",
)
SUCCESS = (
    "Success for us is a forecast within 5% of actuals by next quarter.",
    "Success means every handover brief is complete before the kickoff call.",
    "Our goal is to cut the time reps spend on CRM updates in half.",
    "Success would be catching at-risk renewals 60 days out.",
)
SUPPORTED_PROMISES = (
    "You promised the Salesforce sync would be live in week one.",
    "We were told SSO with Okta is included in our plan.",
    "You said the CSV export covers every report we need.",
    "You committed to EU data residency for our customer records.",
    "You mentioned the forecasting module handles our three regions.",
)
UNSUPPORTED_PROMISES = (
    "We were told an on-prem deployment is possible for our security team.",
    "You promised a custom AI model trained on our own deals.",
    "Your rep said there is a 99.99 uptime guarantee in the contract.",
)
COMPETITORS = ("Clari", "Gong", "Salesloft", "Outreach", "HubSpot")
USE_CASES = (
    "We want to automate the weekly pipeline review.",
    "We are looking to replace our spreadsheet forecast.",
)
POSITIVE = (
    "Thanks — this sounds interesting. Can we schedule a demo next week?",
    "Happy to chat. Next week works for me, send over a few times.",
    "Sounds good, let's set it up with our RevOps lead.",
)
OBJECTIONS = (
    "Honestly it looks too expensive for us right now, our budget is frozen.",
    "Not a priority this quarter, maybe revisit next year.",
    "We already use Clari and are happy with our current setup.",
)
UNSUBSCRIBES = (
    "Please remove me from your list and stop emailing me.",
    "Unsubscribe. Do not contact me again.",
)
OOO = ("I am out of the office until Monday with limited access to email.",)
TICKETS = (
    "Salesforce sync failing with error 500 since yesterday's update, this is urgent.",
    "Dashboard not loading for the whole EMEA team, it keeps crashing.",
    "Forecast export broken again, numbers are missing for two regions.",
    "Critical: users locked out after the SSO change, please escalate.",
    "How do I add a custom field to the pipeline report?",
)
DETRACTOR = (
    "Too expensive for what we use, and support is slow. We are considering switching to HubSpot.",
    "Constant sync errors. We will not renew unless this is fixed.",
)
PROMOTER = (
    "Great product, the forecast view saves us hours.",
    "Works well, onboarding was smooth.",
)
PRICE_OBJECTIONS = (
    "The pricing is above what we planned for this year; we would need a better offer.",
    "Honestly it is too expensive for a team our size. Can you do anything on the price?",
    "Our budget is tight this year and the cost is more than we expected.",
    "We like the product, but the pricing is hard to justify next to what we pay today.",
)
TOUGH_QBR = (
    "Honestly the renewal price is too expensive for what we use. "
    "We are evaluating {rival} as a replacement and it is cheaper. "
    "We already use {other} for forecasting. "
    "Unless the numbers change we will not renew."
)
"""A renewal at risk on an enterprise account: a pricing objection, a competitor, a second
objection and a churn risk in one QBR — the deal desk's strongest case."""


@dataclass
class Book:
    teams: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    """Signal records (the ingest schema), in time order."""

    def signals_on(self, day: int) -> list[dict[str, Any]]:
        lo, hi = START + timedelta(days=day), START + timedelta(days=day + 1)
        return [s for s in self.signals if lo <= datetime.fromisoformat(s["occurred_at"]) < hi]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def generate_book(
    seed: int = SEED,
    *,
    prospects: int = 150,
    customers: int = 90,
    days: int = DAYS,
    scale: int = 1,
) -> Book:
    """The book for ``seed``: ``prospects`` then ``customers`` drawn at random (an account
    whose domain is taken already is left out, so a few fewer than asked), ``days`` of their
    signals, and the teams that own them.

    ``scale``: a book that many times larger, made of ``scale`` shards of the same size and
    mix. Shard 1 is the book ``scale=1`` gives, byte for byte; every further shard is drawn
    from its own stream of the seed, with two more sellers per team, and its accounts'
    names and domains carry the shard's number (``Northwind Analytics 2``,
    ``northwind-2.io``), so every account, contact, deal and signal is distinct. (One shard
    draws its names from a few thousand; for a larger book, raise ``scale``.)"""
    if scale < 1:
        raise ValueError(f"a book's scale is a whole number ≥ 1, not {scale}")
    room = len(PREFIX) * len(SUFFIX) * len(KIND)
    if prospects + customers > room:
        raise ValueError(
            f"{prospects + customers:,} accounts in one shard of the book is more than its "
            f"names allow (at most {room:,}); ask for fewer and a larger `scale`"
        )
    book = Book()
    created = START - timedelta(days=400)
    teams = [("team-west", "West"), ("team-east", "East"), ("team-enterprise", "Enterprise")]
    for tid, name in teams:
        book.teams.append({"id": tid, "name": name, "created_at": created})
    sellers: dict[str, list[str]] = {}
    for i, (tid, _) in enumerate(teams):
        for j in range(2):
            uid = f"seller-{tid.split('-')[1]}-{j + 1}"
            name = f"{FIRST[(i * 3 + j * 7) % len(FIRST)]} {LAST[(i * 5 + j) % len(LAST)]}"
            book.users.append(
                {
                    "id": uid,
                    "name": name,
                    "email": f"{uid}@revfield.example",
                    "role": "seller",
                    "team_id": tid,
                    "created_at": created,
                }
            )
            sellers.setdefault(tid, []).append(uid)
        book.users.append(
            {
                "id": f"manager-{tid.split('-')[1]}",
                "name": f"{FIRST[(i * 4 + 11) % len(FIRST)]} {LAST[(i * 3 + 9) % len(LAST)]}",
                "email": f"manager-{tid.split('-')[1]}@revfield.example",
                "role": "manager",
                "team_id": tid,
                "created_at": created,
            }
        )
    book.users.append(
        {
            "id": "revops-1",
            "name": "Rita Okafor",
            "email": "revops@revfield.example",
            "role": "revops",
            "team_id": None,
            "created_at": created,
        }
    )

    serial = 0

    def sig(
        kind: str,
        account: dict[str, Any],
        day: float,
        *,
        contact: dict[str, Any] | None = None,
        text: str | None = None,
        source: str = "",
        **payload: Any,
    ) -> None:
        nonlocal serial
        serial += 1
        when = START + timedelta(days=min(day, days - 0.01))
        record: dict[str, Any] = {
            "source": source or "demo",
            "external_id": f"demo-{serial:06d}",
            "kind": kind,
            "occurred_at": when.isoformat(),
            "account_id": account["id"],
            "payload": payload,
        }
        if contact is not None:
            record["contact_email"] = contact["email"]
        if text:
            record["text"] = text
        book.signals.append(record)

    _shard(random.Random(seed), book, sellers, prospects, customers, sig, created, "")
    # a stream of its own: the book above stays what it was for the seed
    _deal_desk(random.Random(f"deal-desk-{seed}"), book.accounts, book.contacts, sig)
    for shard in range(2, scale + 1):
        mark = f"-{shard}"
        own: dict[str, list[str]] = {}
        for i, (tid, _) in enumerate(teams):
            for j in range(2):
                uid = f"seller-{tid.split('-')[1]}-{2 * shard + j - 1}"
                book.users.append(
                    {
                        "id": uid,
                        "name": f"{FIRST[(i * 3 + j * 7 + shard * 5) % len(FIRST)]} "
                        f"{LAST[(i * 5 + j + shard * 3) % len(LAST)]}",
                        "email": f"{uid}@revfield.example",
                        "role": "seller",
                        "team_id": tid,
                        "created_at": created,
                    }
                )
                own.setdefault(tid, []).append(uid)
        part = Book()
        _shard(
            random.Random(f"book-{seed}{mark}"), part, own, prospects, customers, sig, created, mark
        )
        _deal_desk(random.Random(f"deal-desk-{seed}{mark}"), part.accounts, part.contacts, sig)
        book.accounts += part.accounts
        book.contacts += part.contacts
        book.deals += part.deals
    book.signals.sort(key=lambda s: (s["occurred_at"], s["external_id"]))
    return book


def _shard(
    rng: random.Random,
    book: Book,
    sellers: dict[str, list[str]],
    prospects: int,
    customers: int,
    sig: Any,
    created: datetime,
    mark: str,
) -> None:
    """``prospects`` then ``customers`` into ``book``, owned by ``sellers``; ``mark`` (``-2``)
    ends each account's name and domain label in a shard after the first."""
    names: set[str] = set()
    taken: set[str] = set()
    for n in range(prospects + customers):
        is_customer = n >= prospects
        while True:
            name = f"{rng.choice(PREFIX)}{rng.choice(SUFFIX)} {rng.choice(KIND)}"
            if name not in names:
                names.add(name)
                break
        domain = _slug(name.split()[0]) + mark + rng.choice(TLD)
        if mark:
            name += f" {mark[1:]}"
        segment = rng.choices(("smb", "mid_market", "enterprise"), (45, 35, 20))[0]
        employees = {
            "smb": rng.randint(8, 150),
            "mid_market": rng.randint(150, 1500),
            "enterprise": rng.randint(1500, 20000),
        }[segment]
        team = (
            "team-enterprise" if segment == "enterprise" else rng.choice(("team-west", "team-east"))
        )
        plan, included, seats, mrr = PLANS[segment]
        account: dict[str, Any] = {
            "id": domain,
            "name": name,
            "domain": domain,
            "segment": segment,
            "employees": employees,
            "industry": rng.choice(ICP_INDUSTRIES)
            if rng.random() > 0.12
            else rng.choice(OTHER_INDUSTRIES),
            "region": rng.choice(REGIONS),
            "customer_state": "customer" if is_customer else "prospect",
            "owner_id": rng.choice(sellers[team]),
            "source": "demo",
            "created_at": created,
            "plan": plan if is_customer else None,
            "seats": int(seats * rng.uniform(0.6, 1.3)) if is_customer else None,
            "mrr": round(mrr * rng.uniform(0.7, 1.5), 2) if is_customer else None,
        }
        if domain in taken:
            continue
        taken.add(domain)
        book.accounts.append(account)
        people = []
        for k in range(rng.randint(2, 4)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            people.append(
                {
                    "account_id": domain,
                    "email": f"{first.lower()}.{last.lower()}{k}@{domain}",
                    "name": f"{first} {last}",
                    "role": ROLES[(n + k * 3) % len(ROLES)],
                    "created_at": created,
                }
            )
        book.contacts += people
        if is_customer:
            _customer(rng, account, people, included, sig)
        else:
            _prospect(rng, book, account, people, sig, n)


def _transcript(rng: random.Random, champion: dict[str, Any], closer: bool) -> str:
    first = champion["name"].split()[0]
    parts = [
        rng.choice(PAINS),
        rng.choice(SUCCESS),
        f"{first} will champion this internally.",
        f"Our {rng.choice(('CFO', 'CRO', 'VP of Sales', 'IT team'))} "
        "needs to sign off before we commit.",
        f"We are also evaluating {rng.choice(COMPETITORS)} for the same budget.",
        rng.choice(USE_CASES),
    ]
    if closer:
        parts.append(rng.choice(SUPPORTED_PROMISES))
        if rng.random() < 0.35:
            parts.append(rng.choice(UNSUPPORTED_PROMISES))
    rng.shuffle(parts)
    return " ".join(parts)


def _prospect(
    rng: random.Random,
    book: Book,
    account: dict[str, Any],
    people: list[dict[str, Any]],
    sig: Any,
    n: int,
) -> None:
    segment = account["segment"]
    amount = {
        "smb": rng.randint(5, 25),
        "mid_market": rng.randint(25, 90),
        "enterprise": rng.randint(90, 400),
    }[segment]
    age = rng.randint(5, 220)
    stage = rng.choice(STAGES)
    deal = {
        "id": f"deal-{account['id']}",
        "account_id": account["id"],
        "owner_id": account["owner_id"],
        "name": f"{account['name']} — {rng.choice(('Forecasting', 'Pipeline', 'Platform'))}",
        "stage": stage,
        "stage_entered_at": START - timedelta(days=rng.randint(1, max(2, age // 2))),
        "amount": amount * 1000.0,
        "product": rng.choice(("Forecasting", "Pipeline", "Platform")),
        "source": "demo",
        "created_at": START - timedelta(days=age),
    }
    book.deals.append(deal)
    champion = people[0]
    for _ in range(rng.randint(1, 5)):
        sig(
            "web_visit",
            account,
            rng.uniform(0, 29),
            source="web",
            url=rng.choice(("/pricing", "/product", "/customers")),
        )
    if rng.random() < 0.5:
        sig(
            "content_engagement",
            account,
            rng.uniform(0, 29),
            source="web",
            asset="RevOps forecasting playbook",
        )
    if rng.random() < 0.35:
        score = rng.randint(60, 95)
        sig(
            "intent_surge",
            account,
            rng.uniform(2, 28),
            source="bombora",
            topic="revenue forecasting",
            score=score,
            baseline=score - rng.randint(22, 45),
        )
    for _ in range(rng.randint(0, 3)):
        sig(
            "email_sent",
            account,
            rng.uniform(0, 28),
            contact=rng.choice(people),
            source="sequencer",
            subject="Quick question about your forecast",
        )
    closer = n % 9 == 0
    if closer or rng.random() < 0.4:
        day = rng.uniform(0, 10)
        sig(
            "call_transcript",
            account,
            day,
            contact=champion,
            source="gong",
            text=_transcript(rng, champion, closer),
        )
        if closer:
            sig(
                "call_transcript",
                account,
                day + rng.uniform(2, 6),
                contact=rng.choice(people),
                source="gong",
                text=_transcript(rng, champion, True),
            )
    if rng.random() < 0.45:
        roll = rng.random()
        text = (
            rng.choice(POSITIVE)
            if roll < 0.5
            else rng.choice(OBJECTIONS)
            if roll < 0.75
            else rng.choice(UNSUBSCRIBES)
            if roll < 0.9
            else rng.choice(OOO)
        )
        sig(
            "email_replied",
            account,
            rng.uniform(3, 29),
            contact=rng.choice(people),
            source="gmail",
            text=text,
        )
    if rng.random() < 0.2:
        sig(
            "meeting_booked",
            account,
            rng.uniform(5, 29),
            contact=champion,
            source="calendar",
            starts_at=(START + timedelta(days=rng.randint(10, 35), hours=15)).isoformat(),
        )
    if closer:
        sig(
            "crm_stage_change",
            account,
            rng.uniform(14, 28),
            source="crm",
            deal_id=deal["id"],
            from_stage=stage,
            to_stage="closed_won",
            amount=deal["amount"],
        )


def _customer(
    rng: random.Random,
    account: dict[str, Any],
    people: list[dict[str, Any]],
    included: int,
    sig: Any,
) -> None:
    roll = rng.random()
    champion = people[0]
    if roll < 0.06:  # the champion leaves: memory learned who the champion is first
        sig(
            "meeting_held",
            account,
            rng.uniform(0, 3),
            contact=champion,
            source="gong",
            text=(
                f"QBR. {champion['name'].split()[0]} will champion this with the new VP. "
                f"{rng.choice(SUCCESS)}"
            ),
        )
        sig(
            "contact_change",
            account,
            rng.uniform(10, 25),
            contact=champion,
            source="crm",
            left=True,
        )
    near = rng.random() < 0.22
    quiet = rng.random() < 0.1
    share = rng.uniform(0.85, 1.0) if near else rng.uniform(0.15, 0.5)
    weeks = 2 if quiet else 5
    for w in range(weeks):
        sig(
            "product_usage",
            account,
            w * 7 + rng.uniform(0, 1),
            source="product",
            feature="forecasting",
            count=round(included * share / 5),
        )
    if rng.random() < 0.15:
        seats = account["seats"] or 10
        sig(
            "seat_change",
            account,
            rng.uniform(5, 28),
            source="billing",
            previous_seats=seats,
            seats=int(seats * rng.uniform(1.25, 1.5)),
        )
    cluster = rng.random() < 0.14
    for _ in range(rng.randint(3, 5) if cluster else rng.randint(0, 2)):
        base = 12.0 if cluster else rng.uniform(0, 28)
        sig(
            "support_ticket",
            account,
            base + rng.uniform(0, 8),
            contact=rng.choice(people),
            source="zendesk",
            text=rng.choice(TICKETS),
            priority="high" if cluster else "medium",
        )
    if rng.random() < 0.3:
        score = rng.choice((2, 4, 5, 6)) if rng.random() < 0.4 else rng.randint(7, 10)
        sig(
            "nps_response",
            account,
            rng.uniform(5, 28),
            contact=rng.choice(people),
            source="delighted",
            score=score,
            text=rng.choice(DETRACTOR) if score <= 6 else rng.choice(PROMOTER),
        )
    if rng.random() < 0.03:
        sig(
            "cancellation",
            account,
            rng.uniform(15, 28),
            contact=champion,
            source="billing",
            reason="budget",
            text="We are cancelling at the end of the term; budget was cut.",
        )
    if rng.random() < 0.08:
        sig(
            "email_replied",
            account,
            rng.uniform(3, 28),
            contact=rng.choice(people),
            source="gmail",
            text=rng.choice(POSITIVE),
        )


def _deal_desk(
    rng: random.Random, accounts: list[dict[str, Any]], contacts: list[dict[str, Any]], sig: Any
) -> None:
    """What the deal desk acts on: pricing objections from prospects, customers' current
    subscriptions (some ending within the renewal notice period), and up to three enterprise
    customers (per shard of the book) whose renewal is at risk over price."""
    people: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in contacts:
        people[c["account_id"]].append(c)
    for account in accounts:
        if account["customer_state"] == "prospect" and rng.random() < 0.12:
            sig(
                "email_replied",
                account,
                rng.uniform(3, 29),
                contact=rng.choice(people[account["id"]]),
                source="gmail",
                text=rng.choice(PRICE_OBJECTIONS),
            )
    customers = [a for a in accounts if a["customer_state"] == "customer"]
    enterprise = [a for a in customers if a["segment"] == "enterprise"]
    tough = {a["id"] for a in rng.sample(enterprise, min(3, len(enterprise)))}
    for account in customers:
        hard = account["id"] in tough
        if not hard and rng.random() >= 0.3:
            continue
        ends = START + timedelta(days=rng.randint(25, 45) if hard else rng.randint(20, 160))
        sig(
            "subscription_change",
            account,
            rng.uniform(0, 2),
            source="billing",
            subscription_id=f"sub-{account['id']}",
            plan=account["plan"],
            seats=account["seats"],
            mrr=account["mrr"],
            billing="annual",
            auto_renew=rng.random() < 0.7,
            end_date=ends.date().isoformat(),
        )
        if hard:
            rival, other = rng.sample(COMPETITORS, 2)
            sig(
                "meeting_held",
                account,
                rng.uniform(8, 20),
                contact=people[account["id"]][0],
                source="gong",
                text=TOUGH_QBR.format(rival=rival, other=other),
            )
