"""A small go-to-market world for agent tests: a team, its people, accounts, facts, events."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from revfield.agents import AgentSpec
from revfield.clock import ManualClock
from revfield.domain import FactType
from revfield.field._checkpoints import open_checkpointer
from revfield.field._field import Field
from revfield.llm import Model, OfflineModel
from revfield.memory import Store
from revfield.memory._facts import add_fact
from revfield.memory.models import Contact, FieldEvent, Team, User
from revfield.outbox import Executor, LogExecutor
from revfield.policies import load_pack
from revfield.policies._load import CompiledPack
from tests.factories import T0, make_account, make_signal

POLICIES = Path(__file__).resolve().parents[2] / "policies"
PACK = load_pack(POLICIES)


def people(store: Store) -> None:
    """Team A: sellers ana and al, manager mia; team B: seller bo, manager max; revops rex."""
    with store.session() as s:
        s.add_all(
            [Team(id="team-a", name="A", created_at=T0), Team(id="team-b", name="B", created_at=T0)]
        )
        s.flush()
        for uid, role, team in (
            ("ana", "seller", "team-a"),
            ("al", "seller", "team-a"),
            ("mia", "manager", "team-a"),
            ("bo", "seller", "team-b"),
            ("max", "manager", "team-b"),
            ("rex", "revops", None),
        ):
            s.add(User(id=uid, name=uid.title(), role=role, team_id=team, created_at=T0))


def account(
    store: Store,
    id: str,
    *,
    segment: str = "smb",
    state: str = "prospect",
    owner: str = "ana",
    employees: int = 60,
    industry: str = "software",
    **extra: Any,
) -> str:
    return make_account(
        store,
        id,
        name=id.split(".")[0].title(),
        domain=id,
        segment=segment,
        customer_state=state,
        owner_id=owner,
        employees=employees,
        industry=industry,
        **extra,
    )


def contact(
    store: Store, account_id: str, name: str = "Pat Lee", role: str = "Head of RevOps", **extra: Any
) -> int:
    with store.session() as s:
        c = Contact(
            account_id=account_id,
            email=f"{name.split()[0].lower()}@{account_id}",
            name=name,
            role=role,
            created_at=T0,
            **extra,
        )
        s.add(c)
        s.flush()
        return c.id


_n = [0]


def fact(
    store: Store,
    account_id: str,
    type: FactType,
    value: str,
    *,
    contact_id: int | None = None,
    subject: str | None = None,
    kind: str = "call_transcript",
) -> int:
    _n[0] += 1
    sid = make_signal(store, account_id, 1000 + _n[0], kind=kind, text=value, contact_id=contact_id)
    with store.session() as s:
        return add_fact(
            s,
            account_id=account_id,
            type=type,
            value=value,
            source_signal_id=sid,
            confidence=0.8,
            observed_at=T0,
            now=T0,
            subject=subject,
            contact_id=contact_id,
        ).id


def event(
    store: Store,
    account_id: str,
    kind: str,
    agent: str,
    *,
    signal_ids: tuple[int, ...] = (),
    contact_id: int | None = None,
    deal_id: str | None = None,
    data: dict[str, Any] | None = None,
    detail: str = "",
) -> int:
    if not signal_ids:
        _n[0] += 1
        signal_ids = (
            make_signal(
                store,
                account_id,
                5000 + _n[0],
                kind="intent_surge",
                contact_id=contact_id,
                payload={"score": 80, "topic": "forecasting"},
            ),
        )
    with store.session() as s:
        e = FieldEvent(
            account_id=account_id,
            kind=kind,
            key=f"{kind}-{_n[0]}",
            signal_ids=list(signal_ids),
            contact_id=contact_id,
            deal_id=deal_id,
            detail=detail or kind.replace("_", " "),
            data=data or {},
            occurred_at=T0,
            detected_at=T0,
            agent=agent,
            status="pending",
        )
        s.add(e)
        s.flush()
        return e.id


@contextmanager
def field(
    store: Store,
    clock: ManualClock,
    tmp_path: Path,
    *,
    model: Model | None = None,
    executor: Executor | None = None,
    pack: CompiledPack = PACK,
    agents: Mapping[str, AgentSpec] | None = None,
) -> Iterator[Field]:
    ex = executor or LogExecutor(path=tmp_path / "outbox.jsonl")
    with open_checkpointer(store) as saver:
        yield Field(store, pack, model or OfflineModel(), clock, saver, executor=ex, agents=agents)


def pack_with(tmp_path: Path, file: str, old: str, new: str) -> CompiledPack:
    """The shipped pack with one line of one file changed (``old`` must be in it)."""
    folder = tmp_path / "pack"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("tests"))
    text = (folder / file).read_text()
    assert old in text, f"{old!r} is not in {file}"
    (folder / file).write_text(text.replace(old, new))
    return load_pack(folder)


def rows(store: Store, table: Any, **where: Any) -> list[Any]:
    """The rows of ``table`` (matching ``where``, column = value), in id order."""
    with store.read() as s:
        q = sa.select(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return list(s.execute(q.order_by(table.c.id)).mappings().all())
