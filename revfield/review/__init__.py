"""Review items: actions waiting for a person, the escalation ladder, and answering them.

Answering from Python (the same as the CLI): :meth:`revfield.field._field.Field.approve`
and :meth:`~revfield.field._field.Field.reject` answer an item and resume the paused agent
run; :func:`answer_review` only records the answer (the run resumes on the next sweep).
"""

from revfield.review._service import (
    LOCAL_ADMIN,
    Actor,
    AnswerResult,
    InboxItem,
    ReviewError,
    answer_review,
    climb_ladder,
    inbox,
    open_review,
    resolve_actor,
)

__all__ = [
    "LOCAL_ADMIN",
    "Actor",
    "AnswerResult",
    "InboxItem",
    "ReviewError",
    "answer_review",
    "climb_ladder",
    "inbox",
    "open_review",
    "resolve_actor",
]
