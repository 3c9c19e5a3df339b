"""Maven Analytics "CRM Sales Opportunities" export → teams, users, accounts, deals, signals.

Files: ``accounts.csv``, ``products.csv``, ``sales_teams.csv``, ``sales_pipeline.csv``.
Quirks handled (each counted in the import notes):

- the pipeline writes ``GTXPro`` where the product list says ``GTX Pro``: product names are
  matched to ``products.csv`` ignoring case and spaces;
- the sector ``technolgy`` is a typo for ``technology``; the country ``Philipines`` for
  ``Philippines``;
- 1,425 open deals (Prospecting and Engaging) have a blank ``account``: revfield keys every
  deal by account, so they are dead-lettered with the reason, not guessed;
- Prospecting deals have no ``engage_date``: their stage entry time is unknown (left empty).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from revfield.clock import Clock
from revfield.domain import CustomerState, DealOutcome, Role
from revfield.ingest._crm import (
    CrmImportError,
    ImportReport,
    SignalBuffer,
    as_day,
    as_time,
    read_csv,
    segment_for_employees,
    slug,
)
from revfield.ingest._ingest import DeadLetterNote
from revfield.memory import Store, upsert, write_dead_letters

__all__ = ["import_maven"]

SOURCE = "maven"
STAGES = {
    "Prospecting": ("prospecting", DealOutcome.OPEN),
    "Engaging": ("engaging", DealOutcome.OPEN),
    "Won": ("closed_won", DealOutcome.WON),
    "Lost": ("closed_lost", DealOutcome.LOST),
}
SECTOR_TYPOS = {"technolgy": "technology"}
COUNTRY_TYPOS = {"Philipines": "Philippines"}


def user_id(name: str) -> str:
    return f"maven-{slug(name)}"


def account_id(name: str) -> str:
    return f"maven-{slug(name)}"


def import_maven(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    report = ImportReport("maven", str(directory))
    now = clock.now()
    files = {
        n: directory / f"{n}.csv" for n in ("accounts", "products", "sales_teams", "sales_pipeline")
    }
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise CrmImportError(
            f"{directory}: not a Maven CRM export; missing {', '.join(missing)} "
            "(expected accounts.csv, products.csv, sales_teams.csv, sales_pipeline.csv)"
        )

    prices: dict[str, tuple[str, float]] = {}
    for row in read_csv(files["products"], ["product", "sales_price"]):
        prices[_product_key(row.data["product"])] = (
            row.data["product"],
            float(row.data["sales_price"]),
        )

    teams: dict[str, dict[str, object]] = {}
    users: dict[str, dict[str, object]] = {}
    for row in read_csv(files["sales_teams"], ["sales_agent", "manager", "regional_office"]):
        manager, office = row.data["manager"], row.data["regional_office"]
        team = f"maven-team-{slug(manager)}"
        teams[team] = {"id": team, "name": f"{office} — {manager}"}
        users[user_id(manager)] = {
            "id": user_id(manager),
            "name": manager,
            "role": Role.MANAGER,
            "team_id": team,
        }
        agent = row.data["sales_agent"]
        users[user_id(agent)] = {
            "id": user_id(agent),
            "name": agent,
            "role": Role.SELLER,
            "team_id": team,
        }

    accounts: dict[str, dict[str, object]] = {}
    fixed_sectors = fixed_countries = 0
    for row in read_csv(files["accounts"], ["account", "sector", "employees", "office_location"]):
        d = row.data
        sector = SECTOR_TYPOS.get(d["sector"], d["sector"])
        country = COUNTRY_TYPOS.get(d["office_location"], d["office_location"])
        fixed_sectors += sector != d["sector"]
        fixed_countries += country != d["office_location"]
        employees = int(d["employees"]) if d["employees"] else None
        accounts[account_id(d["account"])] = {
            "id": account_id(d["account"]),
            "name": d["account"],
            "industry": sector or None,
            "employees": employees,
            "segment": segment_for_employees(employees),
            "region": country or None,
            "customer_state": CustomerState.PROSPECT,
            "owner_id": None,
            "source": SOURCE,
        }

    pipeline = files["sales_pipeline"]
    deals: list[dict[str, object]] = []
    signals = SignalBuffer()
    dead: list[tuple[int, str | None, str, str]] = []
    renamed: Counter[str] = Counter()
    deals_per_owner: dict[str, Counter[str]] = defaultdict(Counter)
    required = [
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ]
    for row in read_csv(pipeline, required):
        d = row.data
        if not d["account"]:
            dead.append(
                (
                    row.line,
                    "account",
                    "`account` is blank: revfield keys every deal by its account; "
                    "fill it in the CRM and import again",
                    row.raw,
                )
            )
            continue
        acc = account_id(d["account"])
        if acc not in accounts:
            dead.append(
                (
                    row.line,
                    "account",
                    f"`account`: `{d['account']}` is not in accounts.csv",
                    row.raw,
                )
            )
            continue
        if d["deal_stage"] not in STAGES:
            dead.append(
                (
                    row.line,
                    "deal_stage",
                    f"`deal_stage`: unknown stage `{d['deal_stage']}`",
                    row.raw,
                )
            )
            continue
        owner = user_id(d["sales_agent"])
        if owner not in users:
            users[owner] = {
                "id": owner,
                "name": d["sales_agent"],
                "role": Role.SELLER,
                "team_id": None,
            }
        product, price = prices.get(_product_key(d["product"]), (d["product"], None))
        if product != d["product"]:
            renamed[f"{d['product']} → {product}"] += 1
        stage, outcome = STAGES[d["deal_stage"]]
        engaged = as_time(d["engage_date"])
        closed = as_time(d["close_date"])
        amount = (
            float(d["close_value"]) if outcome is DealOutcome.WON and d["close_value"] else price
        )
        deal_id = f"maven-{d['opportunity_id']}"
        deals.append(
            {
                "id": deal_id,
                "account_id": acc,
                "owner_id": owner,
                "name": f"{product} for {d['account']}",
                "stage": stage,
                "stage_entered_at": closed if outcome is not DealOutcome.OPEN else engaged,
                "amount": amount,
                "currency": "USD",
                "product": product,
                "close_date": as_day(d["close_date"]),
                "outcome": outcome,
                "source": SOURCE,
                "created_at": engaged or now,
            }
        )
        deals_per_owner[acc][owner] += 1
        if outcome is DealOutcome.WON:
            accounts[acc]["customer_state"] = CustomerState.CUSTOMER
        base = {"source": SOURCE, "kind": "crm_stage_change", "account_id": acc}
        if engaged:
            signals.add(
                pipeline,
                row.line,
                {
                    **base,
                    "external_id": f"opp/{d['opportunity_id']}/engaging",
                    "occurred_at": engaged.isoformat(),
                    "payload": {
                        "deal_id": deal_id,
                        "from_stage": "prospecting",
                        "to_stage": "engaging",
                        "product": product,
                        "owner": owner,
                    },
                },
            )
        if closed:
            signals.add(
                pipeline,
                row.line,
                {
                    **base,
                    "external_id": f"opp/{d['opportunity_id']}/{stage}",
                    "occurred_at": closed.isoformat(),
                    "payload": {
                        "deal_id": deal_id,
                        "from_stage": "engaging",
                        "to_stage": stage,
                        "product": product,
                        "owner": owner,
                        "amount": amount,
                    },
                },
            )

    for acc, owners in deals_per_owner.items():
        # Maven has no account owner: the seller with most deals on the account owns it.
        accounts[acc]["owner_id"] = min(owners, key=lambda o: (-owners[o], o))

    with store.session() as session:
        report.tables["teams"] = upsert(session, "teams", list(teams.values()), now=now)
        report.tables["users"] = upsert(session, "users", list(users.values()), now=now)
        report.tables["accounts"] = upsert(session, "accounts", list(accounts.values()), now=now)
        report.tables["deals"] = upsert(session, "deals", deals, now=now)
        write_dead_letters(session, str(pipeline.resolve()), dead, now=now)
    report.signals = signals.ingest(store, clock, str(directory))
    report.dead_letters = [
        DeadLetterNote(line, f, reason, str(pipeline.resolve())) for line, f, reason, _ in dead
    ]
    for change, n in sorted(renamed.items()):
        report.notes.append(f"product `{change}` on {n:,} deals (matched to products.csv)")
    if fixed_sectors:
        report.notes.append(f"sector `technolgy` read as `technology` on {fixed_sectors} accounts")
    if fixed_countries:
        report.notes.append(
            f"office `Philipines` read as `Philippines` on {fixed_countries} account(s)"
        )
    blank = sum(1 for _, f, *_ in dead if f == "account")
    if blank:
        report.notes.append(
            f"{blank:,} deals with a blank account dead-lettered (see `revfield dead-letters`)"
        )
    return report


def _product_key(name: str) -> str:
    return name.replace(" ", "").lower()
