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
- fewer than half the won sellers appear in the sellers file: region is left empty for the rest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from revfield.clock import Clock
from revfield.domain import CustomerState, DealOutcome, Role, Segment
from revfield.ingest._crm import (
    CrmImportError,
    ImportReport,
    SignalBuffer,
    as_day,
    as_time,
    read_csv,
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


def import_olist(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    report = ImportReport("olist", str(directory))
    now = clock.now()
    paths = {k: directory / v for k, v in FILES.items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise CrmImportError(
            f"{directory}: not an Olist funnel export; missing {', '.join(missing)}"
        )

    regions = {
        r.data["seller_id"]: r.data["seller_state"]
        for r in read_csv(paths["sellers"], ["seller_id", "seller_state"])
    }
    won = {
        r.data["mql_id"]: r
        for r in read_csv(paths["deals"], ["mql_id", "seller_id", "sdr_id", "sr_id", "won_date"])
    }

    teams = [
        {"id": "olist-sdr", "name": "Olist SDRs"},
        {"id": "olist-sales", "name": "Olist sales reps"},
    ]
    users: dict[str, dict[str, object]] = {}
    accounts: list[dict[str, object]] = []
    deals: list[dict[str, object]] = []
    signals = SignalBuffer()
    blank_origin = undeclared = no_region = 0
    origins: Counter[str] = Counter()
    for row in read_csv(
        paths["mql"], ["mql_id", "first_contact_date", "landing_page_id", "origin"]
    ):
        d = row.data
        mql = d["mql_id"]
        acc = f"olist-{mql}"
        first = as_time(d["first_contact_date"], TZ)
        origin = d["origin"] or "unknown"
        blank_origin += not d["origin"]
        origins[origin] += 1
        deal = won.get(mql)
        account: dict[str, object] = {
            "id": acc,
            "name": f"Olist lead {mql[:8]}",
            "customer_state": CustomerState.CUSTOMER if deal else CustomerState.PROSPECT,
            "source": SOURCE,
            "created_at": first or now,
        }
        signals.add(
            paths["mql"],
            row.line,
            {
                "source": SOURCE,
                "external_id": f"mql/{mql}",
                "kind": "form_submission",
                "occurred_at": (first or now).isoformat(),
                "account_id": acc,
                "payload": {"landing_page_id": d["landing_page_id"], "origin": origin},
            },
        )
        if deal is not None:
            w = deal.data
            sdr, sr = f"olist-sdr-{w['sdr_id'][:12]}", f"olist-sr-{w['sr_id'][:12]}"
            users[sdr] = {
                "id": sdr,
                "name": f"SDR {w['sdr_id'][:6]}",
                "role": Role.SELLER,
                "team_id": "olist-sdr",
            }
            users[sr] = {
                "id": sr,
                "name": f"Sales rep {w['sr_id'][:6]}",
                "role": Role.SELLER,
                "team_id": "olist-sales",
            }
            region = regions.get(w["seller_id"])
            no_region += region is None
            revenue = float(w["declared_monthly_revenue"] or 0) or None
            undeclared += revenue is None
            won_at = as_time(w["won_date"], TZ)
            account.update(
                {
                    "industry": w["business_segment"] or None,
                    "segment": SEGMENTS.get(w["lead_type"]),
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
                    "close_date": as_day(w["won_date"]),
                    "outcome": DealOutcome.WON,
                    "source": SOURCE,
                    "created_at": first or now,
                }
            )
            payload: dict[str, object] = {
                "deal_id": acc,
                "to_stage": "closed_won",
                "sdr": sdr,
                "owner": sr,
            }
            if w["lead_type"]:
                payload["lead_type"] = w["lead_type"]
            if w["lead_behaviour_profile"]:
                payload["behaviour_profile"] = [
                    p.strip() for p in w["lead_behaviour_profile"].split(",")
                ]
            for attr in OPTIONAL_ATTRS:
                if w.get(attr):
                    payload[attr] = w[attr]
            if revenue:
                payload["declared_monthly_revenue"] = revenue
            signals.add(
                paths["deals"],
                deal.line,
                {
                    "source": SOURCE,
                    "external_id": f"deal/{mql}/closed_won",
                    "kind": "crm_stage_change",
                    "occurred_at": (won_at or now).isoformat(),
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
    report.signals = signals.ingest(store, clock, str(directory))
    if blank_origin:
        report.notes.append(f"{blank_origin} leads with a blank origin stored as `unknown`")
    if undeclared:
        report.notes.append(
            f"{undeclared} deals declared a monthly revenue of 0.0 (not declared): "
            "amount left empty"
        )
    if no_region:
        report.notes.append(
            f"{no_region} won sellers are missing from the sellers file: region left empty"
        )
    return report
