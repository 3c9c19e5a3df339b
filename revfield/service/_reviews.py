"""The inbox and answers: ``GET /inbox``, ``POST /reviews/{id}/approve|reject|edit``, and
``POST /actions`` (an action proposed outside revfield, governed like an agent's).

Every answer carries the digest of the action its person saw (``expected_digest``): an item
whose action changed since, or that was answered already, is refused (409) and nothing
changes. An item outside the caller's scope answers 404, exactly like one that does not
exist. An answer that releases an action resumes its agent run and the outbox carries it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from revfield.domain import ProposalError, ProposedAction
from revfield.memory import (
    AccountNotFoundError,
    account_owner,
    find_account_id,
    get_action,
    get_review,
)
from revfield.outbox import OutboxReport
from revfield.review import Actor, AnswerResult, ReviewError, inbox_page, may_answer
from revfield.service._auth import CurrentActor, sees_account
from revfield.service._errors import ApiError, error_responses
from revfield.service._state import Service, service
from revfield.service._storable import Body

__all__ = ["answer_item", "item_action", "router"]

router = APIRouter(tags=["reviews"])

ServiceDep = Annotated[Service, Depends(service)]
ReviewId = Annotated[int, Path(ge=1, le=2**62, description="The review item's id.")]
Scalar = StrictBool | StrictInt | StrictFloat | str | None
RowId = Annotated[StrictInt, Field(ge=1, le=2**62)]


class InboxEntry(BaseModel):
    """One review item waiting for the caller: what the action would do, on which account,
    who it waits for by when, and why."""

    review_id: int
    action_id: int
    account_id: str
    account_name: str
    owner_id: str | None
    kind: str
    motion: str
    summary: str = Field(description="The action in a few words (its subject or title).")
    verdict: str = Field(description="`review` or `escalate`.")
    rung: str = Field(description="Who it waits for: `owner`, `manager` or `revops`.")
    assignee_id: str | None
    reason: str = Field(description="Why it waits: the rule that decided, and what to know.")
    deadline_at: datetime
    overdue: bool
    digest: str = Field(description="The action shown; send it back as `expected_digest`.")
    proposal: dict[str, Any] = Field(description="The whole proposed action.")


class Inbox(BaseModel):
    """A page of the caller's inbox, oldest deadline first."""

    items: list[InboxEntry]
    total: int = Field(
        description="Items waiting for the caller, on every page: exact up to 1,000 and on "
        "the last page; past 1,000, at least this many (`total_capped`)."
    )
    total_capped: bool = Field(
        False, description="At least `total` items wait: the count stops at 1,000."
    )
    has_more: bool = Field(False, description="Another page follows (ask with `offset`).")
    limit: int
    offset: int


class Answer(Body):
    """An approval: the digest of the action the caller saw."""

    model_config = ConfigDict(extra="forbid")
    expected_digest: str = Field(
        min_length=1, max_length=200, description="The `digest` the inbox showed."
    )


class Rejection(Answer):
    """A rejection, with the reason (kept in the audit trail)."""

    reason: str = Field(min_length=1, max_length=4000, pattern=r"\S")


class Edit(Answer):
    """An approval with changes, typed by the action kind's declaration (`discount_pct`,
    `subject`, a declared kind's editable fields); the edited action is decided again."""

    edits: dict[str, Scalar] = Field(min_length=1, description="Field → new value.")


class OutboxCount(BaseModel):
    """What the outbox carried out right after the answer."""

    executed: int
    failed: int
    cancelled: int


class AnswerOut(BaseModel):
    """What an answer did: ``approved``, ``rejected``, ``blocked`` (the edit is blocked by
    the policy), or ``re-escalated`` (the edit needs a higher rung: a new item waits)."""

    outcome: Literal["approved", "rejected", "re-escalated", "blocked"]
    review_id: int
    action_id: int
    thread_id: str
    message: str
    new_review_id: int | None
    cancelled: list[int] = Field(description="Actions that waited for this one, cancelled.")
    outbox: OutboxCount


class Submission(Body):
    """An action proposed outside revfield, as ``revfield submit`` takes it: its fields
    (``kind``, ``discount_pct``, ``subject``…; a declared kind's under ``payload``) plus the
    account, and optionally the contact, the cited facts and an idempotency key."""

    model_config = ConfigDict(extra="allow")
    kind: str = Field(min_length=1, max_length=100)
    account: str = Field(min_length=1, max_length=320, description="Id, domain or name.")
    contact: RowId | Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="Contact id or email."
    )
    cites: list[RowId] = Field(default_factory=list, max_length=1000, description="Fact ids.")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class SubmitOut(BaseModel):
    """What became of a submitted action: queued (the outbox carries it out), waiting for a
    person (review id, rung, deadline), or blocked and why."""

    action_id: int
    event_id: int
    kind: str
    status: str
    verdict: str
    rules: list[str]
    explanation: str
    policy_version: str
    review_id: int | None
    rung: str | None
    assignee_id: str | None
    deadline: datetime | None
    new: bool = Field(description="False: the idempotency key named an earlier submission.")
    message: str
    outbox: OutboxCount


def _not_found(review_id: int) -> ApiError:
    return ApiError(404, "not_found", f"no review item #{review_id} waits for you; see GET /inbox")


def _counted(report: OutboxReport) -> OutboxCount:
    return OutboxCount(executed=report.sent, failed=report.failed, cancelled=len(report.cancelled))


@router.get("/inbox", response_model=Inbox, responses=error_responses(401, 422))
def get_inbox(
    actor: CurrentActor,
    svc: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Inbox:
    """The items waiting for the caller, oldest deadline first: a seller's own accounts'
    items, a manager's team's, everything for RevOps."""
    now = svc.clock.now()
    with svc.store.read() as session:
        found = inbox_page(session, actor, limit=limit, offset=offset)
    page = [
        InboxEntry(
            review_id=i.review_id,
            action_id=i.action_id,
            account_id=i.account_id,
            account_name=i.account_name,
            owner_id=i.owner_id,
            kind=i.kind,
            motion=i.motion,
            summary=i.summary,
            verdict=i.verdict,
            rung=i.assignee_role,
            assignee_id=i.assignee_id,
            reason=i.reason,
            deadline_at=i.deadline_at,
            overdue=i.deadline_at < now,
            digest=i.digest,
            proposal=i.proposal,
        )
        for i in found.items
    ]
    return Inbox(
        items=page,
        total=found.total,
        total_capped=found.capped,
        has_more=found.more,
        limit=limit,
        offset=offset,
    )


def item_action(svc: Service, actor: Actor, review_id: int) -> ProposedAction:
    """The item's action, if the caller may answer the item (404 otherwise, as if absent)."""
    with svc.store.read() as session:
        review = get_review(session, review_id)
        if review is None:
            raise _not_found(review_id)
        owner, team = account_owner(session, review.account_id)
        if not may_answer(actor, review.assignee_role, owner, team):
            raise _not_found(review_id)
        return ProposedAction.model_validate(get_action(session, review.action_id).proposal)


def answer_item(
    svc: Service,
    actor: Actor,
    review_id: int,
    digest: str,
    *,
    approve: bool,
    edits: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AnswerOut:
    """Answer item ``review_id`` as ``actor`` (the REST endpoints and the web inbox): a 404
    outside the caller's scope, a 422 for an edit the kind's declaration refuses, a 409 for a
    stale digest or an item answered already; else the run resumes and the outbox delivers."""
    action = item_action(svc, actor, review_id)
    if edits:
        try:  # typed by the kind's declaration before anything is recorded
            svc.pack().catalog.edit(action, edits)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ApiError(422, "invalid_edit", f"edit `{where}`: {err['msg']}") from None
        except (ProposalError, ValueError) as exc:
            raise ApiError(422, "invalid_edit", f"edit: {exc}") from None
    fld = svc.the_field()
    with svc.runs:
        try:
            result: AnswerResult = fld.answer(
                review_id,
                approve=approve,
                actor=actor,
                edits=edits,
                note=reason,
                expected_digest=digest,
            )
        except ReviewError as exc:
            svc.metrics.answers.labels("rest", "refused").inc()
            raise ApiError(409, "conflict", str(exc)) from None
        delivered = svc.deliver()
    svc.metrics.answers.labels("rest", result.outcome).inc()
    return AnswerOut(
        outcome=result.outcome,
        review_id=result.review_id,
        action_id=result.action_id,
        thread_id=result.thread_id,
        message=result.message,
        new_review_id=result.new_review_id,
        cancelled=list(result.cancelled),
        outbox=_counted(delivered),
    )


_ANSWERS = error_responses(401, 404, 409, 422)


@router.post("/reviews/{review_id}/approve", response_model=AnswerOut, responses=_ANSWERS)
def approve(review_id: ReviewId, body: Answer, actor: CurrentActor, svc: ServiceDep) -> AnswerOut:
    """Approve the action as shown; its agent run resumes and the outbox carries it out."""
    return answer_item(svc, actor, review_id, body.expected_digest, approve=True)


@router.post("/reviews/{review_id}/reject", response_model=AnswerOut, responses=_ANSWERS)
def reject(review_id: ReviewId, body: Rejection, actor: CurrentActor, svc: ServiceDep) -> AnswerOut:
    """Reject the action, with the reason; it is never carried out, and what waits for it
    is cancelled."""
    return answer_item(
        svc, actor, review_id, body.expected_digest, approve=False, reason=body.reason.strip()
    )


@router.post("/reviews/{review_id}/edit", response_model=AnswerOut, responses=_ANSWERS)
def edit(review_id: ReviewId, body: Edit, actor: CurrentActor, svc: ServiceDep) -> AnswerOut:
    """Approve with changes. The edited action is decided again: an edit that needs a higher
    rung re-escalates the item (a new item waits there), one the policy blocks blocks it."""
    return answer_item(svc, actor, review_id, body.expected_digest, approve=True, edits=body.edits)


@router.post("/actions", response_model=SubmitOut, responses=error_responses(401, 404, 422))
def submit(body: Submission, actor: CurrentActor, svc: ServiceDep) -> SubmitOut:
    """Put one action through the field, as ``revfield submit`` does: the policy decides, a
    person reviews it when the pack says so, the outbox carries it out. The same idempotency
    key (default: the action itself) is the same action. The account must be one the caller
    may see."""
    with svc.store.read() as session:
        try:
            account_id = find_account_id(session, body.account)
        except AccountNotFoundError:
            account_id = None
        owner, team = account_owner(session, account_id) if account_id else (None, None)
    if account_id is None or not sees_account(actor, owner, team):
        raise ApiError(404, "not_found", f"no account `{body.account}` that you may see")
    action = {"kind": body.kind, **(body.model_extra or {})}
    fld = svc.the_field()
    with svc.runs:
        try:
            result = fld.submit(
                action,
                account=account_id,
                contact=body.contact,
                cites=list(body.cites),
                idempotency_key=body.idempotency_key,
                source=f"api:{actor.id}",
            )
        except (ProposalError, ReviewError) as exc:
            raise ApiError(422, "invalid_action", f"the action was refused: {exc}") from None
        delivered = svc.deliver()
    svc.metrics.submissions.labels(result.verdict).inc()
    return SubmitOut(
        action_id=result.action_id,
        event_id=result.event_id,
        kind=result.kind,
        status=result.status,
        verdict=result.verdict,
        rules=list(result.rules),
        explanation=result.explanation,
        policy_version=result.policy_version,
        review_id=result.review_id,
        rung=result.rung,
        assignee_id=result.assignee_id,
        deadline=result.deadline,
        new=result.new,
        message=result.message,
        outbox=_counted(delivered),
    )
