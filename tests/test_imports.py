"""CRM imports on the real public exports in ../shared/data (skipped where it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from revfield.ingest._importers import CrmImportError, run_import
from revfield.memory import recall
from revfield.memory.models import Account, DeadLetter, Deal, Signal, User

pytestmark = pytest.mark.shared_data

MAVEN = "maven-crm-sales-opportunities"
OLIST = "olist-marketing-funnel"
RAVEN = "ravenstack-saas-churn"
TICKETS = "tobi-bueck-support-tickets"


def scalar(store, query):
    with store.read() as s:
        return s.execute(query).scalar_one()


def test_maven_import_twice_second_run_adds_nothing(store, clock, shared_data):
    first = run_import("maven", store, shared_data / MAVEN, clock=clock)
    second = run_import("maven", store, shared_data / MAVEN, clock=clock)
    assert first.tables["accounts"].inserted == 85
    assert first.tables["deals"].inserted == 8800 - 1425
    assert first.signals is not None and first.signals.accepted > 10_000
    assert second.new_rows == 0 and second.updated_rows == 0
    assert second.signals is not None and second.signals.duplicates == first.signals.accepted


def test_maven_quirks_are_handled_not_copied(store, clock, shared_data):
    report = run_import("maven", store, shared_data / MAVEN, clock=clock)
    A, D = Account.__table__, Deal.__table__
    products = set(scalar_list(store, sa.select(D.c.product).distinct()))
    assert "GTXPro" not in products and "GTX Pro" in products
    assert "technolgy" not in set(scalar_list(store, sa.select(A.c.industry).distinct()))
    assert any("GTXPro → GTX Pro" in n for n in report.notes)
    blank = [d for d in report.dead_letters if d.field == "account"]
    assert len(blank) == 1425 and "blank" in blank[0].reason
    assert scalar(store, sa.select(sa.func.count()).select_from(DeadLetter.__table__)) == 1425
    managers = scalar(store, sa.select(sa.func.count()).where(User.__table__.c.role == "manager"))
    assert managers == 6


def scalar_list(store, query):
    with store.read() as s:
        return list(s.execute(query).scalars())


def test_a_maven_account_shows_its_deals_and_signals(store, clock, shared_data):
    run_import("maven", store, shared_data / MAVEN, clock=clock)
    with store.read() as s:
        ctx = recall(s, "maven-acme-corporation")
    assert ctx.account.name == "Acme Corporation"
    assert ctx.account.industry == "technology"
    assert ctx.account.customer_state.value == "customer"
    assert ctx.account.owner is not None
    assert ctx.closed_deals and ctx.signal_count > 0
    assert all(s.kind.value == "crm_stage_change" for s in ctx.signals)


def test_ravenstack_usage_is_attributed_through_subscriptions_and_reused_ids_kept(
    store, clock, shared_data
):
    first = run_import("ravenstack", store, shared_data / RAVEN, clock=clock)
    second = run_import("ravenstack", store, shared_data / RAVEN, clock=clock)
    S = Signal.__table__
    usage = scalar(store, sa.select(sa.func.count()).where(S.c.kind == "product_usage"))
    assert usage == 25_000  # every row, including the 21 reused usage ids
    assert (
        scalar(
            store,
            sa.select(sa.func.count()).where(S.c.kind == "product_usage", S.c.account_id.is_(None)),
        )
        == 0
    )
    assert scalar(store, sa.select(sa.func.count()).where(S.c.kind == "seat_change")) > 0
    assert scalar(store, sa.select(sa.func.count()).where(S.c.kind == "cancellation")) == 600
    assert second.new_rows == 0
    assert first.dead_lettered == 0 and second.dead_lettered == 0
    assert any("reused" in n for n in first.notes)
    churned = scalar(
        store, sa.select(sa.func.count()).where(Account.__table__.c.customer_state == "churned")
    )
    assert churned == 110


def test_olist_leads_become_prospects_and_won_deals_customers(store, clock, shared_data):
    first = run_import("olist", store, shared_data / OLIST, clock=clock)
    second = run_import("olist", store, shared_data / OLIST, clock=clock)
    A, D = Account.__table__, Deal.__table__
    assert first.tables["accounts"].inserted == 8000
    assert scalar(store, sa.select(sa.func.count()).where(A.c.customer_state == "customer")) == 842
    assert scalar(store, sa.select(sa.func.count()).where(D.c.amount.is_not(None))) == 842 - 797
    origins = scalar_list(
        store, sa.select(Signal.__table__.c.payload["origin"].as_string()).distinct()
    )
    assert "" not in origins and "unknown" in origins
    assert second.new_rows == 0 and first.dead_lettered == 0
    assert any(
        n.startswith("60 leads with a blank origin stored as `unknown`") for n in first.notes
    )


def test_tickets_attach_text_to_ravenstack_customers(store, clock, shared_data):
    run_import("ravenstack", store, shared_data / RAVEN, clock=clock)
    first = run_import("tickets", store, shared_data / TICKETS, clock=clock)
    second = run_import("tickets", store, shared_data / TICKETS, clock=clock)
    S, A = Signal.__table__, Account.__table__
    assert first.signals is not None and first.signals.accepted == 1166
    assert second.new_rows == 0 and first.dead_lettered == 0
    owners = scalar_list(
        store,
        sa.select(A.c.customer_state)
        .distinct()
        .select_from(S.join(A, S.c.account_id == A.c.id))
        .where(S.c.source == "tickets"),
    )
    assert owners == ["customer"]
    texts = scalar_list(store, sa.select(S.c.text).where(S.c.source == "tickets").limit(5))
    assert all(t and len(t) > 20 for t in texts)


def test_tickets_without_customers_in_memory_explain_what_to_do(store, clock, shared_data):
    with pytest.raises(CrmImportError, match="import the RavenStack export first"):
        run_import("tickets", store, shared_data / TICKETS, clock=clock)


def test_a_folder_that_is_not_the_export_is_refused(store, clock, tmp_path):
    (tmp_path / "accounts.csv").write_text("account\n")
    (tmp_path / "products.csv").write_text("product,sales_price\n")
    (tmp_path / "sales_teams.csv").write_text("sales_agent,manager,regional_office\n")
    with pytest.raises(CrmImportError, match=r"missing sales_pipeline\.csv"):
        run_import("maven", store, tmp_path, clock=clock)


def test_a_missing_column_names_file_and_column(store, clock, tmp_path, shared_data):
    src = shared_data / MAVEN
    for name in ("accounts.csv", "products.csv", "sales_teams.csv"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    (tmp_path / "sales_pipeline.csv").write_text("opportunity_id,sales_agent,product\nX,Y,Z\n")
    with pytest.raises(
        CrmImportError, match=r"sales_pipeline\.csv:1: header is missing columns `account`"
    ):
        run_import("maven", store, tmp_path, clock=clock)


def test_unknown_export_kind(store, clock):
    with pytest.raises(CrmImportError, match="unknown export kind `hubspot`"):
        run_import("hubspot", store, Path("."), clock=clock)
