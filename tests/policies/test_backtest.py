"""`revfield policy backtest`: a pack change scored against what people actually answered.

A small world goes through the real pipeline — agents propose, the shipped pack sends items
to people, people approve, edit or reject them — then packs are compared on those answers."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revfield.cli import app
from revfield.domain import FactType
from revfield.memory import Store, answered_items
from revfield.policies import BacktestReport, CompiledPack, backtest_packs, load_pack
from revfield.review import Actor, inbox
from tests.agents import world
from tests.factories import make_deal

ANA = Actor("ana", "seller", "team-a")
SMALL_DISCOUNT = "action.discount_pct <= 15\n    decision: review"
ENTERPRISE = 'account.segment == "enterprise"\n    decision: review'
EXECUTIVE = "outbound_email && executive\n    decision: review"


def _pack(tmp_path: Path, name: str, *changes: tuple[str, str]) -> Path:
    """A copy of the shipped pack with ``default.yaml`` changed (each ``old`` must be in it)."""
    folder = tmp_path / name
    shutil.copytree(world.POLICIES, folder, ignore=shutil.ignore_patterns("tests"))
    text = (folder / "default.yaml").read_text()
    for old, new in changes:
        assert old in text, f"{old!r} is not in default.yaml"
        text = text.replace(old, new)
    (folder / "default.yaml").write_text(text)
    return folder


def _loose(tmp_path: Path) -> Path:
    """Small discounts and enterprise outreach run by themselves."""
    return _pack(
        tmp_path,
        "loose",
        (SMALL_DISCOUNT, SMALL_DISCOUNT.replace("review", "auto")),
        (ENTERPRISE, ENTERPRISE.replace("review", "auto")),
    )


@pytest.fixture
def answered(store: Store, clock, tmp_path: Path) -> dict[str, int]:
    """Seven items sent to people by the shipped pack, answered by the owner (account → review
    id): three small discounts (rejected, edited to 5%, approved), two enterprise emails
    (approved, rejected), two emails to a CEO (both approved unchanged)."""
    world.people(store)
    for name in ("acme.io", "initech.io", "hooli.io"):
        world.account(store, name)
        make_deal(store, name, f"d-{name}", amount=20000.0)
        world.fact(store, name, FactType.OBJECTION, "Too expensive for us", subject="price")
        world.event(store, name, "pricing_objection", "deal_desk", deal_id=f"d-{name}")
    for name, segment, role in (
        ("globex.com", "enterprise", "Head of RevOps"),
        ("umbrella.com", "enterprise", "Head of RevOps"),
        ("wayne.io", "smb", "CEO"),
        ("stark.io", "smb", "CEO"),
    ):
        world.account(store, name, segment=segment, employees=5000 if segment != "smb" else 60)
        pat = world.contact(store, name, role=role)
        world.fact(store, name, FactType.PAIN, "Our forecast is a spreadsheet nobody trusts")
        world.event(store, name, "intent_surge", "outreach", contact_id=pat)
    with world.field(store, clock, tmp_path) as fld:
        assert fld.run_agents().paused == 7
        with store.read() as s:
            items = {i.account_id: i for i in inbox(s)}
        assert {a: i.reason.split("`")[1] for a, i in items.items()} == {
            "acme.io": "small-discount",
            "initech.io": "small-discount",
            "hooli.io": "small-discount",
            "globex.com": "enterprise-outreach",
            "umbrella.com": "enterprise-outreach",
            "wayne.io": "executive-contact",
            "stark.io": "executive-contact",
        }
        ids = {a: i.review_id for a, i in items.items()}
        fld.reject(ids["acme.io"], actor=ANA, reason="they are about to sign at list price")
        clock.advance(timedelta(minutes=5))
        assert (
            fld.approve(ids["initech.io"], actor=ANA, edits={"discount_pct": 5}).outcome
            == "approved"
        )
        for name in ("hooli.io", "globex.com", "wayne.io", "stark.io"):
            clock.advance(timedelta(minutes=5))
            assert fld.approve(ids[name], actor=ANA).outcome == "approved"
        clock.advance(timedelta(minutes=5))
        fld.reject(ids["umbrella.com"], actor=ANA, reason="wrong person to write to")
    return ids


def _report(store: Store, old: CompiledPack | Path, new: CompiledPack | Path) -> BacktestReport:
    def pack(p: CompiledPack | Path) -> CompiledPack:
        return load_pack(p) if isinstance(p, Path) else p

    with store.read() as s:
        return backtest_packs(s, pack(old), pack(new))


def _groups(groups) -> dict[str, list[int]]:
    return {g.rule: sorted(e.review_id for e in g.examples) for g in groups}


def test_answered_items_are_what_people_approved_edited_or_rejected(store, answered):
    with store.read() as s:
        items = answered_items(s)
        newest = answered_items(s, limit=2)
    by_account = {i.account_id: i for i in items}
    assert {a: i.answer for a, i in by_account.items()} == {
        "acme.io": "rejected",
        "initech.io": "edited",
        "hooli.io": "approved",
        "globex.com": "approved",
        "umbrella.com": "rejected",
        "wayne.io": "approved",
        "stark.io": "approved",
    }
    acme, initech = by_account["acme.io"], by_account["initech.io"]
    assert acme.note == "they are about to sign at list price" and acme.edits is None
    assert initech.edits == {"discount_pct": 5.0} and initech.answered_by == "ana"
    assert (acme.action_kind, acme.motion, acme.verdict) == (
        "offer_discount",
        "acquisition",
        "review",
    )
    assert acme.context["action"]["discount_pct"] == 10  # the context that sent it to people
    assert initech.context["action"]["discount_pct"] == 10  # not the edited action
    assert [i.review_id for i in newest] == [i.review_id for i in items[:2]]
    assert items[0].review_id == answered["umbrella.com"]  # the last answer comes first


def test_a_loosened_pack_reports_exactly_the_rejected_and_edited_items_it_would_automate(
    store, answered, tmp_path
):
    report = _report(store, world.PACK, _loose(tmp_path))
    assert report.replayed == 7
    assert report.answers == {"approved": 4, "edited": 1, "rejected": 2}
    assert _groups(report.automated_rejected) == {
        "small-discount": [answered["acme.io"]],
        "enterprise-outreach": [answered["umbrella.com"]],
    }
    assert _groups(report.automated_edited) == {"small-discount": [answered["initech.io"]]}
    assert report.automated_against_people == 3
    (rejected,) = [g for g in report.automated_rejected if g.rule == "small-discount"]
    assert (rejected.verdict, rejected.count, rejected.old_differs) == ("auto", 1, 1)
    (example,) = rejected.examples
    assert (example.account_id, example.action_kind, example.answer) == (
        "acme.io",
        "offer_discount",
        "rejected",
    )
    assert example.note == "they are about to sign at list price"
    assert (example.old, example.new) == ("review", "auto")
    assert report.automated_edited[0].examples[0].edits == {"discount_pct": 5.0}
    # the CEO emails stay with people, who approved both unchanged
    assert _groups(report.asked_always_approved) == {
        "executive-contact": sorted([answered["wayne.io"], answered["stark.io"]])
    }
    assert report.asked_always_approved[0].share == pytest.approx(2 / 7)
    assert report.still_asked_always_approved == 2
    assert report.transitions == {("review", "auto"): 5, ("review", "review"): 2}
    assert report.blocked_approved == []


def test_the_same_pack_automates_nothing_people_answered(store, answered):
    report = _report(store, world.PACK, world.PACK)
    assert report.replayed == 7 and report.automated_against_people == 0
    assert report.automated_rejected == [] and report.automated_edited == []
    assert report.transitions == {("review", "review"): 7}
    assert _groups(report.asked_always_approved) == {
        "executive-contact": sorted([answered["wayne.io"], answered["stark.io"]])
    }
    assert report.asked_always_approved[0].old_differs == 0


def test_a_stricter_pack_automates_nothing_and_names_the_approved_items_it_would_block(
    store, db_url, answered, tmp_path
):
    stricter = _pack(
        tmp_path,
        "stricter",
        (SMALL_DISCOUNT, SMALL_DISCOUNT.replace("review", "block")),
        (EXECUTIVE, EXECUTIVE.replace("review", "escalate\n    escalate_to: manager")),
    )
    report = _report(store, world.PACK, stricter)
    assert report.automated_against_people == 0 and report.automated_rejected == []
    # blocked: the discounts people approved, edited or not — not the one they rejected
    assert _groups(report.blocked_approved) == {
        "small-discount": sorted([answered["hooli.io"], answered["initech.io"]])
    }
    assert report.newly_blocked_approved == 2
    (asked,) = report.asked_always_approved
    assert (asked.rule, asked.verdict, asked.count, asked.old_differs) == (
        "executive-contact",
        "escalate",
        2,
        2,
    )
    assert report.transitions == {
        ("review", "block"): 3,
        ("review", "escalate"): 2,
        ("review", "review"): 2,
    }
    shown = CliRunner().invoke(
        app,
        ["--db", db_url, "policy", "backtest", str(world.POLICIES), str(stricter)],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0
    assert "newly blocked by small-discount: 2 items people approved" in shown.output
    assert (
        "verdict: automates nothing people rejected or edited; still asks people about 2 items "
        "they always approved unchanged (1 rule); newly blocks 2 items people approved, of 7 "
        "answered" in shown.output
    )


def test_examples_are_capped_and_the_report_is_plain_json(store, answered, tmp_path):
    loose = load_pack(_loose(tmp_path))
    with store.read() as s:
        none = backtest_packs(s, world.PACK, loose, examples=0)
        one = backtest_packs(s, world.PACK, loose, examples=1)
    assert all(not g.examples for g in none.automated_rejected + none.asked_always_approved)
    assert none.automated_against_people == 3  # counts don't depend on the examples kept
    assert [len(g.examples) for g in one.asked_always_approved] == [1]
    data = json.loads(json.dumps(one.to_json()))
    assert data["totals"] == {
        "replayed": 7,
        "automated_against_people": 3,
        "still_asked_always_approved": 2,
        "newly_blocked_approved": 0,
    }
    assert {"old": "review", "new": "auto", "count": 5} in data["transitions"]
    assert data["automated_edited"][0]["examples"][0]["edits"] == {"discount_pct": 5.0}


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's console as wide as ``COLUMNS`` says when a command runs (not at import)."""
    from revfield.cli._app import console

    monkeypatch.setattr(console, "_width", None)
    return {"COLUMNS": "200"}


def test_the_command_prints_both_tables_and_json_for_a_script(
    store, db_url, answered, tmp_path, wide
):
    loose = _loose(tmp_path)
    runner = CliRunner()
    args = ["--db", db_url, "policy", "backtest", str(world.POLICIES), str(loose)]
    shown = runner.invoke(app, args, env=wide, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "replayed 7 answered review items" in out
    assert "would automate what people rejected or edited" in out
    assert "would still ask people who always approved unchanged" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("small-discount"))
    assert line.split()[1:3] == ["1", "1"]  # rejected, edited
    assert f"#{answered['acme.io']} acme.io offer_discount: rejected" in line
    assert "they are about to sign at list price" in line
    assert "executive-contact" in out
    assert (
        "verdict: would automate 3 items people rejected or edited (2 rules); still asks people "
        "about 2 items they always approved unchanged (1 rule), of 7 answered"
        in " ".join(out.split())
    )
    as_json = runner.invoke(app, [*args, "--json", "-"], catch_exceptions=False)
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["totals"]["automated_against_people"] == 3
    assert [g["rule"] for g in data["automated_rejected"]] == [
        "enterprise-outreach",
        "small-discount",
    ]
    saved = tmp_path / "report.json"
    to_file = runner.invoke(app, [*args, "--json", str(saved)], catch_exceptions=False)
    assert to_file.exit_code == 0 and "would automate" in to_file.output
    assert json.loads(saved.read_text()) == data


def test_the_command_refuses_a_broken_pack_without_a_traceback(tmp_path):
    broken = _pack(tmp_path, "broken", ("decision: block", "decision: sometimes"))
    db = tmp_path / "r.db"
    base = ["--db", f"sqlite:///{db}", "policy", "backtest"]
    result = CliRunner().invoke(app, [*base, str(world.POLICIES), str(broken)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: the policy pack was refused (")
    assert "decision" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, [*base, str(tmp_path / "nope"), str(world.POLICIES)])
    assert missing.exit_code == 1 and "the path you meant?" in missing.output
    assert not db.exists()  # the packs are checked before the database is opened


# --- on the demo's memory ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight days of the demo (its simulated people approve and reject items)."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "demo.db"
    with contextlib.chdir(folder):
        result = CliRunner().invoke(
            app, ["demo", "--path", str(path), "--days", "8"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    return path


def test_on_the_demo_automating_discounts_would_automate_what_people_rejected(
    demo_db, tmp_path, wide
):
    loose = _pack(
        tmp_path,
        "discounts",
        (SMALL_DISCOUNT, SMALL_DISCOUNT.replace("review", "auto")),
        (
            "discount_pct > 15\n    decision: escalate\n    escalate_to: manager",
            "discount_pct > 15\n    decision: auto",
        ),
    )
    url = f"sqlite:///{demo_db}"
    result = CliRunner().invoke(
        app,
        ["--db", url, "policy", "backtest", str(world.POLICIES), str(loose), "--json", "-"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    with contextlib.closing(sqlite3.connect(demo_db)) as db:
        answered = db.execute(
            "SELECT count(*) FROM reviews WHERE status IN ('approved', 'rejected')"
        ).fetchone()[0]
        rejected_discounts = {
            r[0]
            for r in db.execute(
                "SELECT r.id FROM reviews r JOIN actions a ON a.id = r.action_id "
                "WHERE r.status = 'rejected' AND a.kind = 'offer_discount'"
            )
        }
    assert data["totals"]["replayed"] == answered > 0
    assert data["answers"]["rejected"] > 0
    groups = data["automated_rejected"]
    assert groups and {g["rule"] for g in groups} <= {"small-discount", "big-discount"}
    examples = [e for g in groups for e in g["examples"]]
    assert examples and all(e["action_kind"] == "offer_discount" for e in examples)
    assert {e["review_id"] for e in examples} <= rejected_discounts
    assert all(e["note"] == "not the right moment for this account" for e in examples)
    assert 0 < data["totals"]["automated_against_people"] <= len(rejected_discounts)
    same = CliRunner().invoke(
        app,
        ["--db", url, "policy", "backtest", str(world.POLICIES), str(world.POLICIES)],
        env=wide,
        catch_exceptions=False,
    )
    assert same.exit_code == 0 and "automates nothing people rejected or edited" in same.output
