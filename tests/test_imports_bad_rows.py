"""CRM imports of the real exports with malformed rows appended: every bad row is
dead-lettered with its file, line, field and reason, every good row around it is imported,
the run exits 0, and importing again adds nothing. Only an export that can't be read as a
whole is an error. Runs on SQLite and PostgreSQL alike (the ``store`` fixture)."""

from __future__ import annotations

import csv
import functools
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from revfield.cli import app
from revfield.clock import ManualClock
from revfield.domain import CustomerState
from revfield.ingest import CrmImportError, ImportReport, run_import
from revfield.memory import Store
from revfield.memory.models import Account, DeadLetter, Deal, Signal, Team, User
from revfield.policies import governance_report, load_pack
from tests.factories import make_account

pytestmark = pytest.mark.shared_data

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DIRS = {
    "maven": "maven-crm-sales-opportunities",
    "olist": "olist-marketing-funnel",
    "ravenstack": "ravenstack-saas-churn",
    "tickets": "tobi-bueck-support-tickets",
}
TICKETS_CSV = "dataset-tickets-multi-lang3-4k.PREFIX.csv"
MQL = "olist_marketing_qualified_leads_dataset.csv"
DEALS = "olist_closed_deals_dataset.csv"
SELLERS = "olist_sellers_dataset.csv"
RS = "ravenstack_"


# -- the bad rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """The file's first data row again, with ``column`` changed: a repeated id."""

    column: str
    value: str


@dataclass(frozen=True)
class Repeat:
    """The file's first data row again, exactly."""


@dataclass(frozen=True)
class Case:
    """A bad row appended to ``file``, and the dead letter it must become (``column`` to
    blame, ``says`` in the reason); None for a row that is skipped, not dead-lettered."""

    name: str
    kind: str
    file: str
    row: str | bytes | Conflict | Repeat
    column: str | None
    says: str | None
    needs: tuple[str, ...] = ()
    """Other cases this one refers to (a row naming a dead-lettered row)."""


def _won(deal_id: str, **cells: str) -> str:
    values = {
        "opportunity_id": deal_id,
        "sales_agent": "Moses Frase",
        "product": "GTX Basic",
        "account": "Cancity",
        "deal_stage": "Won",
        "engage_date": "2017-02-01",
        "close_date": "2017-03-01",
        "close_value": "1054",
    }
    values.update(cells)
    return ",".join(values.values())


def _closed(mql: str, **cells: str) -> str:
    values = {
        "mql_id": mql,
        "seller_id": "2c43fb513632d29b3b58df74816f1b06",
        "sdr_id": "a8387c01a09e99ce014107505b92388c",
        "sr_id": "4ef15afb4b2723d8f3d81e51ec7afefe",
        "won_date": "2018-05-08 20:17:59",
        "business_segment": "pet",
        "lead_type": "online_medium",
        "lead_behaviour_profile": "cat",
        "has_company": "",
        "has_gtin": "",
        "average_stock": "",
        "business_type": "reseller",
        "declared_product_catalog_size": "",
        "declared_monthly_revenue": "0.0",
    }
    values.update(cells)
    return ",".join(values.values())


def _sub(sub: str, **cells: str) -> str:
    values = {
        "subscription_id": sub,
        "account_id": "A-2e4581",
        "start_date": "2024-01-01",
        "end_date": "",
        "plan_tier": "Basic",
        "seats": "5",
        "mrr_amount": "100",
        "arr_amount": "1200",
        "is_trial": "False",
        "upgrade_flag": "False",
        "downgrade_flag": "False",
        "churn_flag": "False",
        "billing_frequency": "monthly",
        "auto_renew_flag": "True",
    }
    values.update(cells)
    return ",".join(values.values())


def _customer(acc: str, **cells: str) -> str:
    values = {
        "account_id": acc,
        "account_name": "Bad Co",
        "industry": "EdTech",
        "country": "US",
        "signup_date": "2024-01-01",
        "referral_source": "partner",
        "plan_tier": "Basic",
        "seats": "5",
        "is_trial": "False",
        "churn_flag": "False",
    }
    values.update(cells)
    return ",".join(values.values())


def _ticket(**cells: str) -> str:
    values = {
        "subject": "Printer offline",
        "body": "The office printer went offline again this morning.",
        "answer": "We are looking into it.",
        "type": "Incident",
        "queue": "IT Support",
        "priority": "high",
        "language": "en",
        "business_type": "IT Services",
        **{f"tag_{n}": "" for n in range(1, 10)},
    }
    values.update(cells)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values.values())
    return buf.getvalue()


CASES: dict[str, list[Case]] = {
    "maven": [
        Case(
            "employees",
            "non-numeric",
            "accounts.csv",
            "Zeta Corp,software,2001,100.5,12x,United States,",
            "employees",
            "`employees`: `12x` is not a whole number",
        ),
        Case(
            "negative",
            "non-numeric",
            "accounts.csv",
            "Minus Corp,software,2001,100.5,-5,United States,",
            "employees",
            "`employees`: `-5` is negative",
        ),
        Case(
            "blank-account",
            "blank-key",
            "accounts.csv",
            ",software,2001,100,50,Kenya,",
            "account",
            "`account` is blank",
        ),
        Case(
            "symbol-account",
            "blank-key",
            "accounts.csv",
            "!!!,software,2001,100,50,Kenya,",
            "account",
            "has no letter or digit",
        ),
        Case(
            "account-twice",
            "conflict",
            "accounts.csv",
            Conflict("employees", "10"),
            "account",
            "is already at line 2 with different content",
        ),
        Case("account-again", "repeat", "accounts.csv", Repeat(), None, None),
        Case(
            "short-account",
            "missing-cells",
            "accounts.csv",
            "Short Row,software",
            None,
            "row has 2 cells but the header has 7 columns",
        ),
        Case(
            "latin1-account",
            "utf8",
            "accounts.csv",
            b"Caf\xe9 Corp,software,2001,100,50,France,",
            "account",
            "invalid UTF-8",
        ),
        Case(
            "nul-account",
            "nul",
            "accounts.csv",
            "Nul\x00 Corp,software,2001,100,50,France,",
            "account",
            "NUL character",
        ),
        Case(
            "price",
            "non-numeric",
            "products.csv",
            "GTX Ultra,GTX,abc",
            "sales_price",
            "`sales_price`: `abc` is not a number",
        ),
        Case(
            "product-twice",
            "conflict",
            "products.csv",
            "GTXPro,GTX,999",
            "product",
            "`product`: `GTXPro` is already at line 3 with different content",
        ),
        Case(
            "blank-product",
            "blank-key",
            "products.csv",
            ",GTX,100",
            "product",
            "`product` is blank",
        ),
        Case(
            "blank-manager",
            "blank-key",
            "sales_teams.csv",
            "New Seller,,Central",
            "manager",
            "`manager` is blank",
        ),
        Case(
            "seller-twice",
            "conflict",
            "sales_teams.csv",
            "Anna Snelling,Cara Losch,East",
            "sales_agent",
            "`sales_agent`: `Anna Snelling` is already at line 2",
        ),
        Case(
            "manager-two-offices",
            "conflict",
            "sales_teams.csv",
            "Rogue Agent,Dustin Brinkmann,West",
            "regional_office",
            "manager Dustin Brinkmann is in office `Central` at line 2",
        ),
        Case(
            "month-13",
            "impossible-date",
            "sales_pipeline.csv",
            _won("BAD00001", engage_date="2017-13-01"),
            "engage_date",
            "`engage_date`: `2017-13-01` is not a date (month must be in 1..12)",
        ),
        Case(
            "feb-30",
            "impossible-date",
            "sales_pipeline.csv",
            _won("BAD00002", close_date="2017-02-30"),
            "close_date",
            "`close_date`: `2017-02-30` is not a date (day is out of range for month)",
        ),
        Case(
            "year-217",
            "impossible-date",
            "sales_pipeline.csv",
            _won("BAD00003", engage_date="0217-02-01"),
            "engage_date",
            "the year 217 can't be right",
        ),
        Case(
            "amount",
            "non-numeric",
            "sales_pipeline.csv",
            _won("BAD00004", close_value="lots"),
            "close_value",
            "`close_value`: `lots` is not a number",
        ),
        Case(
            "huge-amount",
            "non-numeric",
            "sales_pipeline.csv",
            _won("BAD00005", close_value="1e400"),
            "close_value",
            "too large",
        ),
        Case(
            "short-deal",
            "missing-cells",
            "sales_pipeline.csv",
            "BAD00006,Moses Frase,GTX Basic,Cancity,Won",
            None,
            "row has 5 cells but the header has 8 columns",
        ),
        Case(
            "deal-twice",
            "conflict",
            "sales_pipeline.csv",
            Conflict("close_value", "1"),
            "opportunity_id",
            "is already at line 2 with different content",
        ),
        Case("deal-again", "repeat", "sales_pipeline.csv", Repeat(), None, None),
        Case(
            "unknown-seller",
            "unknown-reference",
            "sales_pipeline.csv",
            _won("BAD00007", sales_agent="Nobody Here"),
            "sales_agent",
            "`sales_agent`: `Nobody Here` is not in sales_teams.csv",
        ),
        Case(
            "unknown-product",
            "unknown-reference",
            "sales_pipeline.csv",
            _won("BAD00008", product="GTX Mega"),
            "product",
            "`product`: `GTX Mega` is not in products.csv",
        ),
        Case(
            "unknown-account",
            "unknown-reference",
            "sales_pipeline.csv",
            _won("BAD00009", account="Unknown Co"),
            "account",
            "`account`: `Unknown Co` is not in accounts.csv",
        ),
        Case(
            "refused-account",
            "refused-reference",
            "sales_pipeline.csv",
            _won("BAD00010", account="Zeta Corp"),
            "account",
            "`account`: `Zeta Corp` was not imported: its row in accounts.csv (line 87) was "
            "dead-lettered",
            needs=("employees",),
        ),
        Case(
            "refused-seller",
            "refused-reference",
            "sales_pipeline.csv",
            _won("BAD00011", sales_agent="New Seller"),
            "sales_agent",
            "was not imported: its row in sales_teams.csv",
            needs=("blank-manager",),
        ),
        Case(
            "stage",
            "unknown-choice",
            "sales_pipeline.csv",
            _won("BAD00012", deal_stage="Closing"),
            "deal_stage",
            "`deal_stage`: unknown deal stage `Closing`",
        ),
        Case(
            "no-engage-date",
            "missing-value",
            "sales_pipeline.csv",
            _won("BAD00013", deal_stage="Engaging", engage_date="", close_date="", close_value=""),
            "engage_date",
            "`engage_date` is blank, but a deal in stage Engaging",
        ),
        Case(
            "closed-before-engaged",
            "missing-value",
            "sales_pipeline.csv",
            _won("BAD00014", close_date="2017-01-01"),
            "close_date",
            "`close_date`: 2017-01-01 is before `engage_date` 2017-02-01",
        ),
        Case(
            "blank-id",
            "blank-key",
            "sales_pipeline.csv",
            _won(""),
            "opportunity_id",
            "`opportunity_id` is blank",
        ),
        Case(
            "latin1-deal",
            "utf8",
            "sales_pipeline.csv",
            _won("BAD00015", sales_agent="Mos\udce9s").encode("utf-8", "surrogateescape"),
            "sales_agent",
            "invalid UTF-8",
        ),
    ],
    "olist": [
        Case(
            "blank-mql", "blank-key", MQL, ",2018-01-01,lp1,social", "mql_id", "`mql_id` is blank"
        ),
        Case(
            "feb-30",
            "impossible-date",
            MQL,
            "badmql00000000000000000000000001,2018-02-30,lp1,social",
            "first_contact_date",
            "`first_contact_date`: `2018-02-30` is not a date (day is out of range for month)",
        ),
        Case(
            "no-date",
            "missing-value",
            MQL,
            "badmql00000000000000000000000002,,lp1,social",
            "first_contact_date",
            "`first_contact_date` is blank",
        ),
        Case(
            "mql-twice",
            "conflict",
            MQL,
            Conflict("origin", "email"),
            "mql_id",
            "is already at line 2 with different content",
        ),
        Case("mql-again", "repeat", MQL, Repeat(), None, None),
        Case(
            "short-mql",
            "missing-cells",
            MQL,
            "badmql00000000000000000000000003,2018-01-01",
            None,
            "row has 2 cells but the header has 4 columns",
        ),
        Case(
            "latin1-mql",
            "utf8",
            MQL,
            b"badmql00000000000000000000000004,2018-01-01,lp\xff,x",
            "landing_page_id",
            "invalid UTF-8",
        ),
        Case(
            "unknown-mql",
            "unknown-reference",
            DEALS,
            _closed("nomql00000000000000000000000001"),
            "mql_id",
            "`mql_id`: `nomql00000000000000000000000001` is not in " + MQL,
        ),
        Case(
            "refused-mql",
            "refused-reference",
            DEALS,
            _closed("badmql00000000000000000000000001"),
            "mql_id",
            "was not imported: its row in " + MQL,
            needs=("feb-30",),
        ),
        Case(
            "blank-sdr",
            "blank-key",
            DEALS,
            _closed("{free_mql}", sdr_id=""),
            "sdr_id",
            "`sdr_id` is blank",
        ),
        Case(
            "month-13",
            "impossible-date",
            DEALS,
            _closed("{free_mql}", won_date="2018-13-01 10:00:00"),
            "won_date",
            "`won_date`: `2018-13-01 10:00:00` is not a date (month must be in 1..12)",
        ),
        Case(
            "revenue",
            "non-numeric",
            DEALS,
            _closed("{free_mql}", declared_monthly_revenue="lots"),
            "declared_monthly_revenue",
            "`declared_monthly_revenue`: `lots` is not a number",
        ),
        Case(
            "lead-type",
            "unknown-choice",
            DEALS,
            _closed("{free_mql}", lead_type="online_huge"),
            "lead_type",
            "`lead_type`: unknown lead type `online_huge`",
        ),
        Case(
            "flag",
            "unknown-choice",
            DEALS,
            _closed("{free_mql}", has_company="perhaps"),
            "has_company",
            "`has_company`: `perhaps` is not a flag",
        ),
        Case(
            "deal-twice",
            "conflict",
            DEALS,
            Conflict("declared_monthly_revenue", "5.0"),
            "mql_id",
            "is already at line 2 with different content",
        ),
        Case(
            "short-deal",
            "missing-cells",
            DEALS,
            "{free_mql},x,y",
            None,
            "row has 3 cells but the header has 14 columns",
        ),
        Case(
            "blank-state",
            "missing-value",
            SELLERS,
            "badseller1,01000,sao paulo,",
            "seller_state",
            "`seller_state` is blank",
        ),
        Case(
            "state",
            "unknown-choice",
            SELLERS,
            "badseller2,01000,sao paulo,São Paulo",
            "seller_state",
            "`seller_state`: `São Paulo` is not a state code",
        ),
        Case(
            "seller-twice",
            "conflict",
            SELLERS,
            Conflict("seller_state", "RJ"),
            "seller_id",
            "is already at line 2 with different content",
        ),
        Case(
            "nul-seller",
            "nul",
            SELLERS,
            "bad\x00seller,01000,sao paulo,SP",
            "seller_id",
            "NUL character",
        ),
    ],
    "ravenstack": [
        Case(
            "seats",
            "non-numeric",
            RS + "accounts.csv",
            _customer("A-bad001", seats="many"),
            "seats",
            "`seats`: `many` is not a whole number",
        ),
        Case(
            "churn-flag",
            "unknown-choice",
            RS + "accounts.csv",
            _customer("A-bad002", churn_flag="maybe"),
            "churn_flag",
            "`churn_flag`: `maybe` is not a flag; write `True` or `False`",
        ),
        Case(
            "blank-account",
            "blank-key",
            RS + "accounts.csv",
            _customer(""),
            "account_id",
            "`account_id` is blank",
        ),
        Case(
            "tier",
            "unknown-choice",
            RS + "accounts.csv",
            _customer("A-bad003", plan_tier="Platinum"),
            "plan_tier",
            "`plan_tier`: unknown plan tier `Platinum`",
        ),
        Case(
            "month-13",
            "impossible-date",
            RS + "accounts.csv",
            _customer("A-bad004", signup_date="2024-13-01"),
            "signup_date",
            "`signup_date`: `2024-13-01` is not a date (month must be in 1..12)",
        ),
        Case(
            "account-twice",
            "conflict",
            RS + "accounts.csv",
            Conflict("seats", "99"),
            "account_id",
            "is already at line 2 with different content",
        ),
        Case("account-again", "repeat", RS + "accounts.csv", Repeat(), None, None),
        Case(
            "short-account",
            "missing-cells",
            RS + "accounts.csv",
            "A-bad005,Bad Co,EdTech,US",
            None,
            "row has 4 cells but the header has 10 columns",
        ),
        Case(
            "unknown-account",
            "unknown-reference",
            RS + "subscriptions.csv",
            _sub("S-bad001", account_id="A-nope00"),
            "account_id",
            "`account_id`: `A-nope00` is not in ravenstack_accounts.csv",
        ),
        Case(
            "feb-30",
            "impossible-date",
            RS + "subscriptions.csv",
            _sub("S-bad002", start_date="2024-02-30"),
            "start_date",
            "`start_date`: `2024-02-30` is not a date (day is out of range for month)",
        ),
        Case(
            "sub-seats",
            "non-numeric",
            RS + "subscriptions.csv",
            _sub("S-bad003", seats="x"),
            "seats",
            "`seats`: `x` is not a whole number",
        ),
        Case(
            "mrr",
            "non-numeric",
            RS + "subscriptions.csv",
            _sub("S-bad004", mrr_amount="free"),
            "mrr_amount",
            "`mrr_amount`: `free` is not a number",
        ),
        Case(
            "ends-before-start",
            "missing-value",
            RS + "subscriptions.csv",
            _sub("S-bad005", start_date="2024-05-01", end_date="2024-01-01"),
            "end_date",
            "`end_date`: 2024-01-01 is before `start_date` 2024-05-01",
        ),
        Case(
            "sub-twice",
            "conflict",
            RS + "subscriptions.csv",
            Conflict("seats", "15"),
            "subscription_id",
            "is already at line 2 with different content",
        ),
        Case(
            "refused-account",
            "refused-reference",
            RS + "subscriptions.csv",
            _sub("S-bad006", account_id="A-bad001"),
            "account_id",
            "`account_id`: `A-bad001` was not imported: its row in ravenstack_accounts.csv",
            needs=("seats",),
        ),
        Case(
            "unknown-subscription",
            "unknown-reference",
            RS + "feature_usage.csv",
            "U-bad001,S-nope00,2024-01-01,feature_1,3,100,0,False",
            "subscription_id",
            "`subscription_id`: `S-nope00` is not in ravenstack_subscriptions.csv",
        ),
        Case(
            "usage-count",
            "non-numeric",
            RS + "feature_usage.csv",
            "U-bad002,S-8cec59,2024-01-01,feature_1,lots,100,0,False",
            "usage_count",
            "`usage_count`: `lots` is not a number",
        ),
        Case(
            "usage-feb-30",
            "impossible-date",
            RS + "feature_usage.csv",
            "U-bad003,S-8cec59,2024-02-30,feature_1,3,100,0,False",
            "usage_date",
            "day is out of range for month",
        ),
        Case(
            "usage-twice",
            "conflict",
            RS + "feature_usage.csv",
            Conflict("usage_count", "77"),
            "usage_id",
            "is already at line 2 with different content",
        ),
        Case(
            "refused-subscription",
            "refused-reference",
            RS + "feature_usage.csv",
            "U-bad004,S-bad006,2024-01-01,feature_1,3,100,0,False",
            "subscription_id",
            "`subscription_id`: `S-bad006` was not imported: its row in "
            "ravenstack_subscriptions.csv",
            needs=("refused-account", "seats"),
        ),
        Case(
            "ticket-account",
            "unknown-reference",
            RS + "support_tickets.csv",
            "T-bad001,A-nope00,2024-01-01,,,high,10,,False",
            "account_id",
            "`account_id`: `A-nope00` is not in ravenstack_accounts.csv",
        ),
        Case(
            "priority",
            "unknown-choice",
            RS + "support_tickets.csv",
            "T-bad002,A-2e4581,2024-01-01,,,p1,10,,False",
            "priority",
            "`priority`: unknown priority `p1`",
        ),
        Case(
            "satisfaction",
            "non-numeric",
            RS + "support_tickets.csv",
            "T-bad003,A-2e4581,2024-01-01,,,high,10,great,False",
            "satisfaction_score",
            "`satisfaction_score`: `great` is not a number",
        ),
        Case(
            "ticket-twice",
            "conflict",
            RS + "support_tickets.csv",
            Conflict("priority", "low"),
            "ticket_id",
            "is already at line 2 with different content",
        ),
        Case(
            "churn-account",
            "unknown-reference",
            RS + "churn_events.csv",
            "C-bad001,A-nope00,2024-01-01,pricing,0,False,False,False,",
            "account_id",
            "`account_id`: `A-nope00` is not in ravenstack_accounts.csv",
        ),
        Case(
            "refund",
            "non-numeric",
            RS + "churn_events.csv",
            "C-bad002,A-2e4581,2024-01-01,pricing,n/a,False,False,False,",
            "refund_amount_usd",
            "`refund_amount_usd`: `n/a` is not a number",
        ),
        Case(
            "churn-date",
            "impossible-date",
            RS + "churn_events.csv",
            "C-bad003,A-2e4581,2024-04-31,pricing,0,False,False,False,",
            "churn_date",
            "`churn_date`: `2024-04-31` is not a date (day is out of range for month)",
        ),
        Case(
            "latin1-churn",
            "utf8",
            RS + "churn_events.csv",
            b"C-bad004,A-2e4581,2024-01-01,pricing,0,False,False,False,tr\xe8s cher",
            "feedback_text",
            "invalid UTF-8",
        ),
    ],
    "tickets": [
        Case(
            "priority",
            "unknown-choice",
            TICKETS_CSV,
            _ticket(priority="highest"),
            "priority",
            "`priority`: unknown priority `highest`; did you mean `high`?",
        ),
        Case(
            "no-words",
            "missing-value",
            TICKETS_CSV,
            _ticket(subject="", body=""),
            "body",
            "`subject` and `body` are both blank",
        ),
        Case(
            "too-long",
            "missing-value",
            TICKETS_CSV,
            _ticket(body="x" * 70_000),
            "body",
            "over the 65,536-character limit",
        ),
        Case(
            "short-ticket",
            "missing-cells",
            TICKETS_CSV,
            "Printer offline,It broke",
            None,
            "row has 2 cells but the header has 17 columns",
        ),
        Case(
            "latin1-ticket",
            "utf8",
            TICKETS_CSV,
            _ticket(body="caf\udce9").encode("utf-8", "surrogateescape"),
            "body",
            "invalid UTF-8",
        ),
        Case("nul-ticket", "nul", TICKETS_CSV, _ticket(body="a\x00b"), "body", "NUL character"),
        Case("ticket-again", "repeat", TICKETS_CSV, Repeat(), None, None),
    ],
}


# -- building the exports -------------------------------------------------------------------


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        header, *rows = csv.reader(f)
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _trim(kind: str, source: Path, target: Path) -> None:
    """A smaller copy of a real export (the same first rows, its references kept whole), so
    that a test imports in a fraction of a second."""
    target.mkdir(parents=True)
    for f in source.glob("*.csv"):
        shutil.copy(f, target / f.name)
    if kind == "maven":
        header, rows = _rows(source / "sales_pipeline.csv")
        _write(target / "sales_pipeline.csv", header, rows[:300])
    elif kind == "olist":
        deals = _rows(source / DEALS)[1]
        mh, mqls = _rows(source / MQL)
        won = {d[0] for d in deals}
        _write(target / MQL, mh, [m for i, m in enumerate(mqls) if i < 300 or m[0] in won])
    elif kind == "ravenstack":
        sh, subs = _rows(source / f"{RS}subscriptions.csv")
        kept = {s[0] for s in subs[:300]}
        _write(target / f"{RS}subscriptions.csv", sh, subs[:300])
        uh, usage = _rows(source / f"{RS}feature_usage.csv")
        _write(target / f"{RS}feature_usage.csv", uh, [u for u in usage if u[1] in kept][:300])
        for name in ("support_tickets.csv", "churn_events.csv"):
            h, rows = _rows(source / f"{RS}{name}")
            _write(target / f"{RS}{name}", h, rows[:100])
    else:
        h, rows = _rows(source / TICKETS_CSV)
        _write(target / TICKETS_CSV, h, rows[:60])


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        return sum(1 for _ in f)


@dataclass
class Expected:
    case: Case
    file: str
    line: int


@dataclass
class BadExport:
    directory: Path
    expected: list[Expected] = field(default_factory=list)

    def dead(self) -> list[Expected]:
        return [e for e in self.expected if e.case.says is not None]

    def repeats(self) -> list[Expected]:
        return [e for e in self.expected if isinstance(e.case.row, Repeat)]


def _free_mql(directory: Path) -> str:
    won = {d[0] for d in _rows(directory / DEALS)[1]}
    return next(m[0] for m in _rows(directory / MQL)[1] if m[0] not in won)


def append_bad_rows(kind: str, clean: Path, target: Path, cases: list[Case]) -> BadExport:
    """A copy of the export in ``clean`` with the rows of ``cases`` appended, and where each
    lands (file and line)."""
    shutil.copytree(clean, target)
    bad = BadExport(target)
    placeholders = {"{free_mql}": _free_mql(clean)} if kind == "olist" else {}
    for case in cases:
        path = target / case.file
        header, rows = _rows(clean / case.file)
        row = case.row
        if isinstance(row, Conflict | Repeat):
            cells = list(rows[0])
            if isinstance(row, Conflict):
                cells[header.index(row.column)] = row.value
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(cells)
            row = buf.getvalue()
        data = row if isinstance(row, bytes) else row.encode("utf-8")
        for old, new in placeholders.items():
            data = data.replace(old.encode(), new.encode())
        line = _lines(path) + 1
        with path.open("ab") as f:
            f.write(data + b"\n")
        bad.expected.append(Expected(case, case.file, line))
    return bad


def cases_for(kind: str, *names_or_kinds: str) -> list[Case]:
    """The cases of ``kind`` named, or of the kinds named, with the cases they need first."""
    chosen = [c for c in CASES[kind] if c.name in names_or_kinds or c.kind in names_or_kinds]
    needed = {n for c in chosen for n in c.needs}
    return [c for c in CASES[kind] if c.name in needed and c not in chosen] + chosen


def with_kind(kind: str) -> list[str]:
    return [k for k, cases in CASES.items() if any(c.kind == kind for c in cases)]


# -- the reference: each clean (trimmed) export imported alone ------------------------------


@dataclass
class Reference:
    directory: Path
    new_rows: int
    dead_letters: int
    tables: dict[str, int]


def seed_customers(store: Store) -> None:
    """Customer accounts for the tickets to attach to (tickets name no customer)."""
    for n in range(3):
        make_account(store, f"cust-{n}", customer_state=CustomerState.CUSTOMER, source="test")


@functools.cache
def _reference(kind: str, data: Path, work: Path, template: Path) -> Reference:
    clean = work / f"{kind}-clean"
    _trim(kind, data / DIRS[kind], clean)
    db = work / f"{kind}-reference.db"
    shutil.copy(template, db)
    store = Store.from_url(f"sqlite:///{db}")
    if kind == "tickets":
        seed_customers(store)
    report = run_import(kind, store, clean, clock=ManualClock(T0))
    tables = table_counts(store)
    store.dispose()
    return Reference(clean, report.new_rows, report.dead_lettered, tables)


@pytest.fixture
def reference(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Callable[[str], Reference]:
    work = tmp_path_factory.getbasetemp() / "bad-rows-reference"
    work.mkdir(exist_ok=True)
    return lambda kind: _reference(kind, shared_data, work, sqlite_template)


def table_counts(store: Store) -> dict[str, int]:
    with store.read() as s:
        return {
            t.__tablename__: s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (Account, Deal, Signal, Team, User)
        }


def dead_letters_stored(store: Store) -> list[tuple[str, int, str | None, str]]:
    D = DeadLetter.__table__
    with store.read() as s:
        rows = s.execute(sa.select(D.c.source_file, D.c.line, D.c.field, D.c.reason)).all()
    return sorted((Path(f).name, line, col, reason) for f, line, col, reason in rows)


# -- checking one kind of bad row -----------------------------------------------------------


def import_with_bad_rows(
    kind: str, cases: list[Case], store: Store, clock: ManualClock, tmp_path: Path, ref: Reference
) -> tuple[ImportReport, BadExport]:
    bad = append_bad_rows(kind, ref.directory, tmp_path / "bad", cases)
    if kind == "tickets":
        seed_customers(store)
    report = run_import(kind, store, bad.directory, clock=clock)
    got = {(Path(d.file or "").name, d.line): d for d in report.dead_letters}
    for e in bad.dead():
        note = got.get((e.file, e.line))
        assert note is not None, f"{e.case.name}: {e.file}:{e.line} was not dead-lettered"
        assert note.field == e.case.column, f"{e.case.name}: {note}"
        assert e.case.says in note.reason, f"{e.case.name}: {note.reason}"
        assert "\n" not in note.reason
    # the bad rows and nothing else were refused; every good row was imported, nothing more
    assert len(report.dead_letters) == len(bad.dead()) + ref.dead_letters
    assert report.signals is not None and report.signals.dead_lettered == 0
    assert report.new_rows == ref.new_rows
    assert table_counts(store) == ref.tables
    clean_again = run_import(kind, store, ref.directory, clock=clock)
    assert clean_again.new_rows == 0 and clean_again.updated_rows == 0
    return report, bad


def check(kind: str, bad_kind: str, store, clock, tmp_path, reference) -> ImportReport:
    report, _ = import_with_bad_rows(
        kind, cases_for(kind, bad_kind), store, clock, tmp_path, reference(kind)
    )
    return report


@pytest.mark.parametrize("kind", with_kind("impossible-date"))
def test_an_impossible_date_is_dead_lettered(kind, store, clock, tmp_path, reference):
    check(kind, "impossible-date", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("non-numeric"))
def test_a_non_numeric_or_out_of_range_number_is_dead_lettered(
    kind, store, clock, tmp_path, reference
):
    check(kind, "non-numeric", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("missing-cells"))
def test_a_row_with_missing_cells_is_dead_lettered(kind, store, clock, tmp_path, reference):
    check(kind, "missing-cells", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("utf8"))
def test_invalid_utf8_is_dead_lettered_naming_the_cell(kind, store, clock, tmp_path, reference):
    check(kind, "utf8", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("nul"))
def test_a_nul_character_is_dead_lettered(kind, store, clock, tmp_path, reference):
    check(kind, "nul", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("blank-key"))
def test_a_blank_key_is_dead_lettered_not_made_into_a_junk_id(
    kind, store, clock, tmp_path, reference
):
    check(kind, "blank-key", store, clock, tmp_path, reference)
    A, T, U = Account.__table__, Team.__table__, User.__table__
    with store.read() as s:
        assert not s.execute(sa.select(A.c.id).where(A.c.id.like("%-"))).all()
        assert not s.execute(sa.select(T.c.id).where(T.c.id.like("%-"))).all()
        assert not s.execute(sa.select(U.c.id).where(U.c.id.like("%-"))).all()


@pytest.mark.parametrize("kind", with_kind("unknown-choice"))
def test_a_value_outside_its_choices_is_dead_lettered(kind, store, clock, tmp_path, reference):
    check(kind, "unknown-choice", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("missing-value"))
def test_a_missing_or_contradictory_value_is_dead_lettered(kind, store, clock, tmp_path, reference):
    check(kind, "missing-value", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("unknown-reference"))
def test_a_row_naming_what_the_export_lacks_is_dead_lettered_not_dropped(
    kind, store, clock, tmp_path, reference
):
    # a deal whose MQL, account, seller or product is unknown; usage of an unknown subscription
    check(kind, "unknown-reference", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("refused-reference"))
def test_a_row_naming_a_dead_lettered_row_says_which_line_to_fix(
    kind, store, clock, tmp_path, reference
):
    check(kind, "refused-reference", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("conflict"))
def test_a_repeated_id_with_other_content_is_a_conflict_naming_the_first_line(
    kind, store, clock, tmp_path, reference
):
    check(kind, "conflict", store, clock, tmp_path, reference)


@pytest.mark.parametrize("kind", with_kind("repeat"))
def test_an_exact_repeat_is_skipped_and_named_in_the_report(
    kind, store, clock, tmp_path, reference
):
    report, bad = import_with_bad_rows(
        kind, cases_for(kind, "repeat"), store, clock, tmp_path, reference(kind)
    )
    for e in bad.repeats():
        assert report.files[e.file].repeated == 1
        assert any(e.file in n and f"line {e.line}" in n for n in report.notes), report.notes


MAIN_FILE = {
    "maven": "sales_pipeline.csv",
    "olist": DEALS,
    "ravenstack": RS + "subscriptions.csv",
    "tickets": TICKETS_CSV,
}


@pytest.mark.parametrize("kind", sorted(MAIN_FILE))
def test_a_row_of_blank_cells_is_skipped_and_named_in_the_report(
    kind, store, clock, tmp_path, reference
):
    """A spreadsheet's trailing `,,,` row holds nothing to import: it is skipped, not a dead
    letter, and the report names its line (a blank line is no row at all)."""
    blank = Case("blank", "blank", MAIN_FILE[kind], ",,,,", None, None)
    report, bad = import_with_bad_rows(kind, [blank], store, clock, tmp_path, reference(kind))
    (e,) = bad.expected
    assert any(
        e.file in n and "only blank cells" in n and f"line {e.line}" in n for n in report.notes
    ), report.notes


# -- the whole of each export, through the command line -------------------------------------


runner = CliRunner()

CLEAN = {
    # rows of each clean real export (the numbers before validation was added)
    "maven": {"accounts": 85, "deals": 7375, "signals": 13923, "dead": 1425, "new": 21430},
    "olist": {"accounts": 8000, "deals": 842, "signals": 8842, "dead": 0, "new": 17740},
    "ravenstack": {"accounts": 500, "deals": 0, "signals": 35513, "dead": 0, "new": 36013},
    "tickets": {"accounts": 3, "deals": 0, "signals": 1166, "dead": 0, "new": 1166},
}


@pytest.mark.parametrize("kind", list(DIRS))
def test_each_export_with_bad_rows_appended_imports_every_good_row_and_exits_0(
    kind, db_url, shared_data, tmp_path
):
    bad = append_bad_rows(kind, shared_data / DIRS[kind], tmp_path / kind, CASES[kind])
    store = Store.from_url(db_url)
    if kind == "tickets":
        seed_customers(store)
    args = ["--db", db_url, "import-crm", kind, str(bad.directory)]

    first = runner.invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    out = " ".join(first.output.split())
    dead = len(bad.dead()) + CLEAN[kind]["dead"]
    assert f"{CLEAN[kind]['new']:,} new rows; {dead:,} rows dead-lettered" in out
    assert "revfield dead-letters --file" in out
    stored = dead_letters_stored(store)
    assert len(stored) == dead
    where = {(f, line): (col, reason) for f, line, col, reason in stored}
    for e in bad.dead():
        col, reason = where[(e.file, e.line)]
        assert col == e.case.column and e.case.says in reason, (e.case.name, reason)
    counts = table_counts(store)
    assert counts["accounts"] == CLEAN[kind]["accounts"]
    assert counts["deals"] == CLEAN[kind]["deals"]
    assert counts["signals"] == CLEAN[kind]["signals"]

    second = runner.invoke(app, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "0 new rows — the memory already holds this export" in " ".join(second.output.split())
    assert dead_letters_stored(store) == stored
    store.dispose()


def test_prospecting_deals_are_dated_in_the_export_not_at_the_import(store, clock, shared_data):
    report = run_import("maven", store, shared_data / DIRS["maven"], clock=clock)
    pack = load_pack(Path(__file__).resolve().parents[1] / "policies")
    with store.read() as s:
        mid_2017 = governance_report(s, pack, datetime(2017, 6, 30, tzinfo=UTC))
        end = governance_report(s, pack, datetime(2017, 12, 31, tzinfo=UTC))
        D = Deal.__table__
        prospecting = s.execute(
            sa.select(D.c.created_at, D.c.stage_entered_at).where(D.c.stage == "prospecting")
        ).all()
    assert len(prospecting) == 163
    assert {c for c, _ in prospecting} == {datetime(2016, 10, 20, tzinfo=UTC)}
    assert all(entered is None for _, entered in prospecting)
    assert end.open_deals == 501 + 163
    assert mid_2017.open_deals >= 163
    assert any("163 deals in Prospecting" in n and "2016-10-20" in n for n in report.notes)


# -- an export that can't be read at all is one clear error ---------------------------------


def _maven_copy(shared_data: Path, target: Path) -> Path:
    shutil.copytree(shared_data / DIRS["maven"], target)
    return target


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "missing products.csv"),
        ("directory", "products.csv: is not a file"),
        ("empty", "products.csv: file is empty"),
        ("no-column", "products.csv:1: header is missing column `sales_price`"),
        ("column-twice", "products.csv:1: header names column `product` more than once"),
        ("utf16", "products.csv:1: header is missing columns `product`, `sales_price`"),
    ],
)
def test_an_export_that_cannot_be_read_is_one_clear_error(
    breakage, message, db_url, shared_data, tmp_path
):
    directory = _maven_copy(shared_data, tmp_path / "maven")
    products = directory / "products.csv"
    text = products.read_text(encoding="utf-8")
    products.unlink()
    if breakage == "directory":
        products.mkdir()
    elif breakage == "empty":
        products.write_text("")
    elif breakage == "no-column":
        products.write_text("product,series\nGTX Basic,GTX\n")
    elif breakage == "column-twice":
        products.write_text("product,product,sales_price\nGTX Basic,GTX,550\n")
    elif breakage == "utf16":
        products.write_text(text, encoding="utf-16")
    result = runner.invoke(app, ["--db", db_url, "import-crm", "maven", str(directory)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert len(result.output.strip().splitlines()) == 1
    store = Store.from_url(db_url)
    assert table_counts(store)["deals"] == 0 and not dead_letters_stored(store)  # nothing written
    store.dispose()


def test_a_missing_required_column_raises_crm_import_error(store, clock, shared_data, tmp_path):
    directory = _maven_copy(shared_data, tmp_path / "maven")
    (directory / "accounts.csv").write_text("account,sector\nAcme,retail\n")
    with pytest.raises(CrmImportError, match=r"accounts\.csv:1: header is missing columns"):
        run_import("maven", store, directory, clock=clock)


def test_a_broken_cell_in_a_column_the_importer_does_not_read_keeps_the_row(
    store, clock, tmp_path, reference
):
    # accounts.csv's `revenue` and `subsidiary_of` are not mapped: bad bytes there harm nothing
    directory = tmp_path / "maven"
    shutil.copytree(reference("maven").directory, directory)
    with (directory / "accounts.csv").open("ab") as f:
        f.write(b"Newco,software,2001,12\xe9,50,Kenya,Par\x00ent\n")
    report = run_import("maven", store, directory, clock=clock)
    assert len(report.dead_letters) == reference("maven").dead_letters
    with store.read() as s:
        newco = s.execute(
            sa.select(Account.__table__).where(Account.__table__.c.id == "maven-newco")
        )
        assert newco.mappings().one()["employees"] == 50


def test_a_quote_left_open_is_named_with_the_lines_it_swallowed(store, clock, tmp_path, reference):
    directory = tmp_path / "maven"
    shutil.copytree(reference("maven").directory, directory)
    pipeline = directory / "sales_pipeline.csv"
    line = _lines(pipeline) + 1
    with pipeline.open("ab") as f:
        f.write(b'BAD1,"Moses Frase,GTX Basic,Cancity,Won,2017-02-01,2017-03-01,10\n')
        f.write(b"BAD2,Moses Frase,GTX Basic,Cancity,Won,2017-02-01,2017-03-01,10\n")
    report = run_import("maven", store, directory, clock=clock)
    note = next(d for d in report.dead_letters if d.line == line)
    assert note.field is None
    assert f"the row runs from line {line} to {line + 1}: is a quote left open?" in note.reason
