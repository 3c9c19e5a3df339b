"""Builders for test data: small functions with overridable defaults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from revfield.domain import CustomerState, DealOutcome, Role
from revfield.memory import Store
from revfield.memory.models import Account, Deal, Signal, User

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def signal(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid signal record (as a JSON-ready dict)."""
    record: dict[str, Any] = {
        "source": "web",
        "external_id": f"e-{n}",
        "kind": "web_visit",
        "occurred_at": (T0 + timedelta(minutes=n)).isoformat(),
        "account_domain": "acme.com",
        "payload": {"url": "/pricing"},
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def write_jsonl(path: Path, records: list[dict[str, Any] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_account(store: Store, id: str = "acme", **overrides: Any) -> str:
    values: dict[str, Any] = {
        "id": id,
        "name": id.title(),
        "domain": None,
        "customer_state": CustomerState.PROSPECT,
        "source": "test",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    with store.session() as s:
        s.add(Account(**values))
    return id


def make_user(store: Store, id: str = "ana", role: Role = Role.SELLER, **overrides: Any) -> str:
    with store.session() as s:
        s.add(User(id=id, name=id.title(), role=role, created_at=T0, **overrides))
    return id


def make_deal(store: Store, account_id: str, id: str = "d1", **overrides: Any) -> str:
    values: dict[str, Any] = {
        "id": id,
        "account_id": account_id,
        "stage": "discovery",
        "outcome": DealOutcome.OPEN,
        "source": "test",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    with store.session() as s:
        s.add(Deal(**values))
    return id


def make_signal(store: Store, account_id: str, n: int = 1, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "source": "test",
        "external_id": f"t-{n}",
        "kind": "note",
        "account_id": account_id,
        "occurred_at": T0 + timedelta(minutes=n),
        "received_at": T0,
        "payload": {},
        "digest": f"{n:032x}",
    }
    values.update(overrides)
    with store.session() as s:
        row = Signal(**values)
        s.add(row)
        s.flush()
        return row.id
