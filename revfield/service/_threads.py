"""The Agent Protocol subset LangGraph clients use, so review items can be answered from
LangChain's Agent Inbox or any LangGraph SDK client (``langgraph_sdk.get_sync_client(url=…,
api_key=<revfield token>)``).

Every agent run is a thread (``<agent>:<field event id>``) and each review item waiting in it
is one interrupt (see the README's "Answering from a LangGraph client"). The shapes follow
``langgraph_sdk.schema`` (``Thread``, ``ThreadState``, ``ThreadTask``, ``Interrupt``, ``Run``):

- ``POST /threads/search``: the threads waiting on an item the caller may answer (their scope,
  server-side); ``status``, ``ids``, ``metadata`` (containment; ``graph_id`` or
  ``assistant_id`` is the agent's name, or ``revfield`` for every agent), ``values``,
  ``limit``, ``offset``, ``sort_by`` (``thread_id``) and ``sort_order`` are honoured; a
  status other than ``interrupted`` finds nothing, since only waiting runs are listed.
- ``GET /threads/{id}``, ``GET /threads/{id}/state``: the run's values, ``next``, its tasks
  and the interrupts the caller may answer (others are left out, as if absent).
- ``POST /threads/{id}/runs`` (``/wait``, ``/stream``) with ``{"command": {"resume": …}}``:
  the answer — revfield's form, LangChain's decisions, or Agent Inbox's ``HumanResponse``
  list — to the one interrupt the caller may answer, or ``{interrupt id: answer, …}``; it
  goes through :meth:`~revfield.field.Field.answer_interrupt` as the caller (digest check,
  re-decision, the ladder). A refused answer is 409 (422 when its form is wrong) with the
  reason, and the item asks again with a new interrupt id.
- ``POST /threads/{id}/state`` with ``as_node: "__end__"`` (Agent Inbox's "ignore"): every
  item of the run the caller may answer is rejected, with the reason "ignored in Agent Inbox".

The ``assistant_id`` a client sends is not needed (the thread names its agent) and is ignored.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from revfield.memory import account_owner, get_action, get_review, load_event
from revfield.review import (
    Actor,
    AnswerFormError,
    ReviewError,
    inbox,
    may_answer,
    parse_answer,
)
from revfield.service._auth import CurrentActor, sees_account
from revfield.service._errors import ApiError, error_responses
from revfield.service._state import Service, service
from revfield.service._storable import Body, StorableText

__all__ = ["router"]

router = APIRouter(tags=["agent protocol"])

ServiceDep = Annotated[Service, Depends(service)]
ThreadId = Annotated[
    StorableText, Path(min_length=3, max_length=200, description="`<agent>:<field event id>`.")
]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted"]

ALL_AGENTS = "revfield"
"""The ``graph_id`` (or ``assistant_id``) that names every agent's runs at once: what to give
Agent Inbox as the graph."""

_INTERRUPT_ID = re.compile(r"[0-9a-f]{32}")


class InterruptOut(BaseModel):
    """One question a run waits on (``langgraph_sdk.schema.Interrupt``): its value describes
    the review item; answer it by its id."""

    value: Any
    id: str
    response_schema: dict[str, Any] | None = Field(
        default=None, description="The JSON Schema of an answer."
    )


class CheckpointOut(BaseModel):
    """Where a thread's state was read (``langgraph_sdk.schema.Checkpoint``)."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None
    checkpoint_map: dict[str, Any] | None = None


class TaskOut(BaseModel):
    """A step the run will take next (``langgraph_sdk.schema.ThreadTask``): a review task
    holds its item's interrupt."""

    id: str
    name: str
    error: str | None
    interrupts: list[InterruptOut]
    checkpoint: CheckpointOut | None = None
    state: None = None
    result: dict[str, Any] | None = None


class ThreadStateOut(BaseModel):
    """A run's state (``langgraph_sdk.schema.ThreadState``)."""

    values: dict[str, Any]
    next: list[str]
    checkpoint: CheckpointOut
    metadata: dict[str, Any]
    created_at: str | None
    parent_checkpoint: CheckpointOut | None
    tasks: list[TaskOut]
    interrupts: list[InterruptOut]


class ThreadOut(BaseModel):
    """An agent run as a thread (``langgraph_sdk.schema.Thread``)."""

    thread_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    values: dict[str, Any]
    interrupts: dict[str, list[InterruptOut]] = Field(
        description="Task id → the interrupts of that task the caller may answer."
    )


class ThreadSearch(Body):
    """``threads.search``'s body. ``select`` and ``extract`` are accepted and ignored (every
    field is returned)."""

    model_config = ConfigDict(extra="allow")
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = Field(default=None, max_length=1000)
    status: ThreadStatus | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)
    sort_by: str | None = None
    sort_order: Literal["asc", "desc"] | None = None


class CommandIn(BaseModel):
    """A LangGraph ``Command``: revfield runs take ``resume`` (the answer) only."""

    model_config = ConfigDict(extra="allow")
    resume: Any = None
    goto: Any = None
    update: Any = None


class RunCreate(Body):
    """``runs.create`` / ``runs.wait`` / ``runs.stream``'s body: ``command.resume`` carries
    the answer; the rest of what the SDK sends (``assistant_id``, ``stream_mode``…) is
    accepted and not needed."""

    model_config = ConfigDict(extra="allow")
    assistant_id: str | None = None
    command: CommandIn | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None


class RunOut(BaseModel):
    """What an answer did to the run (``langgraph_sdk.schema.Run``): ``success`` when the
    run went on to its end, ``interrupted`` when it still waits (another item, or the same
    one on a higher rung)."""

    run_id: str
    thread_id: str
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: RunStatus
    metadata: dict[str, Any]
    multitask_strategy: str = "reject"


class StateUpdate(Body):
    """``threads.update_state``'s body: revfield takes Agent Inbox's "ignore" only
    (``values: null``, ``as_node: "__end__"``)."""

    model_config = ConfigDict(extra="allow")
    values: Any = None
    as_node: str | None = None


class StateUpdated(BaseModel):
    """Where the thread's state stands after the update."""

    checkpoint: CheckpointOut


@dataclass
class _Thread:
    """A thread as the caller may see it."""

    id: str
    agent: str
    event_id: int
    account_id: str
    snapshot: Any
    mine: list[Any]
    """The interrupts the caller may answer (LangGraph ``Interrupt`` objects)."""

    @property
    def waiting(self) -> bool:
        return bool(self.snapshot.next)


def _missing(thread_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no thread `{thread_id}` that you may see")


def _load(svc: Service, actor: Actor, thread_id: str) -> _Thread:
    """The thread, if the caller may see its account (404 otherwise, as if absent)."""
    fld = svc.the_field()
    agent, _, event = thread_id.partition(":")
    if agent not in fld.graphs or not event.isdigit() or len(event) > 18:
        raise _missing(thread_id)
    config = {"configurable": {"thread_id": thread_id}}
    snapshot = fld.graphs[agent].get_state(config)
    if snapshot.created_at is None:  # no checkpoint: no such run
        raise _missing(thread_id)
    with svc.store.read() as session:
        account_id = load_event(session, int(event)).account_id
        owner, team = account_owner(session, account_id)
        if not sees_account(actor, owner, team):
            raise _missing(thread_id)
        mine = []
        for intr in snapshot.interrupts:
            about = intr.value.get("revfield") if isinstance(intr.value, dict) else None
            if not isinstance(about, dict):
                continue  # paused by an earlier revfield: answered by review id
            review = get_review(session, int(about["review_id"]))
            if review is not None and may_answer(actor, review.assignee_role, owner, team):
                mine.append(intr)
    return _Thread(thread_id, agent, int(event), account_id, snapshot, mine)


def _interrupt(intr: Any) -> InterruptOut:
    return InterruptOut(
        value=jsonable_encoder(intr.value),
        id=intr.id,
        response_schema=getattr(intr, "response_schema", None),
    )


def _checkpoint(config: Mapping[str, Any] | None) -> CheckpointOut | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    return CheckpointOut(
        thread_id=str(conf.get("thread_id", "")),
        checkpoint_ns=str(conf.get("checkpoint_ns", "")),
        checkpoint_id=conf.get("checkpoint_id"),
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _metadata(t: _Thread) -> dict[str, Any]:
    return {
        "graph_id": t.agent,
        "assistant_id": t.agent,
        "agent": t.agent,
        "account_id": t.account_id,
        "event_id": t.event_id,
        "review_ids": [i.value["revfield"]["review_id"] for i in t.mine],
    }


def _thread_out(t: _Thread, created_at: datetime | None = None) -> ThreadOut:
    ids = {i.id for i in t.mine}
    by_task: dict[str, list[InterruptOut]] = {}
    for task in t.snapshot.tasks:
        shown = [_interrupt(i) for i in task.interrupts if i.id in ids]
        if shown:
            by_task[task.id] = shown
    updated = _when(t.snapshot.created_at)
    assert updated is not None
    return ThreadOut(
        thread_id=t.id,
        created_at=created_at or updated,
        updated_at=updated,
        metadata=_metadata(t),
        status="interrupted" if t.mine else ("busy" if t.waiting else "idle"),
        values=jsonable_encoder(t.snapshot.values),
        interrupts=by_task,
    )


def _state_out(t: _Thread) -> ThreadStateOut:
    ids = {i.id for i in t.mine}
    tasks = []
    for task in t.snapshot.tasks:
        shown = [_interrupt(i) for i in task.interrupts if i.id in ids]
        if task.interrupts and not shown:
            continue  # its question is someone else's
        tasks.append(
            TaskOut(
                id=task.id,
                name=task.name,
                error=None if task.error is None else str(task.error),
                interrupts=shown,
            )
        )
    checkpoint = _checkpoint(t.snapshot.config)
    assert checkpoint is not None
    return ThreadStateOut(
        values=jsonable_encoder(t.snapshot.values),
        next=list(t.snapshot.next),
        checkpoint=checkpoint,
        metadata=jsonable_encoder(t.snapshot.metadata or {}),
        created_at=t.snapshot.created_at,
        parent_checkpoint=_checkpoint(t.snapshot.parent_config),
        tasks=tasks,
        interrupts=[_interrupt(i) for i in t.mine],
    )


def _contains(have: object, wanted: object, key: str = "") -> bool:
    """JSON containment, as LangGraph's ``metadata`` filter: every key wanted is there with
    a value containing the one wanted. ``graph_id``/``assistant_id`` ``revfield`` is any
    agent."""
    if key in ("graph_id", "assistant_id") and wanted == ALL_AGENTS:
        return True
    if isinstance(wanted, Mapping):
        return isinstance(have, Mapping) and all(
            k in have and _contains(have[k], v, str(k)) for k, v in wanted.items()
        )
    if isinstance(wanted, list) and isinstance(have, list):
        return all(any(_contains(h, w) for h in have) for w in wanted)
    return have == wanted


@router.post("/threads/search", response_model=list[ThreadOut], responses=error_responses(401, 422))
def search_threads(body: ThreadSearch, actor: CurrentActor, svc: ServiceDep) -> list[ThreadOut]:
    """The runs waiting on an item the caller may answer, oldest deadline first."""
    if body.status not in (None, "interrupted"):
        return []
    fld = svc.the_field()
    order: dict[str, datetime] = {}  # thread → when its first waiting action was proposed
    with svc.store.read() as session:
        for item in inbox(session, actor):
            action = get_action(session, item.action_id)
            agent, _, event = action.thread_id.partition(":")
            if agent in fld.graphs and event.isdigit():
                first = order.get(action.thread_id)
                order[action.thread_id] = min(first or action.created_at, action.created_at)
    found = list(order)
    if body.ids is not None:
        wanted = set(body.ids)
        found = [t for t in found if t in wanted]
    if body.sort_by == "thread_id":
        found.sort()
    if body.sort_order == "desc":
        found.reverse()
    out: list[ThreadOut] = []
    skip = body.offset
    for thread_id in found:
        t = _load(svc, actor, thread_id)
        if not t.mine:
            continue  # answered since the inbox was read
        if body.metadata and not _contains(_metadata(t), body.metadata):
            continue
        thread = _thread_out(t, order[thread_id])
        if body.values and not _contains(thread.values, body.values):
            continue
        if skip:
            skip -= 1
            continue
        out.append(thread)
        if len(out) == body.limit:
            break
    return out


@router.get("/threads/{thread_id}", response_model=ThreadOut, responses=error_responses(401, 404))
def get_thread(thread_id: ThreadId, actor: CurrentActor, svc: ServiceDep) -> ThreadOut:
    """One run as a thread, with the interrupts the caller may answer."""
    return _thread_out(_load(svc, actor, thread_id))


@router.get(
    "/threads/{thread_id}/state",
    response_model=ThreadStateOut,
    responses=error_responses(401, 404, 422),
)
def get_thread_state(
    thread_id: ThreadId,
    actor: CurrentActor,
    svc: ServiceDep,
    subgraphs: Annotated[bool, Query(description="Accepted; revfield runs have none.")] = False,
) -> ThreadStateOut:
    """The run's values, what it runs next, its tasks and the interrupts the caller may
    answer (each with its id, its value describing the item, and the answer's schema)."""
    return _state_out(_load(svc, actor, thread_id))


def _hitl(answer: object) -> object:
    """Agent Inbox's answers to a LangChain-style interrupt: ``{"decisions": [HumanResponse
    with type mapped]}`` — an edit's ``args`` is ``{action, args}``, a rejection's ``args``
    its text — in LangChain's own decision form (``edited_action``, ``message``)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("decisions"), list):
        return answer
    decisions = []
    for d in answer["decisions"]:
        if isinstance(d, Mapping) and "args" in d:
            args = d["args"]
            if d.get("type") == "edit" and "edited_action" not in d and isinstance(args, Mapping):
                name = args.get("action", args.get("name"))
                d = {**d, "edited_action": {"name": name, "args": args.get("args")}}
            elif d.get("type") in ("reject", "respond") and "message" not in d:
                d = {**d, "message": args if isinstance(args, str) else ""}
        decisions.append(d)
    return {**answer, "decisions": decisions}


def _answers(t: _Thread, resume: object) -> list[tuple[str, object]]:
    """Which interrupt each answer is for: a mapping of interrupt ids to answers, or one
    answer for the one interrupt the caller may answer."""
    mine = [i.id for i in t.mine]
    if (
        isinstance(resume, Mapping)
        and resume
        and all(isinstance(k, str) and _INTERRUPT_ID.fullmatch(k) for k in resume)
    ):
        pairs = list(resume.items())
    elif len(mine) == 1:
        pairs = [(mine[0], resume)]
    elif not mine:
        raise ApiError(
            409,
            "conflict",
            f"thread `{t.id}` waits on no item you may answer (answered since, or moved to "
            "another rung); read its state again",
        )
    else:
        raise ApiError(
            422,
            "invalid_request",
            f"thread `{t.id}` waits on {len(mine)} items you may answer (interrupts "
            f"{', '.join(mine)}); answer each by its id: "
            '{"command": {"resume": {"<interrupt id>": <answer>}}}',
        )
    asked = {i.id: i.value for i in t.mine}
    for iid, answer in pairs:
        if iid not in asked:
            raise ApiError(
                409,
                "conflict",
                f"thread `{t.id}` has no waiting interrupt {iid} that you may answer (answered, "
                "or replaced by a newer question); read its state again and answer its "
                "newest interrupt",
            )
        value = asked[iid]
        try:  # a malformed answer is refused here, before the run records a refusal
            parse_answer(
                _hitl(answer), value["action_request"]["action"], value["action_request"]["args"]
            )
        except AnswerFormError as exc:
            raise ApiError(422, "invalid_answer", f"the answer was refused: {exc}") from None
    return pairs


def _resume(svc: Service, actor: Actor, thread_id: str, body: RunCreate) -> tuple[_Thread, RunOut]:
    command = body.command
    if command is None or "resume" not in command.model_fields_set:
        raise ApiError(
            422,
            "invalid_request",
            "a revfield run only takes an answer: send "
            '{"command": {"resume": <answer>}} (revfield\'s, LangChain\'s or Agent Inbox\'s '
            "form; see the interrupt's response_schema)",
        )
    if body.input is not None or command.goto is not None or command.update is not None:
        raise ApiError(
            422,
            "invalid_request",
            "revfield runs are started by the field, not by a client: send only "
            "command.resume (no input, goto or update)",
        )
    t = _load(svc, actor, thread_id)
    pairs = _answers(t, command.resume)
    fld = svc.the_field()
    created = svc.clock.now()
    with svc.runs:
        for iid, answer in pairs:
            try:
                fld.answer_interrupt(thread_id, iid, _hitl(answer), actor=actor)
            except AnswerFormError as exc:
                svc.metrics.answers.labels("agent_protocol", "refused").inc()
                raise ApiError(422, "invalid_answer", f"the answer was refused: {exc}") from None
            except ReviewError as exc:
                svc.metrics.answers.labels("agent_protocol", "refused").inc()
                raise ApiError(409, "conflict", f"the answer was refused: {exc}") from None
            svc.metrics.answers.labels("agent_protocol", "taken").inc()
        svc.deliver()
    after = _load(svc, actor, thread_id)
    run = RunOut(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        assistant_id=t.agent,
        created_at=created,
        updated_at=svc.clock.now(),
        status="interrupted" if after.waiting else "success",
        metadata=dict(body.metadata or {}),
    )
    return after, run


_RUNS = error_responses(401, 404, 409, 422)


@router.post("/threads/{thread_id}/runs", response_model=RunOut, responses=_RUNS)
def create_run(
    thread_id: ThreadId, body: RunCreate, actor: CurrentActor, svc: ServiceDep
) -> RunOut:
    """Answer the run's interrupt (``command.resume``); the run goes on at once."""
    return _resume(svc, actor, thread_id, body)[1]


def _final(t: _Thread) -> dict[str, Any]:
    values: dict[str, Any] = jsonable_encoder(t.snapshot.values)
    if t.mine:
        values["__interrupt__"] = [_interrupt(i).model_dump() for i in t.mine]
    return values


@router.post("/threads/{thread_id}/runs/wait", response_model=dict[str, Any], responses=_RUNS)
def wait_run(
    thread_id: ThreadId, body: RunCreate, actor: CurrentActor, svc: ServiceDep
) -> dict[str, Any]:
    """Answer the run's interrupt and return its state values afterwards (with
    ``__interrupt__`` when it still waits on an item the caller may answer)."""
    return _final(_resume(svc, actor, thread_id, body)[0])


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


@router.post(
    "/threads/{thread_id}/runs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_RUNS},
)
def stream_run(
    thread_id: ThreadId, body: RunCreate, actor: CurrentActor, svc: ServiceDep
) -> StreamingResponse:
    """Answer the run's interrupt and stream the outcome as server-sent events: the run's
    ``metadata``, then its ``values`` afterwards."""
    after, run = _resume(svc, actor, thread_id, body)

    def events() -> Iterator[str]:
        yield _sse("metadata", {"run_id": run.run_id, "attempt": 1})
        yield _sse("values", _final(after))

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/threads/{thread_id}/state", response_model=StateUpdated, responses=_RUNS)
def update_state(
    thread_id: ThreadId, body: StateUpdate, actor: CurrentActor, svc: ServiceDep
) -> StateUpdated:
    """Agent Inbox's "ignore" (``as_node: "__end__"``, no values): every item of the run the
    caller may answer is rejected with the reason "ignored in Agent Inbox". A revfield run's
    state changes only through answers; any other update is refused."""
    if body.as_node != "__end__" or body.values is not None:
        raise ApiError(
            422,
            "invalid_request",
            "a revfield run's state changes only through answers: resume its interrupt "
            "(POST /threads/{id}/runs with command.resume), or ignore the thread "
            '({"values": null, "as_node": "__end__"}), which rejects its items',
        )
    t = _load(svc, actor, thread_id)
    ignore: Sequence[dict[str, Any]] = [{"type": "ignore", "args": None}]
    resume = {i.id: ignore for i in t.mine}
    if resume:
        t, _ = _resume(svc, actor, thread_id, RunCreate(command=CommandIn(resume=resume)))
    checkpoint = _checkpoint(t.snapshot.config)
    assert checkpoint is not None
    return StateUpdated(checkpoint=checkpoint)
