"""Olist "Marketing Funnel" export → leads (prospect accounts), won deals, SDR/SR users, signals.

Files: ``olist_marketing_qualified_leads_dataset.csv`` (8,000 MQLs),
``olist_closed_deals_dataset.csv`` (842 won deals), ``olist_sellers_dataset.csv`` (locations).
Olist's leads are companies applying to sell on its marketplace; each MQL becomes an account.
Times are São Paulo local time. Quirks handled:

- blank ``origin`` (and the literal ``unknown``) are both stored as ``unknown``;
- ``declared_monthly_revenue`` is ``0.0`` for 797 of 842 deals: that means "not declared",
  so the deal amount is left empty rather than recorded as zero;
- most deal attributes (``has_company``, ``has_gtin``, ``average_stock``, …) are blank: blanks
  are omitted from the signal payload instead of stored as empty strings;
- ``lead_behaviour_profile`` can hold several values (``cat, wolf``): stored as a list;
- fewer than half the won sellers appear in the sellers file: region is left empty for the rest;
- ``lead_type`` ``other`` (or blank) says nothing about size: segment left empty.

Every row is validated; a closed deal whose MQL is not in the leads file is dead-lettered, as
is a second row with an id already used for other content.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from revfield._text import plural, shorten
from revfield.clock import Clock
from revfield.domain import CustomerState, DealOutcome, Role, Segment
from revfield.ingest._crm import (
    MAYBE_FLAG,
    MAYBE_MONEY,
    MAYBE_NUMBER,
    MOMENT,
    CrmImportError,
    CsvRow,
    ExportFile,
    ExportRow,
    ImportReport,
    SignalBuffer,
    bad,
    maybe_choice,
    maybe_text,
    required,
    text,
    utc_time,
    where,
    write_export_dead_letters,
)
from revfield.memory import Store, upsert

__all__ = ["import_olist"]

SOURCE = "olist"
TZ = ZoneInfo("America/Sao_Paulo")
FILES = {
    "mql": "olist_marketing_qualified_leads_dataset.csv",
    "deals": "olist_closed_deals_dataset.csv",
    "sellers": "olist_sellers_dataset.csv",
}
SEGMENTS = {
    "online_beginner": Segment.SMB,
    "online_small": Segment.SMB,
    "online_medium": Segment.MID_MARKET,
    "offline": Segment.MID_MARKET,
    "online_big": Segment.ENTERPRISE,
    "online_top": Segment.ENTERPRISE,
    "industry": Segment.ENTERPRISE,
}
OPTIONAL_ATTRS = (
    "has_company",
    "has_gtin",
    "average_stock",
    "business_type",
    "declared_product_catalog_size",
)
_STATE = re.compile(r"[A-Za-z]{2}")


def _state(value: str) -> str:
    if not _STATE.fullmatch(value):
        raise bad(f"`{shorten(value, 40)}` is not a state code; write its two letters, e.g. `SP`")
    return value.upper()


class Seller(ExportRow):
    """A row of the sellers file: where a marketplace seller is."""

    seller_id: Annotated[str, text(100)]
    seller_state: Annotated[str, required(_state)]


class Lead(ExportRow):
    """A row of the MQL file: one marketing-qualified lead."""

    mql_id: Annotated[str, text(100)]
    first_contact_date: Annotated[datetime, MOMENT]
    landing_page_id: Annotated[str | None, maybe_text(100)] = None
    origin: Annotated[str | None, maybe_text(64)] = None


class ClosedDeal(ExportRow):
    """A row of the closed-deals file: a lead won as a marketplace seller."""

    mql_id: Annotated[str, text(100)]
    seller_id: Annotated[str | None, maybe_text(100)] = None
    sdr_id: Annotated[str, text(100)]
    sr_id: Annotated[str, text(100)]
    won_date: Annotated[datetime, MOMENT]
    business_segment: Annotated[str | None, maybe_text(120)] = None
    lead_type: Annotated[str | None, maybe_choice("lead type", [*SEGMENTS, "other"])] = None
    lead_behaviour_profile: Annotated[str | None, maybe_text(200)] = None
    has_company: Annotated[bool | None, MAYBE_FLAG] = None
    has_gtin: Annotated[bool | None, MAYBE_FLAG] = None
    average_stock: Annotated[str | None, maybe_text(60)] = None
    business_type: Annotated[str | None, maybe_text(120)] = None
    declared_product_catalog_size: Annotated[float | None, MAYBE_NUMBER] = None
    declared_monthly_revenue: Annotated[float | None, MAYBE_MONEY] = None


def import_olist(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    """Import an Olist marketing-funnel export (see the module's docstring)."""
    report = ImportReport("olist", str(directory))
    now = clock.now()
    paths = {k: directory / v for k, v in FILES.items()}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise CrmImportError(
            f"{directory}: not an Olist funnel export; missing {', '.join(missing)}"
        )
    sellers_file = ExportFile(paths["sellers"], ["seller_id", "seller_state"], reads=Seller)
    mql_file = ExportFile(
        paths["mql"], ["mql_id", "first_contact_date", "landing_page_id", "origin"], reads=Lead
    )
    deals_file = ExportFile(
        paths["deals"],
        [
            "mql_id",
            "seller_id",
            "sdr_id",
            "sr_id",
            "won_date",
            "business_segment",
            "lead_type",
            "lead_behaviour_profile",
            "declared_monthly_revenue",
        ],
        reads=ClosedDeal,
    )
    files = (sellers_file, mql_file, deals_file)

    regions: dict[str, str] = {}
    for row in sellers_file.rows():
        key = row.data.get("seller_id", "")
        s = sellers_file.parse(Seller, row, key)
        if s is not None and sellers_file.claim(
            key, row, "seller_id", f"`{key}`", "a seller id names one seller"
        ):
            regions[s.seller_id] = s.seller_state

    leads: dict[str, tuple[CsvRow, Lead]] = {}
    for row in mql_file.rows():
        key = row.data.get("mql_id", "")
        lead = mql_file.parse(Lead, row, key)
        if lead is not None and mql_file.claim(
            key, row, "mql_id", f"`{key}`", "an MQL id names one lead"
        ):
            leads[lead.mql_id] = (row, lead)

    won: dict[str, tuple[CsvRow, ClosedDeal]] = {}
    for row in deals_file.rows():
        deal = deals_file.parse(ClosedDeal, row)
        if deal is None:
            continue
        if deal.mql_id not in leads:
            deals_file.refuse(
                row,
                "mql_id",
                mql_file.missing(
                    "mql_id",
                    deal.mql_id,
                    deal.mql_id,
                    "a closed deal closes a lead: add the lead there or fix the id",
                ),
            )
            continue
        if deals_file.claim(deal.mql_id, row, "mql_id", f"`{deal.mql_id}`", "a lead is won once"):
            won[deal.mql_id] = (row, deal)

    teams = [
        {"id": "olist-sdr", "name": "Olist SDRs"},
        {"id": "olist-sales", "name": "Olist sales reps"},
    ]
    users: dict[str, dict[str, object]] = {}
    accounts: list[dict[str, object]] = []
    deals: list[dict[str, object]] = []
    signals = SignalBuffer()
    blank_origin: list[int] = []
    no_landing: list[int] = []
    undeclared: list[int] = []
    no_region: list[int] = []
    refused_region: list[int] = []
    no_segment: list[int] = []
    origins: Counter[str] = Counter()
    for mql, (row, lead) in leads.items():
        acc = f"olist-{mql}"
        first = utc_time(lead.first_contact_date, TZ)
        origin = lead.origin or "unknown"
        if not lead.origin:
            blank_origin.append(row.line)
        origins[origin] += 1
        closed = won.get(mql)
        account: dict[str, object] = {
            "id": acc,
            "name": f"Olist lead {mql[:8]}",
            "customer_state": CustomerState.CUSTOMER if closed else CustomerState.PROSPECT,
            "source": SOURCE,
            "created_at": first,
        }
        form: dict[str, object] = {"origin": origin}
        if lead.landing_page_id:
            form = {"landing_page_id": lead.landing_page_id, **form}
        else:
            no_landing.append(row.line)
        signals.add(
            mql_file.path,
            row.line,
            {
                "source": SOURCE,
                "external_id": f"mql/{mql}",
                "kind": "form_submission",
                "occurred_at": first.isoformat(),
                "account_id": acc,
                "payload": form,
            },
        )
        if closed is not None:
            deal_row, w = closed
            sdr, sr = f"olist-sdr-{w.sdr_id[:12]}", f"olist-sr-{w.sr_id[:12]}"
            users[sdr] = {
                "id": sdr,
                "name": f"SDR {w.sdr_id[:6]}",
                "role": Role.SELLER,
                "team_id": "olist-sdr",
            }
            users[sr] = {
                "id": sr,
                "name": f"Sales rep {w.sr_id[:6]}",
                "role": Role.SELLER,
                "team_id": "olist-sales",
            }
            region = regions.get(w.seller_id or "")
            if region is None:
                refused = w.seller_id is not None and w.seller_id in sellers_file.refused
                (refused_region if refused else no_region).append(deal_row.line)
            revenue = w.declared_monthly_revenue or None
            if revenue is None:
                undeclared.append(deal_row.line)
            segment = SEGMENTS.get(w.lead_type or "")
            if segment is None:
                no_segment.append(deal_row.line)
            won_at = utc_time(w.won_date, TZ)
            account.update(
                {
                    "industry": w.business_segment,
                    "segment": segment,
                    "region": f"BR-{region}" if region else None,
                    "owner_id": sr,
                }
            )
            deals.append(
                {
                    "id": acc,
                    "account_id": acc,
                    "owner_id": sr,
                    "name": f"Marketplace seller {mql[:8]}",
                    "stage": "closed_won",
                    "stage_entered_at": won_at,
                    "amount": revenue,
                    "currency": "BRL",
                    "product": "marketplace",
                    "close_date": w.won_date.date(),
                    "outcome": DealOutcome.WON,
                    "source": SOURCE,
                    "created_at": first,
                }
            )
            payload: dict[str, object] = {
                "deal_id": acc,
                "to_stage": "closed_won",
                "sdr": sdr,
                "owner": sr,
            }
            if w.lead_type:
                payload["lead_type"] = w.lead_type
            if w.lead_behaviour_profile:
                payload["behaviour_profile"] = [
                    p.strip() for p in w.lead_behaviour_profile.split(",")
                ]
            for attr in OPTIONAL_ATTRS:
                if deal_row.data.get(attr):
                    payload[attr] = deal_row.data[attr]  # as written, once validated
            if revenue:
                payload["declared_monthly_revenue"] = revenue
            signals.add(
                deals_file.path,
                deal_row.line,
                {
                    "source": SOURCE,
                    "external_id": f"deal/{mql}/closed_won",
                    "kind": "crm_stage_change",
                    "occurred_at": won_at.isoformat(),
                    "account_id": acc,
                    "payload": payload,
                },
            )
        accounts.append(account)

    with store.session() as session:
        report.tables["teams"] = upsert(session, "teams", teams, now=now)
        report.tables["users"] = upsert(session, "users", list(users.values()), now=now)
        report.tables["accounts"] = upsert(session, "accounts", accounts, now=now)
        report.tables["deals"] = upsert(session, "deals", deals, now=now)
        write_export_dead_letters(session, files, report, now)
    report.signals = signals.ingest(store, clock, str(directory))
    mqls, closed_deals = mql_file.name, deals_file.name
    if blank_origin:
        report.notes.append(
            f"{plural(len(blank_origin), 'lead')} with a blank origin stored as `unknown` "
            f"({mqls} {where(blank_origin)})"
        )
    if no_landing:
        report.notes.append(
            f"{plural(len(no_landing), 'lead')} with a blank landing_page_id: "
            f"left out of the signal ({mqls} {where(no_landing)})"
        )
    if undeclared:
        report.notes.append(
            f"{plural(len(undeclared), 'deal')} declared a monthly revenue of 0.0 or none "
            f"(not declared): amount left empty ({closed_deals} {where(undeclared)})"
        )
    if no_region:
        report.notes.append(
            f"{plural(len(no_region), 'won seller')} missing from the sellers file: region left "
            f"empty ({closed_deals} {where(no_region)})"
        )
    if refused_region:
        report.notes.append(
            f"{plural(len(refused_region), 'won seller')} whose row in the sellers file was "
            f"dead-lettered: region left empty ({closed_deals} {where(refused_region)})"
        )
    if no_segment:
        report.notes.append(
            f"{plural(len(no_segment), 'deal')} with lead_type `other` or blank: segment left "
            f"empty ({closed_deals} {where(no_segment)})"
        )
    return report
