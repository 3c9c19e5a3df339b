"""Review items: actions waiting for a person, the escalation ladder, and answering them.

Answering from Python (the same as the CLI): :meth:`revfield.field.Field.approve` and
:meth:`~revfield.field.Field.reject` answer an item and resume the paused agent run;
:func:`answer_review` only records the answer (the run resumes on the next sweep).
"""

from revfield.review._access import LOCAL_ADMIN, Actor, ReviewError, may_answer, resolve_actor
from revfield.review._answer import AnswerResult, answer_review
from revfield.review._inbox import InboxItem, InboxPage, inbox, inbox_page
from revfield.review._interrupts import (
    RECORDED,
    RESPONSE_SCHEMA,
    AnswerFormError,
    HumanAnswer,
    describe_item,
    is_recorded,
    parse_answer,
)
from revfield.review._ladder import climb_ladder, open_review_item, rung_for
from revfield.review._risk import resolve_churn_risk

__all__ = [
    "LOCAL_ADMIN",
    "RECORDED",
    "RESPONSE_SCHEMA",
    "Actor",
    "AnswerFormError",
    "AnswerResult",
    "HumanAnswer",
    "InboxItem",
    "InboxPage",
    "ReviewError",
    "answer_review",
    "climb_ladder",
    "describe_item",
    "inbox",
    "inbox_page",
    "is_recorded",
    "may_answer",
    "open_review_item",
    "parse_answer",
    "resolve_actor",
    "resolve_churn_risk",
    "rung_for",
]
