"""Loading a pack: every bad input is a clear load error naming file, line and rule, and a
refused pack never leaves anything half-loaded in force."""

from __future__ import annotations

import pytest

from revfield.policies import PackError, load_pack
from tests.policies.conftest import DEFAULT_PACK

GOOD = """
default: review
rules:
  - id: notify
    when: action.kind == "notify"
    decision: auto
    reason: Notifying the team needs no approval.
"""


def refused(folder) -> str:
    with pytest.raises(PackError) as err:
        load_pack(folder)
    return str(err.value)


def test_the_default_pack_loads_with_a_content_hash_version():
    pack = load_pack(DEFAULT_PACK)
    assert len(pack.rules) >= 20
    assert pack.version.startswith("sha256:") and len(pack.version) == len("sha256:") + 16
    assert load_pack(DEFAULT_PACK).version == pack.version


def test_the_version_changes_with_any_file(write_pack):
    folder = write_pack(rules=GOOD)
    before = load_pack(folder).version
    (folder / "extra.yaml").write_text("capabilities: []\n")
    assert load_pack(folder).version != before


def test_a_pack_may_span_files_and_rules_are_concatenated(write_pack):
    folder = write_pack(
        a=GOOD,
        b="""
        rules:
          - id: tasks
            when: action.kind == "create_task"
            decision: auto
            reason: Tasks need no approval.
        review: {deadline_hours: 8}
    """,
    )
    pack = load_pack(folder)
    assert [r.id for r in pack.rules] == ["notify", "tasks"]
    assert pack.review.deadline_hours == 8


def test_invalid_yaml_names_line_and_column(write_pack):
    message = refused(write_pack(rules="rules:\n  - id: x\n    when: [unclosed\n"))
    assert "rules.yaml:4:1: invalid YAML" in message


def test_a_duplicate_yaml_key_is_an_error_not_silently_the_last_one(write_pack):
    message = refused(write_pack(rules=GOOD + "default: auto\n"))
    assert "duplicate key `default` (first at line 1)" in message


def test_unknown_keys_are_named_with_a_suggestion(write_pack):
    message = refused(
        write_pack(
            rules="""
        rules:
          - id: x
            wehn: action.kind == "notify"
            decision: auto
            reason: r
    """
        )
    )
    assert "rules.yaml:3:5: rule `x`: unknown key `wehn`; did you mean `when`?" in message


def test_an_unknown_decision_lists_the_valid_ones(write_pack):
    message = refused(write_pack(rules=GOOD.replace("decision: auto", "decision: approve")))
    assert (
        "rule `notify`: unknown decision `approve`; one of auto, review, escalate, block" in message
    )
    assert "rules.yaml:5:" in message


def test_duplicate_rule_ids_are_refused(write_pack):
    message = refused(write_pack(a=GOOD, b=GOOD.replace("default: review", "")))
    assert "b.yaml:2:9: rule `notify`: duplicate rule id (first at" in message
    assert "a.yaml:3:9)" in message


def test_a_section_in_two_files_is_refused(write_pack):
    message = refused(
        write_pack(a="review: {deadline_hours: 4}\n", b="review: {deadline_hours: 8}\n")
    )
    assert "section `review` appears in more than one file" in message


def test_a_cel_syntax_error_shows_the_rule_and_the_expression_with_a_caret(write_pack):
    message = refused(
        write_pack(rules=GOOD.replace('action.kind == "notify"', '(action.kind == "notify"'))
    )
    assert "rule `notify`: syntax error: the expression ends too early; expected `)`" in message
    assert '  (action.kind == "notify"\n' in message and "^" in message


def test_an_unknown_field_names_file_line_rule_field_and_the_closest_name(write_pack):
    message = refused(
        write_pack(rules=GOOD.replace('action.kind == "notify"', "action.amount_usd > 500"))
    )
    assert "rules.yaml:4:18: rule `notify`: unknown field `amount_usd` on `action`" in message
    assert "did you mean `amount`?" in message


def test_a_type_error_is_a_load_error(write_pack):
    message = refused(
        write_pack(rules=GOOD.replace('action.kind == "notify"', 'model.confidence > "high"'))
    )
    assert "rule `notify`: `>` is not defined between a double and a string" in message


def test_an_error_inside_a_block_scalar_points_at_its_line(write_pack):
    message = refused(
        write_pack(
            rules="""
        rules:
          - id: multi
            when: |
              action.kind == "notify" &&
                action.ammount > 5
            decision: auto
            reason: r
    """
        )
    )
    assert "rules.yaml:5:16: rule `multi`: unknown field `ammount`" in message


def test_a_cyclic_definition_is_refused(write_pack):
    message = refused(
        write_pack(
            rules="""
        definitions:
          a: b && true
          b: a
        rules:
          - id: x
            when: a
            decision: auto
            reason: r
    """
        )
    )
    assert "cyclic definition: a → b → a" in message


def test_a_definition_may_not_hide_a_context_variable(write_pack):
    message = refused(write_pack(rules='definitions:\n  action: "true"\n'))
    assert "would hide the context variable `action`" in message


def test_an_oversized_expression_is_refused(write_pack):
    huge = " && ".join(f'action.kind != "k{i}"' for i in range(400))
    message = refused(write_pack(rules=GOOD.replace('action.kind == "notify"', huge)))
    assert "over the 4,000 limit" in message


def test_every_problem_is_reported_at_once(write_pack):
    message = refused(
        write_pack(
            rules="""
        rules:
          - id: one
            when: action.amount_usd > 1
            decision: auto
            reason: r
          - id: two
            when: acton.kind == "x"
            decision: auto
            reason: r
    """
        )
    )
    assert "rule `one`" in message and "rule `two`" in message


def test_a_missing_pack_is_a_clear_error(tmp_path):
    assert "no such policy file or folder" in refused(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    assert "holds no .yaml policy files" in refused(tmp_path / "empty")


def test_a_plug_in_ships_its_own_file_with_its_action_kinds_and_agent_settings(write_pack):
    pack = load_pack(
        write_pack(
            a="agents:\n  deal_desk: {settings: {max_pct: 20}}\n",
            b=(
                "actions:\n  book_demo:\n    fields:\n      minutes: {type: int, max: 90}\n"
                "agents:\n  demo_booker: {enabled: false}\n"
            ),
        )
    )
    assert "book_demo" in pack.catalog.kinds
    assert pack.playbook.settings("deal_desk") == {"max_pct": 20}
    assert not pack.agent_enabled("demo_booker") and pack.agent_enabled("outreach")


def test_an_action_kind_declared_in_two_files_is_refused(write_pack):
    kind = "actions:\n  book_demo:\n    fields: {}\n"
    message = refused(write_pack(a=kind, b=kind))
    assert "action kind `book_demo` is defined twice (also in" in message


def test_an_action_kind_named_like_a_built_in_one_is_refused(write_pack):
    message = refused(write_pack(a="actions:\n  send_email:\n    fields: {}\n"))
    assert "action kind `send_email` is built in" in message
