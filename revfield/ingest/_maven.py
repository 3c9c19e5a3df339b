"""Maven Analytics "CRM Sales Opportunities" export → teams, users, accounts, deals, signals.

Files: ``accounts.csv``, ``products.csv``, ``sales_teams.csv``, ``sales_pipeline.csv``.
Quirks handled (each counted in the import notes):

- the pipeline writes ``GTXPro`` where the product list says ``GTX Pro``: product names are
  matched to ``products.csv`` ignoring case and spaces;
- the sector ``technolgy`` is a typo for ``technology``; the country ``Philipines`` for
  ``Philippines``;
- 1,425 open deals (Prospecting and Engaging) have a blank ``account``: revfield keys every
  deal by account, so they are dead-lettered with the reason, not guessed;
- Prospecting deals have no date at all: their stage entry time is unknown (left empty), and
  they are dated at the start of the export's period (its earliest engage date), never at the
  time of the import, so that governance as of any day of the export counts them.

Every row is validated; a deal naming an account, seller or product its reference file does
not hold is dead-lettered, as is a second row with an id already used for other content.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import model_validator

from revfield._text import plural
from revfield.clock import Clock
from revfield.domain import CustomerState, DealOutcome, Role
from revfield.ingest._crm import (
    MAYBE_COUNT,
    MAYBE_MOMENT,
    MAYBE_MONEY,
    MONEY,
    CrmImportError,
    ExportFile,
    ExportRow,
    ImportReport,
    SignalBuffer,
    choice,
    maybe_text,
    row_error,
    segment_for_employees,
    slug,
    text,
    utc_time,
    where,
    write_export_dead_letters,
)
from revfield.memory import Store, upsert

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


def team_id(manager: str) -> str:
    return f"maven-team-{slug(manager)}"


def account_id(name: str) -> str:
    return f"maven-{slug(name)}"


def _named(column: str, value: str) -> None:
    if not slug(value):
        raise row_error(
            column,
            f"`{column}`: `{value}` has no letter or digit to make an id from; "
            "write the name in the export",
        )


class Product(ExportRow):
    """A row of ``products.csv``."""

    product: Annotated[str, text(120)]
    sales_price: Annotated[float, MONEY]


class Member(ExportRow):
    """A row of ``sales_teams.csv``: a seller, their manager and office."""

    sales_agent: Annotated[str, text(58)]
    manager: Annotated[str, text(53)]
    regional_office: Annotated[str, text(100)]

    @model_validator(mode="after")
    def _ids(self) -> Member:
        _named("sales_agent", self.sales_agent)
        _named("manager", self.manager)
        return self


class Company(ExportRow):
    """A row of ``accounts.csv``."""

    account: Annotated[str, text(120)]
    sector: Annotated[str | None, maybe_text(120)] = None
    employees: Annotated[int | None, MAYBE_COUNT] = None
    office_location: Annotated[str | None, maybe_text(120)] = None

    @model_validator(mode="after")
    def _id(self) -> Company:
        _named("account", self.account)
        return self


class Opportunity(ExportRow):
    """A row of ``sales_pipeline.csv``: one deal and where it stands."""

    blank: ClassVar[Mapping[str, str]] = {
        "account": "`account` is blank: revfield keys every deal by its account; "
        "fill it in the CRM and import again",
    }

    account: Annotated[str, text(120)]
    opportunity_id: Annotated[str, text(100)]
    sales_agent: Annotated[str, text(58)]
    product: Annotated[str, text(120)]
    deal_stage: Annotated[str, choice("deal stage", STAGES)]
    engage_date: Annotated[datetime | None, MAYBE_MOMENT] = None
    close_date: Annotated[datetime | None, MAYBE_MOMENT] = None
    close_value: Annotated[float | None, MAYBE_MONEY] = None

    @model_validator(mode="after")
    def _dates(self) -> Opportunity:
        stage = self.deal_stage
        if stage != "Prospecting" and self.engage_date is None:
            raise row_error(
                "engage_date",
                f"`engage_date` is blank, but a deal in stage {stage} was engaged: "
                "fill in the day it was (YYYY-MM-DD)",
            )
        if stage in ("Won", "Lost"):
            if self.close_date is None:
                raise row_error(
                    "close_date",
                    f"`close_date` is blank, but the deal is {stage}: "
                    "fill in the day it closed (YYYY-MM-DD)",
                )
            if self.engage_date and utc_time(self.close_date) < utc_time(self.engage_date):
                raise row_error(
                    "close_date",
                    f"`close_date`: {self.close_date.date()} is before `engage_date` "
                    f"{self.engage_date.date()}; a deal closes after it is engaged",
                )
        if stage == "Won" and self.close_value is None:
            raise row_error(
                "close_value", "`close_value` is blank, but the deal is Won: fill in its value"
            )
        return self


def import_maven(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    """Import a Maven CRM export (see the module's docstring)."""
    report = ImportReport("maven", str(directory))
    now = clock.now()
    names = ("accounts", "products", "sales_teams", "sales_pipeline")
    missing = [f"{n}.csv" for n in names if not (directory / f"{n}.csv").exists()]
    if missing:
        raise CrmImportError(
            f"{directory}: not a Maven CRM export; missing {', '.join(missing)} "
            "(expected accounts.csv, products.csv, sales_teams.csv, sales_pipeline.csv)"
        )
    products_file = ExportFile(
        directory / "products.csv", ["product", "sales_price"], reads=Product
    )
    teams_file = ExportFile(
        directory / "sales_teams.csv", ["sales_agent", "manager", "regional_office"], reads=Member
    )
    accounts_file = ExportFile(
        directory / "accounts.csv",
        ["account", "sector", "employees", "office_location"],
        reads=Company,
    )
    pipeline = ExportFile(
        directory / "sales_pipeline.csv",
        [
            "opportunity_id",
            "sales_agent",
            "product",
            "account",
            "deal_stage",
            "engage_date",
            "close_date",
            "close_value",
        ],
        reads=Opportunity,
    )
    files = (products_file, teams_file, accounts_file, pipeline)

    prices: dict[str, tuple[str, float]] = {}
    for row in products_file.rows():
        key = _product_key(row.data.get("product", ""))
        p = products_file.parse(Product, row, key)
        if p is not None and products_file.claim(
            key, row, "product", f"`{p.product}`", "products are matched ignoring case and spaces"
        ):
            prices[key] = (p.product, p.sales_price)

    teams: dict[str, dict[str, object]] = {}
    users: dict[str, dict[str, object]] = {}
    managers: dict[str, tuple[str, int]] = {}
    for row in teams_file.rows():
        agent_key = user_id(row.data.get("sales_agent", ""))
        m = teams_file.parse(Member, row, agent_key)
        if m is None:
            continue
        team = team_id(m.manager)
        office = managers.get(m.manager)
        if office is not None and office[0] != m.regional_office:
            teams_file.refuse(
                row,
                "regional_office",
                f"`regional_office`: `{m.regional_office}`, but manager {m.manager} is in "
                f"office `{office[0]}` at line {office[1]}; a manager leads one team",
                agent_key,
            )
            continue
        if user_id(m.sales_agent) == user_id(m.manager):
            teams_file.refuse(
                row, "sales_agent", f"`sales_agent`: {m.sales_agent} can't be their own manager"
            )
            continue
        if not teams_file.claim(
            agent_key, row, "sales_agent", f"`{m.sales_agent}`", "a seller is in one team"
        ):
            continue
        managers.setdefault(m.manager, (m.regional_office, row.line))
        teams[team] = {"id": team, "name": f"{m.regional_office} — {m.manager}"}
        users[user_id(m.manager)] = {
            "id": user_id(m.manager),
            "name": m.manager,
            "role": Role.MANAGER,
            "team_id": team,
        }
        users[agent_key] = {
            "id": agent_key,
            "name": m.sales_agent,
            "role": Role.SELLER,
            "team_id": team,
        }

    accounts: dict[str, dict[str, object]] = {}
    fixed_sectors = fixed_countries = 0
    for row in accounts_file.rows():
        key = account_id(row.data.get("account", ""))
        c = accounts_file.parse(Company, row, key)
        if c is None or not accounts_file.claim(
            key, row, "account", f"`{c.account}` (id `{key}`)", "an account name names one account"
        ):
            continue
        sector = SECTOR_TYPOS.get(c.sector or "", c.sector)
        country = COUNTRY_TYPOS.get(c.office_location or "", c.office_location)
        fixed_sectors += sector != c.sector
        fixed_countries += country != c.office_location
        accounts[key] = {
            "id": key,
            "name": c.account,
            "industry": sector,
            "employees": c.employees,
            "segment": segment_for_employees(c.employees),
            "region": country,
            "customer_state": CustomerState.PROSPECT,
            "owner_id": None,
            "source": SOURCE,
        }

    deals: list[dict[str, object]] = []
    undated: list[tuple[int, dict[str, object]]] = []
    engage_dates: list[datetime] = []
    signals = SignalBuffer()
    renamed: Counter[str] = Counter()
    deals_per_owner: dict[str, Counter[str]] = defaultdict(Counter)
    for row in pipeline.rows():
        o = pipeline.parse(Opportunity, row)
        if o is None:
            continue
        acc = account_id(o.account)
        owner = user_id(o.sales_agent)
        key = _product_key(o.product)
        if acc not in accounts:
            pipeline.refuse(
                row,
                "account",
                accounts_file.missing(
                    "account", o.account, acc, "add the account there or fix the name"
                ),
            )
            continue
        if owner not in users:
            pipeline.refuse(
                row,
                "sales_agent",
                teams_file.missing(
                    "sales_agent",
                    o.sales_agent,
                    owner,
                    "add the seller there with their manager and office, or fix the name",
                ),
            )
            continue
        if key not in prices:
            pipeline.refuse(
                row,
                "product",
                products_file.missing(
                    "product",
                    o.product,
                    key,
                    "add it there with its price (names match ignoring case and spaces)",
                ),
            )
            continue
        if not pipeline.claim(
            o.opportunity_id,
            row,
            "opportunity_id",
            f"`{o.opportunity_id}`",
            "an opportunity id names one deal",
        ):
            continue
        product, price = prices[key]
        if product != o.product:
            renamed[f"{o.product} → {product}"] += 1
        stage, outcome = STAGES[o.deal_stage]
        engaged = utc_time(o.engage_date) if o.engage_date else None
        closed = utc_time(o.close_date) if o.close_date else None
        amount = o.close_value if outcome is DealOutcome.WON else price
        deal_id = f"maven-{o.opportunity_id}"
        deal: dict[str, object] = {
            "id": deal_id,
            "account_id": acc,
            "owner_id": owner,
            "name": f"{product} for {o.account}",
            "stage": stage,
            "stage_entered_at": closed if outcome is not DealOutcome.OPEN else engaged,
            "amount": amount,
            "currency": "USD",
            "product": product,
            "close_date": o.close_date.date() if o.close_date else None,
            "outcome": outcome,
            "source": SOURCE,
            "created_at": engaged,
        }
        deals.append(deal)
        if engaged is None:
            undated.append((row.line, deal))
        else:
            engage_dates.append(engaged)
        deals_per_owner[acc][owner] += 1
        if outcome is DealOutcome.WON:
            accounts[acc]["customer_state"] = CustomerState.CUSTOMER
        base = {"source": SOURCE, "kind": "crm_stage_change", "account_id": acc}
        if engaged:
            signals.add(
                pipeline.path,
                row.line,
                {
                    **base,
                    "external_id": f"opp/{o.opportunity_id}/engaging",
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
                pipeline.path,
                row.line,
                {
                    **base,
                    "external_id": f"opp/{o.opportunity_id}/{stage}",
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

    if undated:
        # Prospecting deals carry no date. The honest time is the export's own period: they
        # are open in it, since when the export doesn't say. Never the import's wall clock.
        start = min(engage_dates, default=None)
        for _, deal in undated:
            deal["created_at"] = start or now
        since = (
            f"at the start of the export's period, {start.date()} (its earliest engage date)"
            if start is not None
            else "at the import (the export holds no date at all)"
        )
        report.notes.append(
            f"{plural(len(undated), 'deal')} in Prospecting carry no date: dated {since}, "
            f"their stage entry time left empty (sales_pipeline.csv "
            f"{where([line for line, _ in undated])})"
        )

    for acc, owners in deals_per_owner.items():
        # Maven has no account owner: the seller with most deals on the account owns it.
        accounts[acc]["owner_id"] = min(owners, key=lambda o: (-owners[o], o))

    with store.session() as session:
        report.tables["teams"] = upsert(session, "teams", list(teams.values()), now=now)
        report.tables["users"] = upsert(session, "users", list(users.values()), now=now)
        report.tables["accounts"] = upsert(session, "accounts", list(accounts.values()), now=now)
        report.tables["deals"] = upsert(session, "deals", deals, now=now)
        write_export_dead_letters(session, files, report, now)
    report.signals = signals.ingest(store, clock, str(directory))
    for change, n in sorted(renamed.items()):
        report.notes.append(f"product `{change}` on {n:,} deals (matched to products.csv)")
    if fixed_sectors:
        report.notes.append(f"sector `technolgy` read as `technology` on {fixed_sectors} accounts")
    if fixed_countries:
        report.notes.append(
            f"office `Philipines` read as `Philippines` on {fixed_countries} account(s)"
        )
    blank = sum(1 for d in report.dead_letters if d.reason.startswith("`account` is blank:"))
    if blank:
        report.notes.append(
            f"{blank:,} deals with a blank account dead-lettered (revfield keys every deal by "
            "its account; the dead letters name each line)"
        )
    return report


def _product_key(name: str) -> str:
    return name.replace(" ", "").lower()
