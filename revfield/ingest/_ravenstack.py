"""RavenStack SaaS churn export → customer accounts and their product-side signals.

Files: ``ravenstack_accounts.csv``, ``ravenstack_subscriptions.csv``,
``ravenstack_feature_usage.csv``, ``ravenstack_support_tickets.csv``,
``ravenstack_churn_events.csv``. Quirks handled:

- usage rows are keyed by ``subscription_id``, not account: each is attributed to the account
  through its subscription;
- 21 ``usage_id`` values are reused for different rows (other subscription, other day): the
  signal id is ``usage/<usage_id>/<subscription_id>`` so both are kept;
- an account's seats change between its subscriptions: each change becomes a ``seat_change``
  signal (with ``previous_seats``), what seat-growth detection reads;
- blank ``satisfaction_score`` and ``feedback_text`` are omitted, not stored as empty;
- segment comes from the plan tier (Basic → smb, Pro → mid_market, Enterprise → enterprise);
  MRR is the MRR of the account's latest subscription.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from revfield.clock import Clock
from revfield.domain import CustomerState, Segment
from revfield.ingest._crm import (
    CrmImportError,
    ImportReport,
    SignalBuffer,
    as_time,
    read_csv,
)
from revfield.memory import Store, upsert

__all__ = ["import_ravenstack"]

SOURCE = "ravenstack"
FILES = {
    "accounts": "ravenstack_accounts.csv",
    "subscriptions": "ravenstack_subscriptions.csv",
    "usage": "ravenstack_feature_usage.csv",
    "tickets": "ravenstack_support_tickets.csv",
    "churn": "ravenstack_churn_events.csv",
}
TIERS = {"Basic": Segment.SMB, "Pro": Segment.MID_MARKET, "Enterprise": Segment.ENTERPRISE}


def account_id(raw: str) -> str:
    return f"ravenstack-{raw}"


def _flag(value: str) -> bool:
    return value.strip().lower() == "true"


def import_ravenstack(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    report = ImportReport("ravenstack", str(directory))
    now = clock.now()
    paths = {k: directory / v for k, v in FILES.items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise CrmImportError(f"{directory}: not a RavenStack export; missing {', '.join(missing)}")

    accounts: dict[str, dict[str, object]] = {}
    for row in read_csv(
        paths["accounts"],
        ["account_id", "account_name", "plan_tier", "seats", "churn_flag", "is_trial"],
    ):
        d = row.data
        state = (
            CustomerState.CHURNED
            if _flag(d["churn_flag"])
            else CustomerState.PROSPECT
            if _flag(d["is_trial"])
            else CustomerState.CUSTOMER
        )
        accounts[d["account_id"]] = {
            "id": account_id(d["account_id"]),
            "name": d["account_name"],
            "industry": d.get("industry") or None,
            "region": d.get("country") or None,
            "plan": d["plan_tier"] or None,
            "seats": int(d["seats"]) if d["seats"] else None,
            "segment": TIERS.get(d["plan_tier"]),
            "customer_state": state,
            "source": SOURCE,
            "created_at": as_time(d.get("signup_date", "")) or now,
        }

    signals = SignalBuffer()
    sub_account: dict[str, str] = {}
    subs_by_account: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_csv(
        paths["subscriptions"],
        ["subscription_id", "account_id", "start_date", "seats", "mrr_amount"],
    ):
        d = row.data
        if d["account_id"] not in accounts:
            continue
        sub_account[d["subscription_id"]] = d["account_id"]
        subs_by_account[d["account_id"]].append({**d, "_line": str(row.line)})
    for raw_acc, subs in subs_by_account.items():
        subs.sort(key=lambda s: (s["start_date"], s["subscription_id"]))
        accounts[raw_acc]["mrr"] = float(subs[-1]["mrr_amount"] or 0)
        previous: int | None = None
        for s in subs:
            seats = int(s["seats"])
            when = as_time(s["start_date"]).isoformat()  # type: ignore[union-attr]
            payload = {
                "subscription_id": s["subscription_id"],
                "plan": s.get("plan_tier"),
                "seats": seats,
                "mrr": float(s["mrr_amount"] or 0),
                "arr": float(s.get("arr_amount") or 0),
                "trial": _flag(s.get("is_trial", "")),
                "upgrade": _flag(s.get("upgrade_flag", "")),
                "downgrade": _flag(s.get("downgrade_flag", "")),
                "billing": s.get("billing_frequency"),
                "auto_renew": _flag(s.get("auto_renew_flag", "")),
            }
            if s.get("end_date"):
                payload["end_date"] = s["end_date"]
            line = int(s["_line"])
            signals.add(
                paths["subscriptions"],
                line,
                {
                    "source": SOURCE,
                    "external_id": f"sub/{s['subscription_id']}",
                    "kind": "subscription_change",
                    "occurred_at": when,
                    "account_id": account_id(raw_acc),
                    "payload": payload,
                },
            )
            if previous is not None and seats != previous:
                signals.add(
                    paths["subscriptions"],
                    line,
                    {
                        "source": SOURCE,
                        "external_id": f"sub/{s['subscription_id']}/seats",
                        "kind": "seat_change",
                        "occurred_at": when,
                        "account_id": account_id(raw_acc),
                        "payload": {
                            "seats": seats,
                            "previous_seats": previous,
                            "subscription_id": s["subscription_id"],
                        },
                    },
                )
            previous = seats

    usage_ids: dict[str, int] = defaultdict(int)
    orphans = 0
    for row in read_csv(
        paths["usage"], ["usage_id", "subscription_id", "usage_date", "feature_name", "usage_count"]
    ):
        d = row.data
        owner = sub_account.get(d["subscription_id"])
        if owner is None:
            orphans += 1
            continue
        usage_ids[d["usage_id"]] += 1
        signals.add(
            paths["usage"],
            row.line,
            {
                "source": SOURCE,
                "external_id": f"usage/{d['usage_id']}/{d['subscription_id']}",
                "kind": "product_usage",
                "occurred_at": as_time(d["usage_date"]).isoformat(),  # type: ignore[union-attr]
                "account_id": account_id(owner),
                "payload": {
                    "feature": d["feature_name"],
                    "count": float(d["usage_count"] or 0),
                    "duration_secs": float(d.get("usage_duration_secs") or 0),
                    "errors": int(d.get("error_count") or 0),
                    "beta": _flag(d.get("is_beta_feature", "")),
                    "subscription_id": d["subscription_id"],
                },
            },
        )

    for row in read_csv(paths["tickets"], ["ticket_id", "account_id", "submitted_at", "priority"]):
        d = row.data
        if d["account_id"] not in accounts:
            continue
        payload = {
            "priority": d["priority"] or None,
            "escalated": _flag(d.get("escalation_flag", "")),
        }
        for src, dst, cast in (
            ("resolution_time_hours", "resolution_hours", float),
            ("first_response_time_minutes", "first_response_minutes", float),
            ("satisfaction_score", "satisfaction", float),
            ("closed_at", "closed_at", str),
        ):
            if d.get(src):
                payload[dst] = cast(d[src])
        signals.add(
            paths["tickets"],
            row.line,
            {
                "source": SOURCE,
                "external_id": f"ticket/{d['ticket_id']}",
                "kind": "support_ticket",
                "occurred_at": as_time(d["submitted_at"]).isoformat(),  # type: ignore[union-attr]
                "account_id": account_id(d["account_id"]),
                "payload": payload,
            },
        )

    for row in read_csv(
        paths["churn"], ["churn_event_id", "account_id", "churn_date", "reason_code"]
    ):
        d = row.data
        if d["account_id"] not in accounts:
            continue
        signals.add(
            paths["churn"],
            row.line,
            {
                "source": SOURCE,
                "external_id": f"churn/{d['churn_event_id']}",
                "kind": "cancellation",
                "occurred_at": as_time(d["churn_date"]).isoformat(),  # type: ignore[union-attr]
                "account_id": account_id(d["account_id"]),
                "text": d.get("feedback_text") or None,
                "payload": {
                    "reason": d["reason_code"] or "unknown",
                    "refund_usd": float(d.get("refund_amount_usd") or 0),
                    "preceding_upgrade": _flag(d.get("preceding_upgrade_flag", "")),
                    "preceding_downgrade": _flag(d.get("preceding_downgrade_flag", "")),
                    "reactivation": _flag(d.get("is_reactivation", "")),
                },
            },
        )

    with store.session() as session:
        report.tables["accounts"] = upsert(session, "accounts", list(accounts.values()), now=now)
    report.signals = signals.ingest(store, clock, str(directory))
    reused = sum(1 for n in usage_ids.values() if n > 1)
    if reused:
        report.notes.append(
            f"{reused} usage ids are reused by different rows: kept apart by subscription"
        )
    if orphans:
        report.notes.append(f"{orphans} usage rows name an unknown subscription: skipped")
    report.notes.append(f"{len(sub_account):,} subscriptions mapped usage rows to their accounts")
    return report
