"""The CEL of the issue, end to end in a pack: what a RevOps author writes in a rule is loaded,
linted and decided as the CEL specification says — string escapes, a list in the payload,
optional fields, a weekend in the contact's time zone — and a mistake in the new functions is
a load error with a caret and a help line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from revfield.policies import PackError, Verdict, decide, lint_pack, load_pack, merge_context


def refused(folder) -> str:
    with pytest.raises(PackError) as err:
        load_pack(folder)
    return str(err.value)


def test_a_regex_with_a_python_only_escape_is_refused_with_the_fix(write_pack):
    message = refused(
        write_pack(
            p=r"""
        rules:
          - id: won
            when: 'deal.stage.matches("^closed\.won$")'
            decision: auto
            reason: r
    """
        )
    )
    assert r"rule `won`: invalid string literal: `\.` is not an escape sequence in CEL" in message
    assert r'deal.stage.matches("^closed\.won$")' in message and "^" in message
    assert 'use a raw string r"…"' in message


def test_a_raw_string_regex_matches_as_written(write_pack):
    pack = load_pack(
        write_pack(
            p=r"""
        rules:
          - id: won
            when: 'deal.stage.matches(r"^closed\.won$")'
            decision: block
            reason: r
    """
        )
    )
    assert decide(pack, merge_context({"deal": {"stage": "closed.won"}})).verdict is Verdict.BLOCK
    assert decide(pack, merge_context({"deal": {"stage": "closedXwon"}})).verdict is not (
        Verdict.BLOCK
    )


def test_a_list_in_the_payload_is_indexed_and_the_rule_decides(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        default: review
        rules:
          - {id: first-item-big, when: 'action.payload.items[0] > 5', decision: block, reason: r}
    """
        )
    )
    action = {"kind": "notify", "motion": "acquisition", "payload": {"items": [9, 1]}}
    d = decide(pack, merge_context({"action": action}))
    assert (d.verdict, d.errors) == (Verdict.BLOCK, ())


def test_an_optional_field_of_the_payload_does_not_fail_closed(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        default: review
        rules:
          - id: gold
            when: 'action.payload.?tier.orValue("none") == "gold"'
            decision: auto
            reason: r
    """
        )
    )
    without = decide(pack, merge_context({"action": {"kind": "notify", "payload": {}}}))
    assert (without.verdict, without.errors) == (Verdict.REVIEW, ())
    gold = decide(pack, merge_context({"action": {"kind": "notify", "payload": {"tier": "gold"}}}))
    assert gold.verdict is Verdict.AUTO


def test_no_automated_email_at_weekends_in_the_contacts_time_zone(write_pack):
    pack = load_pack(
        write_pack(
            p="""
        default: auto
        rules:
          - id: weekend-email
            when: >-
              action.kind == "send_email"
              && now.getDayOfWeek("Europe/Paris") in [0, 6]
            decision: review
            reason: no automated email at weekends in the contact's region
    """
        )
    )
    email = {"kind": "send_email", "motion": "acquisition"}
    saturday_night_utc = datetime(2026, 11, 7, 22, 30, tzinfo=UTC)  # Saturday in Paris too
    monday_small_hours_utc = datetime(2026, 11, 8, 23, 30, tzinfo=UTC)  # Monday in Paris
    assert (
        decide(pack, merge_context({"action": email, "now": saturday_night_utc})).verdict
        is Verdict.REVIEW
    )
    assert (
        decide(pack, merge_context({"action": email, "now": monday_small_hours_utc})).verdict
        is Verdict.AUTO
    )


@pytest.mark.parametrize(
    ("when", "message", "help_has"),
    [
        (
            "action.subject.split(1).size() > 2",
            "argument 1 of `.split()` must be a string, but `1` is an int",
            "text.split(separator) or text.split(separator, max_parts)",
        ),
        (
            'now.getDayOfWeek("Europe/Pariss") == 0',
            "unknown time zone `Europe/Pariss`",
            "IANA name",
        ),
        (
            "math.greatest(account.seats, account.name) > 10",
            "`math.greatest()` needs numbers (ints or doubles), but `account.name` is a string",
            "math.greatest(a, b, …)",
        ),
        (
            'action.kind.orValue("x") == "x"',
            "`.orValue()` works on an optional value, not a string",
            "action.payload.?tier.orValue",
        ),
        (
            '{"a": 1, "a": 2}["a"] == 1',
            'the map literal repeats the key `"a"`',
            "a key may appear once",
        ),
    ],
)
def test_a_mistake_in_the_new_functions_is_a_load_error_with_a_caret(
    write_pack, when, message, help_has
):
    text = refused(
        write_pack(p=f"rules:\n  - {{id: r1, when: '{when}', decision: auto, reason: r}}\n")
    )
    assert f"rule `r1`: {message}" in text
    assert f"  {when}\n" in text and "^" in text
    assert help_has in text


def test_lint_reads_strings_as_cel_does(write_pack):
    pack = load_pack(
        write_pack(
            p=r"""
        rules:
          - {id: escaped, when: 'action.kind == "send\X5Femail"', decision: review, reason: r}
          - {id: typo, when: 'action.kind == "send\?email"', decision: review, reason: r}
          - id: optional
            when: 'action.payload.?tier.orValue("") == "gold" && false'
            decision: review
            reason: r
    """
        )
    )
    found = {f.rule_id: f.message for f in lint_pack(pack)}
    assert "escaped" not in found  # "send\X5Femail" is "send_email" in CEL
    assert "`action.kind` is never `send?email`" in found["typo"]
    assert "contains `false`" in found["optional"]  # the linter parses `.?`
