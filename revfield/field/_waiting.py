"""Waiting for a person inside any LangGraph node: one typed interrupt per review item.

:func:`await_review` pauses the calling node with an interrupt that describes the action's
review item (see :mod:`revfield.review._interrupts`) and returns once the action is settled.
An answer given through the interrupt (revfield's, LangChain's or Agent Inbox's form) goes
through the same digest check and re-decision as a seller's answer at the command line; a
refused answer asks again, saying why; a re-escalated item asks again on its new rung.

Each interrupt first records which item it asks about (the only write before it pauses), so
an answer is bound to what its person saw, and an answer is taken or refused once: when the
node runs again from its top (as LangGraph does on every resume), what was decided then is
reused, never decided again.

An answer addressed to an interrupt the item has replaced since (it was re-escalated, moved up
the ladder or refused an answer, and asks again) is refused: LangGraph hands an answer keyed by
a task's *first* interrupt id to the task's current interrupt (for graphs of its older
versions), which would apply what a person said about one question to another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.config import get_config
from langgraph.types import interrupt

try:  # LangGraph ≥ 1.2 gives each interrupt of a task its own id, by position (internals:
    # guarded, so a LangGraph that moved them only loses the check below)
    from langgraph._internal._constants import CONFIG_KEY_RESUME_MAP, CONFIG_KEY_SCRATCHPAD
    from langgraph.types import _interrupt_id
except ImportError:  # pragma: no cover
    _interrupt_id = None  # type: ignore[assignment]
    CONFIG_KEY_RESUME_MAP = CONFIG_KEY_SCRATCHPAD = ""

from revfield.clock import Clock
from revfield.domain import ActionStatus, ReviewStatus
from revfield.memory import (
    Session,
    Store,
    asking,
    get_review,
    settle_answer,
)
from revfield.policies import CompiledPack
from revfield.review import (
    RESPONSE_SCHEMA,
    Actor,
    ReviewError,
    answer_review,
    describe,
    is_recorded,
    parse_answer,
    resolve_actor,
)

__all__ = ["await_review", "outcome_of"]


def outcome_of(status: ActionStatus) -> str:
    """How a settled action resumes its run: approved (and anything after it: queued,
    executed…) as ``approved``, else its status."""
    if status in (ActionStatus.REJECTED, ActionStatus.BLOCKED, ActionStatus.CANCELLED):
        return status.value
    return ActionStatus.APPROVED.value


def _who(answer_user: str | None) -> str | None:
    """Who answers through a LangGraph client: the run config's ``revfield_user`` (what
    :meth:`Field.answer_interrupt` sets for its ``actor``) or the LangGraph server's
    authenticated user; the answer's own ``user`` only when the config names nobody — an
    answer can't speak for someone other than whoever resumes the run."""
    conf = get_config().get("configurable", {})
    user = conf.get("revfield_user") or conf.get("langgraph_auth_user_id")
    if user:
        return str(user)
    return answer_user or None


def _actor(session: Session, user: str) -> Actor:
    """The person answering: the :class:`Actor` :meth:`Field.answer_interrupt` was given
    (``revfield_actor`` in the run's config, in-process only: a value that isn't an ``Actor``
    is ignored), else the user of that id in memory."""
    given = get_config().get("configurable", {}).get("revfield_actor")
    if isinstance(given, Actor) and given.id == user:
        return given
    return resolve_actor(session, user)


def await_review(
    store: Store, pack: Callable[[], CompiledPack], clock: Clock, action_id: int
) -> str:
    """Pause the calling LangGraph node until ``action_id`` is settled; returns ``approved``,
    ``rejected``, ``blocked`` or ``cancelled``. Must run inside a node (or a tool called by
    one) of a graph with a checkpointer."""
    conf = get_config()["configurable"]
    base = f"{conf.get('thread_id')}|{conf.get('checkpoint_ns', '')}|{action_id}"
    error: str | None = None
    n = 0
    while True:
        key = f"{base}|{n}"
        found = asking(store, action_id, key, clock.now())  # bound to what is shown
        if found.review is None or found.asked is None or found.decision is None:
            return outcome_of(found.action.status)  # settled: nothing waits
        item, asked = found.review, found.asked
        request = describe(
            item,
            found.action,
            found.decision,
            found.facts,
            pack().catalog,
            thread_id=str(conf.get("thread_id")),
            error=error,
        )
        kind = str(request["action_requests"][0]["name"])
        n += 1
        value = interrupt(request, response_schema=RESPONSE_SCHEMA)
        if asked.outcome != "asked":  # answered before this node ran again: as then
            error = asked.message if asked.outcome == "refused" else None
            continue
        if is_recorded(value):  # answered in memory already (command line, ladder…): look again
            error = None
            continue
        if _to_a_replaced_interrupt():
            error = (
                "that answer was given to an earlier question of this run, which review "
                f"#{item.id} has replaced (re-escalated, moved up the ladder, or an answer was "
                "refused); nothing was changed: read the run's state and answer its newest "
                "interrupt"
            )
            with store.session() as session:
                settle_answer(session, key, outcome="refused", message=error, now=clock.now())
            continue
        error = _take(store, pack(), clock, key, item.id, value, kind, request)


def _to_a_replaced_interrupt() -> bool:
    """Whether the answer the current interrupt just received was addressed to the task's
    first interrupt while the task asks a later question: LangGraph hands an answer keyed by
    a task's first interrupt id to its current interrupt (older LangGraph versions gave every
    interrupt of a task that id), so an answer to a replaced question would land here."""
    if _interrupt_id is None:
        return False
    conf = get_config()["configurable"]
    answers, pad = conf.get(CONFIG_KEY_RESUME_MAP), conf.get(CONFIG_KEY_SCRATCHPAD)
    if not isinstance(answers, Mapping) or pad is None:
        return False
    position = len(pad.resume) - 1  # the answer just taken is the task's last
    ns = str(conf.get("checkpoint_ns", ""))
    return (
        position > 0
        and _interrupt_id(ns, position) not in answers
        and _interrupt_id(ns, 0) in answers
    )


def _take(
    store: Store,
    pack: CompiledPack,
    clock: Clock,
    key: str,
    review_id: int,
    value: object,
    kind: str,
    shown: dict[str, Any],
) -> str | None:
    """Take a client's answer to review item ``review_id`` (bound to the interrupt ``key``);
    returns why it was refused, or None. A refused answer changes nothing but the record of
    the refusal."""
    now = clock.now()
    with store.session() as session:
        try:
            with session.begin_nested():
                answer = parse_answer(value, kind, shown["action_request"]["args"])
                item = get_review(session, review_id)
                if item is None or item.status is not ReviewStatus.PENDING:
                    raise ReviewError(
                        f"review #{review_id} is no longer waiting (its action changed or it "
                        "was answered since you saw it); answer its newest interrupt"
                    )
                user = _who(answer.user)
                if user is None:
                    raise ReviewError(
                        "who answers? give `user` in the answer, or `revfield_user` in the "
                        "run's configurable"
                    )
                answer_review(
                    session,
                    pack,
                    review_id,
                    approve=answer.approve,
                    actor=_actor(session, user),
                    now=now,
                    edits=answer.edits or None,
                    note=answer.reason or None,
                    expected_digest=answer.digest,
                )
        except ReviewError as exc:
            settle_answer(session, key, outcome="refused", message=str(exc), now=now)
            return str(exc)
        settle_answer(session, key, outcome="taken", message="", now=now)
    return None
