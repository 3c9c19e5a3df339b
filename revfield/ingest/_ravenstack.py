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
- blank ``satisfaction_score`` and ``feedback_text`` (and any other blank optional value) are
  omitted, not stored as empty or zero;
- segment comes from the plan tier (Basic → smb, Pro → mid_market, Enterprise → enterprise);
  MRR is the MRR of the account's latest subscription.

Every row is validated; a subscription, ticket or churn event naming an account the accounts
file doesn't hold, or a usage row naming an unknown subscription, is dead-lettered, as is a
second row with an id already used for other content.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import model_validator

from revfield._text import plural
from revfield.clock import Clock
from revfield.domain import CustomerState, Segment
from revfield.ingest._crm import (
    COUNT,
    FLAG,
    MAYBE_COUNT,
    MAYBE_FLAG,
    MAYBE_MOMENT,
    MAYBE_MONEY,
    MAYBE_NUMBER,
    MOMENT,
    MONEY,
    NUMBER,
    CrmImportError,
    CsvRow,
    ExportFile,
    ExportRow,
    ImportReport,
    SignalBuffer,
    maybe_choice,
    maybe_text,
    row_error,
    text,
    utc_time,
    where,
    write_export_dead_letters,
)
from revfield.ingest._schema import MAX_TEXT_CHARS
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
PRIORITIES = ("low", "medium", "high", "urgent")


def account_id(raw: str) -> str:
    return f"ravenstack-{raw}"


class Customer(ExportRow):
    """A row of the accounts file."""

    account_id: Annotated[str, text(100)]
    account_name: Annotated[str, text(300)]
    industry: Annotated[str | None, maybe_text(120)] = None
    country: Annotated[str | None, maybe_text(120)] = None
    signup_date: Annotated[datetime | None, MAYBE_MOMENT] = None
    plan_tier: Annotated[str | None, maybe_choice("plan tier", TIERS)] = None
    seats: Annotated[int | None, MAYBE_COUNT] = None
    churn_flag: Annotated[bool, FLAG]
    is_trial: Annotated[bool, FLAG]


class Subscription(ExportRow):
    """A row of the subscriptions file."""

    subscription_id: Annotated[str, text(100)]
    account_id: Annotated[str, text(100)]
    start_date: Annotated[datetime, MOMENT]
    end_date: Annotated[datetime | None, MAYBE_MOMENT] = None
    plan_tier: Annotated[str | None, maybe_choice("plan tier", TIERS)] = None
    seats: Annotated[int, COUNT]
    mrr_amount: Annotated[float, MONEY]
    arr_amount: Annotated[float | None, MAYBE_MONEY] = None
    is_trial: Annotated[bool | None, MAYBE_FLAG] = None
    upgrade_flag: Annotated[bool | None, MAYBE_FLAG] = None
    downgrade_flag: Annotated[bool | None, MAYBE_FLAG] = None
    billing_frequency: Annotated[str | None, maybe_text(32)] = None
    auto_renew_flag: Annotated[bool | None, MAYBE_FLAG] = None

    @model_validator(mode="after")
    def _period(self) -> Subscription:
        if self.end_date and utc_time(self.end_date) < utc_time(self.start_date):
            raise row_error(
                "end_date",
                f"`end_date`: {self.end_date.date()} is before `start_date` "
                f"{self.start_date.date()}; a subscription ends after it starts",
            )
        return self


class Usage(ExportRow):
    """A row of the feature-usage file."""

    usage_id: Annotated[str, text(100)]
    subscription_id: Annotated[str, text(100)]
    usage_date: Annotated[datetime, MOMENT]
    feature_name: Annotated[str, text(200)]
    usage_count: Annotated[float, NUMBER]
    usage_duration_secs: Annotated[float | None, MAYBE_NUMBER] = None
    error_count: Annotated[int | None, MAYBE_COUNT] = None
    is_beta_feature: Annotated[bool | None, MAYBE_FLAG] = None


class Ticket(ExportRow):
    """A row of the support-tickets file."""

    ticket_id: Annotated[str, text(100)]
    account_id: Annotated[str, text(100)]
    submitted_at: Annotated[datetime, MOMENT]
    closed_at: Annotated[datetime | None, MAYBE_MOMENT] = None
    resolution_time_hours: Annotated[float | None, MAYBE_NUMBER] = None
    priority: Annotated[str | None, maybe_choice("priority", PRIORITIES)] = None
    first_response_time_minutes: Annotated[float | None, MAYBE_NUMBER] = None
    satisfaction_score: Annotated[float | None, MAYBE_NUMBER] = None
    escalation_flag: Annotated[bool | None, MAYBE_FLAG] = None

    @model_validator(mode="after")
    def _closed(self) -> Ticket:
        if self.closed_at and utc_time(self.closed_at) < utc_time(self.submitted_at):
            raise row_error(
                "closed_at",
                f"`closed_at`: {self.closed_at} is before `submitted_at` "
                f"{self.submitted_at.date()}; a ticket closes after it is submitted",
            )
        return self


class ChurnEvent(ExportRow):
    """A row of the churn-events file."""

    churn_event_id: Annotated[str, text(100)]
    account_id: Annotated[str, text(100)]
    churn_date: Annotated[datetime, MOMENT]
    reason_code: Annotated[str | None, maybe_text(64)] = None
    refund_amount_usd: Annotated[float | None, MAYBE_MONEY] = None
    preceding_upgrade_flag: Annotated[bool | None, MAYBE_FLAG] = None
    preceding_downgrade_flag: Annotated[bool | None, MAYBE_FLAG] = None
    is_reactivation: Annotated[bool | None, MAYBE_FLAG] = None
    feedback_text: Annotated[str | None, maybe_text(MAX_TEXT_CHARS)] = None


def _flags(**values: bool | None) -> dict[str, object]:
    """Flags that were given (blank ones are left out, not read as False)."""
    return {k: v for k, v in values.items() if v is not None}


def import_ravenstack(store: Store, directory: Path, *, clock: Clock) -> ImportReport:
    """Import a RavenStack export (see the module's docstring)."""
    report = ImportReport("ravenstack", str(directory))
    now = clock.now()
    paths = {k: directory / v for k, v in FILES.items()}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise CrmImportError(f"{directory}: not a RavenStack export; missing {', '.join(missing)}")
    accounts_file = ExportFile(
        paths["accounts"],
        ["account_id", "account_name", "plan_tier", "seats", "churn_flag", "is_trial"],
        reads=Customer,
    )
    subs_file = ExportFile(
        paths["subscriptions"],
        ["subscription_id", "account_id", "start_date", "seats", "mrr_amount"],
        reads=Subscription,
    )
    usage_file = ExportFile(
        paths["usage"],
        ["usage_id", "subscription_id", "usage_date", "feature_name", "usage_count"],
        reads=Usage,
    )
    tickets_file = ExportFile(
        paths["tickets"], ["ticket_id", "account_id", "submitted_at", "priority"], reads=Ticket
    )
    churn_file = ExportFile(
        paths["churn"],
        ["churn_event_id", "account_id", "churn_date", "reason_code"],
        reads=ChurnEvent,
    )
    files = (accounts_file, subs_file, usage_file, tickets_file, churn_file)

    accounts: dict[str, dict[str, object]] = {}
    unsigned: list[tuple[int, str]] = []
    for row in accounts_file.rows():
        key = row.data.get("account_id", "")
        a = accounts_file.parse(Customer, row, key)
        if a is None or not accounts_file.claim(
            key, row, "account_id", f"`{key}`", "an account id names one account"
        ):
            continue
        state = (
            CustomerState.CHURNED
            if a.churn_flag
            else CustomerState.PROSPECT
            if a.is_trial
            else CustomerState.CUSTOMER
        )
        accounts[a.account_id] = {
            "id": account_id(a.account_id),
            "name": a.account_name,
            "industry": a.industry,
            "region": a.country,
            "plan": a.plan_tier,
            "seats": a.seats,
            "segment": TIERS.get(a.plan_tier or ""),
            "customer_state": state,
            "source": SOURCE,
            "created_at": utc_time(a.signup_date) if a.signup_date else None,
        }
        if a.signup_date is None:
            unsigned.append((row.line, a.account_id))

    def no_account(f: ExportFile, row: CsvRow, raw: str, key: Hashable = None) -> None:
        f.refuse(
            row,
            "account_id",
            accounts_file.missing(
                "account_id", raw, raw, "add the account there or fix the id, and import again"
            ),
            key,
        )

    signals = SignalBuffer()
    sub_account: dict[str, str] = {}
    subs_by_account: dict[str, list[tuple[CsvRow, Subscription]]] = defaultdict(list)
    for row in subs_file.rows():
        key = row.data.get("subscription_id", "")
        s = subs_file.parse(Subscription, row, key)
        if s is None:
            continue
        if s.account_id not in accounts:
            no_account(subs_file, row, s.account_id, key)
            continue
        if not subs_file.claim(
            key, row, "subscription_id", f"`{key}`", "a subscription id names one subscription"
        ):
            continue
        sub_account[s.subscription_id] = s.account_id
        subs_by_account[s.account_id].append((row, s))
    for raw_acc, subs in subs_by_account.items():
        subs.sort(key=lambda rs: (utc_time(rs[1].start_date), rs[1].subscription_id))
        accounts[raw_acc]["mrr"] = subs[-1][1].mrr_amount
        previous: int | None = None
        for row, s in subs:
            when = utc_time(s.start_date).isoformat()
            payload: dict[str, object] = {
                "subscription_id": s.subscription_id,
                "plan": s.plan_tier,
                "seats": s.seats,
                "mrr": s.mrr_amount,
                **({"arr": s.arr_amount} if s.arr_amount is not None else {}),
                **_flags(trial=s.is_trial, upgrade=s.upgrade_flag, downgrade=s.downgrade_flag),
                "billing": s.billing_frequency,
                **_flags(auto_renew=s.auto_renew_flag),
            }
            if s.end_date:
                payload["end_date"] = row.data["end_date"]
            signals.add(
                subs_file.path,
                row.line,
                {
                    "source": SOURCE,
                    "external_id": f"sub/{s.subscription_id}",
                    "kind": "subscription_change",
                    "occurred_at": when,
                    "account_id": account_id(raw_acc),
                    "payload": payload,
                },
            )
            if previous is not None and s.seats != previous:
                signals.add(
                    subs_file.path,
                    row.line,
                    {
                        "source": SOURCE,
                        "external_id": f"sub/{s.subscription_id}/seats",
                        "kind": "seat_change",
                        "occurred_at": when,
                        "account_id": account_id(raw_acc),
                        "payload": {
                            "seats": s.seats,
                            "previous_seats": previous,
                            "subscription_id": s.subscription_id,
                        },
                    },
                )
            previous = s.seats

    if unsigned:
        # No signup date: the account is dated at its first subscription (the earliest the
        # export says it existed), never at the import.
        starts = [utc_time(s.start_date) for subs in subs_by_account.values() for _, s in subs]
        earliest = min(starts, default=now)
        for _, raw_acc in unsigned:
            own = subs_by_account.get(raw_acc)
            accounts[raw_acc]["created_at"] = utc_time(own[0][1].start_date) if own else earliest
        report.notes.append(
            f"{plural(len(unsigned), 'account')} without a signup_date dated at their first "
            "subscription (or the export's earliest one), not at the import "
            f"({accounts_file.name} {where([line for line, _ in unsigned])})"
        )

    usage_ids: dict[str, int] = defaultdict(int)
    for row in usage_file.rows():
        u = usage_file.parse(Usage, row)
        if u is None:
            continue
        owner = sub_account.get(u.subscription_id)
        if owner is None:
            usage_file.refuse(
                row,
                "subscription_id",
                subs_file.missing(
                    "subscription_id",
                    u.subscription_id,
                    u.subscription_id,
                    "usage is attributed to an account through its subscription: add the "
                    "subscription there or fix the id",
                ),
            )
            continue
        if not usage_file.claim(
            (u.usage_id, u.subscription_id),
            row,
            "usage_id",
            f"`{u.usage_id}` for subscription `{u.subscription_id}`",
            "a usage id names one usage row of a subscription",
        ):
            continue
        usage_ids[u.usage_id] += 1
        usage: dict[str, object] = {"feature": u.feature_name, "count": u.usage_count}
        if u.usage_duration_secs is not None:
            usage["duration_secs"] = u.usage_duration_secs
        if u.error_count is not None:
            usage["errors"] = u.error_count
        usage.update(_flags(beta=u.is_beta_feature))
        usage["subscription_id"] = u.subscription_id
        signals.add(
            usage_file.path,
            row.line,
            {
                "source": SOURCE,
                "external_id": f"usage/{u.usage_id}/{u.subscription_id}",
                "kind": "product_usage",
                "occurred_at": utc_time(u.usage_date).isoformat(),
                "account_id": account_id(owner),
                "payload": usage,
            },
        )

    for row in tickets_file.rows():
        t = tickets_file.parse(Ticket, row)
        if t is None:
            continue
        if t.account_id not in accounts:
            no_account(tickets_file, row, t.account_id)
            continue
        if not tickets_file.claim(
            t.ticket_id, row, "ticket_id", f"`{t.ticket_id}`", "a ticket id names one ticket"
        ):
            continue
        ticket: dict[str, object] = {"priority": t.priority, **_flags(escalated=t.escalation_flag)}
        for dst, value in (
            ("resolution_hours", t.resolution_time_hours),
            ("first_response_minutes", t.first_response_time_minutes),
            ("satisfaction", t.satisfaction_score),
        ):
            if value is not None:
                ticket[dst] = value
        if t.closed_at is not None:
            ticket["closed_at"] = row.data["closed_at"]
        signals.add(
            tickets_file.path,
            row.line,
            {
                "source": SOURCE,
                "external_id": f"ticket/{t.ticket_id}",
                "kind": "support_ticket",
                "occurred_at": utc_time(t.submitted_at).isoformat(),
                "account_id": account_id(t.account_id),
                "payload": ticket,
            },
        )

    unknown_reason: list[int] = []
    for row in churn_file.rows():
        c = churn_file.parse(ChurnEvent, row)
        if c is None:
            continue
        if c.account_id not in accounts:
            no_account(churn_file, row, c.account_id)
            continue
        if not churn_file.claim(
            c.churn_event_id,
            row,
            "churn_event_id",
            f"`{c.churn_event_id}`",
            "a churn event id names one event",
        ):
            continue
        if not c.reason_code:
            unknown_reason.append(row.line)
        churn: dict[str, object] = {"reason": c.reason_code or "unknown"}
        if c.refund_amount_usd is not None:
            churn["refund_usd"] = c.refund_amount_usd
        churn.update(
            _flags(
                preceding_upgrade=c.preceding_upgrade_flag,
                preceding_downgrade=c.preceding_downgrade_flag,
                reactivation=c.is_reactivation,
            )
        )
        signals.add(
            churn_file.path,
            row.line,
            {
                "source": SOURCE,
                "external_id": f"churn/{c.churn_event_id}",
                "kind": "cancellation",
                "occurred_at": utc_time(c.churn_date).isoformat(),
                "account_id": account_id(c.account_id),
                "text": c.feedback_text,
                "payload": churn,
            },
        )

    with store.session() as session:
        report.tables["accounts"] = upsert(session, "accounts", list(accounts.values()), now=now)
        write_export_dead_letters(session, files, report, now)
    report.signals = signals.ingest(store, clock, str(directory))
    reused = sum(1 for n in usage_ids.values() if n > 1)
    if reused:
        report.notes.append(
            f"{reused} usage ids are reused by different rows: kept apart by subscription"
        )
    if unknown_reason:
        report.notes.append(
            f"{plural(len(unknown_reason), 'churn event')} with a blank reason_code stored as "
            f"`unknown` ({churn_file.name} {where(unknown_reason)})"
        )
    report.notes.append(f"{len(sub_account):,} subscriptions mapped usage rows to their accounts")
    return report
