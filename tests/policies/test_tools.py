"""The tools RevOps uses: lint, policy tests, explain, diff, hot reload, and the CLI around them."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

from typer.testing import CliRunner

from revfield.cli import app
from revfield.clock import ManualClock
from revfield.domain import ActionKind, Motion, ProposedAction
from revfield.policies import (
    PackWatcher,
    build_context,
    decide,
    diff_packs,
    lint_pack,
    load_pack,
    record_decision,
    run_policy_tests,
)
from tests.factories import T0, make_account
from tests.policies.conftest import DEFAULT_PACK

runner = CliRunner()


def test_the_default_pack_passes_its_own_policy_tests_and_covers_every_rule():
    pack = load_pack(DEFAULT_PACK)
    report = run_policy_tests(pack, DEFAULT_PACK / "tests")
    assert report.failed == [], [(r.name, r.diff) for r in report.failed]
    assert report.uncovered == []


def test_the_default_pack_is_lint_clean():
    assert lint_pack(load_pack(DEFAULT_PACK)) == []


def test_lint_finds_rules_that_never_match_and_rules_that_never_decide(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        definitions:
          email: action.kind == "send_email"
        rules:
          - {id: typo, when: 'action.kind == "send_emial"', decision: auto, reason: r}
          - {id: contradiction, when: 'action.discount_pct > 30.0 && action.discount_pct < 10.0',
             decision: review, reason: r}
          - {id: two-kinds, when: 'email && action.kind in ["notify", "create_task"]',
             decision: review, reason: r}
          - {id: never, when: 'false', decision: review, reason: r}
          - {id: opted-out, when: contact.do_not_contact, decision: block, reason: r}
          - {id: opted-out-email, when: 'contact.do_not_contact && email',
             decision: review, reason: r}
          - {id: big, when: 'action.discount_pct > 20.0', decision: escalate, reason: r}
          - {id: bigger, when: 'action.discount_pct > 40.0 && action.kind == "offer_discount"',
             decision: review, reason: r}
          - {id: fine, when: 'action.discount_pct > 10.0', decision: review, reason: r}
    """
        )
    )
    found = {f.rule_id: f for f in lint_pack(pack)}
    assert "did you mean `send_email`" in found["typo"].message
    assert (
        found["contradiction"].kind
        == found["two-kinds"].kind
        == found["never"].kind
        == "never-matches"
    )
    assert (
        found["opted-out-email"].kind == "shadowed"
        and "`opted-out`" in found["opted-out-email"].message
    )
    assert (
        found["bigger"].kind == "shadowed" and "`big`" in found["bigger"].message
    )  # > 40 implies > 20
    assert "fine" not in found and "big" not in found and "opted-out" not in found


def test_a_failing_policy_test_shows_a_diff(write_pack, tmp_path):
    folder = write_pack(
        p=(
            "rules: [{id: tasks, when: 'action.kind == \"create_task\"', "
            "decision: auto, reason: r}]\n"
        )
    )
    (folder / "tests").mkdir()
    (folder / "tests" / "t.yaml").write_text(
        "- name: tasks need review\n  context: {action: {kind: create_task, motion: acquisition}}\n"
        "  expect: {decision: review, rules: [tasks, other]}\n"
    )
    result = runner.invoke(app, ["policy", "test", str(folder)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "FAIL t.yaml:1 tasks need review" in out
    assert "decision: expected review, got auto" in out
    assert "- expected but did not match: other" in out
    assert "0 passed, 1 failed" in out


def test_a_policy_test_with_a_typo_in_its_context_is_reported(write_pack):
    folder = write_pack(p="rules: []\n")
    (folder / "tests").mkdir()
    (folder / "tests" / "t.yaml").write_text(
        "- name: x\n  context: {action: {knd: notify}}\n  expect: {decision: review}\n"
    )
    result = runner.invoke(app, ["policy", "test", str(folder)])
    assert (
        result.exit_code == 1
        and "unknown field `action.knd`; did you mean `kind`?" in result.output
    )


def test_policy_check_and_test_pass_on_the_default_pack():
    check = runner.invoke(app, ["policy", "check", str(DEFAULT_PACK)])
    assert check.exit_code == 0 and "every rule can match and decide" in check.output
    test = runner.invoke(app, ["policy", "test", str(DEFAULT_PACK)])
    assert test.exit_code == 0 and "0 failed" in test.output


def test_a_broken_copy_of_the_pack_fails_check_naming_file_line_and_rule(tmp_path):
    broken = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK, broken)
    text = (
        (broken / "default.yaml")
        .read_text()
        .replace("action.uncited_claims > 0", "action.uncited_claim > 0")
    )
    (broken / "default.yaml").write_text(text)
    result = runner.invoke(app, ["policy", "check", str(broken)])
    assert result.exit_code == 1
    out = result.output
    assert (
        "default.yaml:" in out
        and "rule `uncited-claims`: unknown field `uncited_claim` on `action`" in out
    )
    assert "did you mean `uncited_claims`?" in out and "nothing of it is in force" in out


def test_explain_shows_every_rule_the_guardrails_and_the_decision():
    context = {
        "action": {"kind": "send_email", "motion": "acquisition"},
        "account": {"segment": "smb", "icp_fit": True},
        "contact": {"email": "p@a.com"},
        "model": {"confidence": 0.95},
        "counters": {"contact_touches": 3},
    }
    result = runner.invoke(
        app, ["policy", "explain", json.dumps(context), "--pack", str(DEFAULT_PACK)]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "smb-followup" in out and "opted-out" in out  # matched and not matched rules both listed
    assert "contact-fatigue" in out and "decision: review" in out
    # the guardrail decided: the explanation leads with it, then names the rule it overrode
    assert "why: review: contact-fatigue: contact already touched 3 times" in out
    assert "over rule `smb-followup`" in out and "(auto)" in out


def test_explain_assembles_the_context_from_memory_for_a_proposed_action(db_url):
    from revfield.memory import Store

    store = Store.from_url(db_url)
    make_account(store, "acme", segment="enterprise", employees=900, industry="software")
    store.dispose()
    action = {
        "kind": "offer_discount",
        "motion": "acquisition",
        "account_id": "acme",
        "discount_pct": 22,
    }
    result = runner.invoke(
        app, ["--db", db_url, "policy", "explain", json.dumps(action), "--pack", str(DEFAULT_PACK)]
    )
    assert result.exit_code == 0, result.output
    assert "big-discount" in result.output and "decision: escalate → manager" in result.output


def test_explain_refuses_bad_json_clearly():
    result = runner.invoke(app, ["policy", "explain", "{not json", "--pack", str(DEFAULT_PACK)])
    assert result.exit_code == 1 and "not valid JSON" in result.output


def test_diff_replays_stored_decisions_through_both_packs(store, db_url, tmp_path):
    make_account(store, "acme", segment="smb", employees=50, industry="software")
    pack = load_pack(DEFAULT_PACK)
    with store.session() as s:
        for pct in (5, 12, 18):
            action = ProposedAction(
                kind=ActionKind.OFFER_DISCOUNT,
                motion=Motion.ACQUISITION,
                account_id="acme",
                discount_pct=pct,
            )
            record_decision(s, decide(pack, build_context(s, pack, action, T0)), decided_at=T0)
    stricter = tmp_path / "stricter"
    shutil.copytree(DEFAULT_PACK, stricter)
    text = (stricter / "default.yaml").read_text()
    (stricter / "default.yaml").write_text(
        text.replace("action.discount_pct > 15", "action.discount_pct > 10").replace(
            "action.discount_pct <= 15", "action.discount_pct <= 10"
        )
    )
    with store.read() as s:
        report = diff_packs(s, pack, load_pack(stricter))
    assert report.replayed == 3
    assert [(c.old, c.new) for c in report.changes] == [("review", "escalate")]
    result = runner.invoke(
        app, ["--db", db_url, "policy", "diff", str(DEFAULT_PACK), str(stricter)]
    )
    assert (
        "replayed 3 stored decisions" in result.output
        and "1 decisions would change" in result.output
    )


def test_hot_reload_takes_a_good_pack_and_keeps_the_last_good_one_when_the_new_is_broken(
    write_pack,
):
    folder = write_pack(
        p="rules: [{id: a, when: 'action.kind == \"notify\"', decision: auto, reason: r}]\n"
    )
    clock = ManualClock(T0)
    watcher = PackWatcher(folder, clock=clock, interval=timedelta(seconds=2))
    first = watcher.current()
    (folder / "p.yaml").write_text(
        "rules: [{id: b, when: 'action.kind == \"notify\"', decision: review, reason: r}]\n"
    )
    assert watcher.current() is first  # not checked again within the interval
    clock.advance(timedelta(seconds=3))
    second = watcher.current()
    assert [r.id for r in second.rules] == ["b"] and second.version != first.version
    (folder / "p.yaml").write_text(
        "rules: [{id: c, when: 'action.kind ==', decision: review, reason: r}]\n"
    )
    clock.advance(timedelta(seconds=3))
    assert watcher.current() is second  # the broken pack is refused; the last good one stays
    assert watcher.last_error is not None and "syntax error" in str(watcher.last_error)


def test_governance_command_prints_deviations_and_icp_adherence(db_url):
    from revfield.memory import Store
    from tests.factories import make_deal

    store = Store.from_url(db_url)
    make_account(store, "a", segment="smb", employees=5, industry="software")
    make_deal(store, "a", "d1", stage="prospecting", created_at=T0 - timedelta(days=60))
    store.dispose()
    result = runner.invoke(
        app, ["--db", db_url, "governance", "--as-of", "2026-11-02", "--pack", str(DEFAULT_PACK)]
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "1 open deals, ICP adherence 0.0%" in out
    assert "cycle-corridor" in out and "outside-icp" in out and "no-contact" in out
