"""Review items: actions waiting for a person, the escalation ladder, and answering them.

Answering from Python (the same as the CLI): :meth:`revfield.field.Field.approve` and
:meth:`~revfield.field.Field.reject` answer an item and resume the paused agent run;
:func:`answer_review` only records the answer (the run resumes on the next sweep).
"""

import typing

from revfield._lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:  # mypy sees every name; at run time each loads on first use
    from revfield.review._access import (
        LOCAL_ADMIN,
        Actor,
        ReviewError,
        may_answer,
        resolve_actor,
    )
    from revfield.review._answer import AnswerResult, answer_review
    from revfield.review._inbox import InboxItem, InboxPage, inbox, inbox_page
    from revfield.review._interrupts import (
        RECORDED,
        RESPONSE_SCHEMA,
        AnswerFormError,
        HumanAnswer,
        describe,
        describe_item,
        is_recorded,
        parse_answer,
    )
    from revfield.review._ladder import climb_ladder, open_review_item, rung_for
    from revfield.review._risk import resolve_churn_risk

_EXPORTS: dict[str, tuple[str, ...]] = {
    "revfield.review._access": (
        "LOCAL_ADMIN",
        "Actor",
        "ReviewError",
        "may_answer",
        "resolve_actor",
    ),
    "revfield.review._answer": (
        "AnswerResult",
        "answer_review",
    ),
    "revfield.review._inbox": (
        "InboxItem",
        "InboxPage",
        "inbox",
        "inbox_page",
    ),
    "revfield.review._interrupts": (
        "RECORDED",
        "RESPONSE_SCHEMA",
        "AnswerFormError",
        "HumanAnswer",
        "describe",
        "describe_item",
        "is_recorded",
        "parse_answer",
    ),
    "revfield.review._ladder": (
        "climb_ladder",
        "open_review_item",
        "rung_for",
    ),
    "revfield.review._risk": ("resolve_churn_risk",),
}

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
    "describe",
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


if not typing.TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it
    __getattr__, __dir__ = _lazy_names(
        __name__,
        {name: module for module, names in _EXPORTS.items() for name in names},
        __all__,
    )
