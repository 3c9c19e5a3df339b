"""A person's edit to an offer changes what the text of the offer says, not only its number."""

from __future__ import annotations

from revfield.domain import ActionKind, Motion, ProposedAction


def offer(subject: str, body: str) -> ProposedAction:
    return ProposedAction(
        kind=ActionKind.OFFER_DISCOUNT,
        motion=Motion.ACQUISITION,
        account_id="acme.io",
        discount_pct=15,
        subject=subject,
        body=body,
    )


def test_an_edited_discount_is_restated_in_the_subject_and_body():
    edited = offer("15% discount on the deal", "We can offer 15 % off; 115% is not a typo.").edited(
        {"discount_pct": 10}
    )
    assert edited.discount_pct == 10
    assert edited.subject == "10% discount on the deal"
    assert edited.body == "We can offer 10 % off; 115% is not a typo."


def test_text_the_person_wrote_themselves_is_kept_as_written():
    edited = offer("15% discount", "15% off").edited({"discount_pct": 12.5, "subject": "A gift"})
    assert (edited.subject, edited.body) == ("A gift", "12.5% off")
