"""One typed interrupt per review item: what it shows any LangGraph client, and the answers it
takes.

The interrupt's value is one mapping that reads as three conventions at once:

- **LangChain's** ``HumanInTheLoopMiddleware`` request: ``action_requests`` (name, args,
  description) and ``review_configs`` (allowed decisions, the editable args' schema);
- **Agent Inbox's** ``HumanInterrupt``: ``action_request`` (action, args), ``config``
  (allow_accept / allow_edit / allow_respond / allow_ignore) and ``description``;
- **revfield's** own fields under ``revfield``: review id, action id, action digest, policy
  version, decision id, rung, deadline, the matched rules and cited facts.

Answers are accepted in revfield's form (``{"decision": "approve" | "edit" | "reject", …}``),
in LangChain's decision form (``{"decisions": [{"type": "approve"}]}`` or one decision), and in
Agent Inbox's ``HumanResponse`` list form (``[{"type": "accept", "args": None}]``). Whatever the
form, the answer goes through the same digest check and re-decision as a seller's answer at the
command line (:func:`~revfield.review.answer_review`); anything else is refused with an error
naming what is wrong, and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from revfield.domain import ActionCatalog, ProposedAction
from revfield.memory import (
    DecisionShown,
    Session,
    StoredAction,
    StoredReview,
    cited_facts,
    decision_shown,
    get_action,
)
from revfield.review._access import ReviewError

__all__ = [
    "RECORDED",
    "RESPONSE_SCHEMA",
    "AnswerFormError",
    "HumanAnswer",
    "describe",
    "describe_item",
    "is_recorded",
    "parse_answer",
]

RECORDED = {"revfield": "recorded"}
"""The resume value revfield itself sends once an answer is in memory (given at the command
line, climbed the ladder, cancelled): "look again", never an answer by itself."""

RESPONSE_SCHEMA: dict[str, Any] = {
    "title": "An answer to a revfield review item",
    "description": (
        "revfield's form, LangChain's decision form, or Agent Inbox's HumanResponse list. "
        "Editing fields not listed as editable, or an action of another kind, is refused."
    ),
    "oneOf": [
        {
            "title": "revfield",
            "type": "object",
            "properties": {
                "decision": {"enum": ["approve", "edit", "reject"]},
                "edits": {"type": "object"},
                "reason": {"type": "string"},
                "digest": {"type": "string", "description": "the action digest you saw"},
                "user": {
                    "type": "string",
                    "description": "who answers, when the run's config does not say "
                    "(revfield_user, or the LangGraph server's authenticated user)",
                },
            },
            "required": ["decision"],
        },
        {
            "title": "LangChain decisions",
            "type": "object",
            "properties": {
                "decisions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"enum": ["approve", "edit", "reject", "respond"]},
                            "edited_action": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}, "args": {}},
                            },
                            "message": {"type": "string"},
                        },
                        "required": ["type"],
                    },
                }
            },
            "required": ["decisions"],
        },
        {
            "title": "Agent Inbox HumanResponse",
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["accept", "edit", "response", "ignore"]},
                    "args": {},
                },
                "required": ["type"],
            },
        },
    ],
}
"""The JSON Schema of an answer, surfaced with each interrupt (``response_schema``)."""


class AnswerFormError(ReviewError):
    """An answer in no form revfield takes (or contradicting itself); nothing was saved."""


@dataclass(frozen=True)
class HumanAnswer:
    """An answer in any accepted form, as revfield takes it."""

    approve: bool
    edits: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    digest: str | None = None
    user: str | None = None
    form: str = "revfield"
    """``revfield``, ``langchain`` or ``agent-inbox``."""


def is_recorded(value: object) -> bool:
    """Whether ``value`` is revfield's own "the answer is in memory already" resume value."""
    return isinstance(value, Mapping) and value.get("revfield") == "recorded"


def _args_edits(kind: str, shown: Mapping[str, Any], edited: object, where: str) -> dict[str, Any]:
    """The fields an edited action changes against what was shown."""
    if not isinstance(edited, Mapping):
        raise AnswerFormError(f"{where}: expected {{'name'/'action': …, 'args': {{…}}}}")
    name = edited.get("name", edited.get("action"))
    if name is not None and name != kind:
        raise AnswerFormError(
            f"{where}: the edit turns this {kind} into `{name}`; an edit may change fields, "
            "not the kind of action"
        )
    args = edited.get("args")
    if not isinstance(args, Mapping):
        raise AnswerFormError(f"{where}: `args` must be a mapping of fields to values")
    return {k: v for k, v in args.items() if k not in shown or shown[k] != v}


def parse_answer(value: object, kind: str, shown: Mapping[str, Any]) -> HumanAnswer:
    """An answer in revfield's, LangChain's or Agent Inbox's form, for an action of ``kind``
    whose editable fields were shown as ``shown``. Raises :class:`AnswerFormError`."""
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], Mapping):
            raise AnswerFormError(
                f"an Agent Inbox answer is a list of one HumanResponse; got {len(value)} items"
            )
        return _agent_inbox(value[0], kind, shown)
    if not isinstance(value, Mapping):
        raise AnswerFormError(
            f"an answer is a mapping or a list of one HumanResponse, not {type(value).__name__}"
        )
    user = value.get("user")
    if user is not None and not isinstance(user, str):
        raise AnswerFormError("`user` must be a user id")
    if "decision" in value:
        return _revfield(value, user)
    if "decisions" in value:
        decisions = value["decisions"]
        if not isinstance(decisions, list) or len(decisions) != 1:
            raise AnswerFormError(
                "`decisions` must hold exactly one decision: each review item is its own interrupt"
            )
        return _langchain(decisions[0], kind, shown, user)
    if "type" in value:
        if value["type"] in ("accept", "ignore", "response"):
            return _agent_inbox(value, kind, shown)
        return _langchain(value, kind, shown, user)
    raise AnswerFormError(
        "unrecognised answer: expected {'decision': 'approve'|'edit'|'reject'}, "
        "{'decisions': [{'type': 'approve'|'edit'|'reject'|'respond'}]} or "
        "[{'type': 'accept'|'edit'|'response'|'ignore', 'args': …}]"
    )


def _reason(text: object, where: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise AnswerFormError(f"{where}: a rejection needs a reason")
    return text.strip()


def _revfield(value: Mapping[str, Any], user: str | None) -> HumanAnswer:
    decision = value["decision"]
    digest = value.get("digest")
    if digest is not None and not isinstance(digest, str):
        raise AnswerFormError("`digest` must be the action digest you saw (a string)")
    if decision == "approve":
        return HumanAnswer(True, digest=digest, user=user)
    if decision == "edit":
        edits = value.get("edits")
        if not isinstance(edits, Mapping) or not edits:
            raise AnswerFormError("an edit needs `edits`: the fields you change and their values")
        return HumanAnswer(True, dict(edits), digest=digest, user=user)
    if decision == "reject":
        return HumanAnswer(
            False, reason=_reason(value.get("reason"), "reject"), digest=digest, user=user
        )
    raise AnswerFormError(f"`decision` is `{decision}`; one of approve, edit, reject")


def _langchain(d: object, kind: str, shown: Mapping[str, Any], user: str | None) -> HumanAnswer:
    if not isinstance(d, Mapping):
        raise AnswerFormError("a decision is a mapping with a `type`")
    t = d.get("type")
    if t == "approve":
        return HumanAnswer(True, user=user, form="langchain")
    if t == "edit":
        edits = _args_edits(kind, shown, d.get("edited_action"), "edit.edited_action")
        if not edits:
            return HumanAnswer(True, user=user, form="langchain")  # edited nothing: approved
        return HumanAnswer(True, edits, user=user, form="langchain")
    if t in ("reject", "respond"):
        message = d.get("message")
        reason = message.strip() if isinstance(message, str) and message.strip() else ""
        return HumanAnswer(
            False, reason=reason or "rejected without a reason", user=user, form="langchain"
        )
    raise AnswerFormError(f"decision type `{t}`; one of approve, edit, reject, respond")


def _agent_inbox(r: Mapping[str, Any], kind: str, shown: Mapping[str, Any]) -> HumanAnswer:
    t = r.get("type")
    if t == "accept":
        return HumanAnswer(True, form="agent-inbox")
    if t == "edit":
        edits = _args_edits(kind, shown, r.get("args"), "edit.args")
        return HumanAnswer(True, edits, form="agent-inbox")
    if t == "response":
        return HumanAnswer(False, reason=_reason(r.get("args"), "response"), form="agent-inbox")
    if t == "ignore":
        return HumanAnswer(False, reason="ignored in Agent Inbox", form="agent-inbox")
    raise AnswerFormError(f"HumanResponse type `{t}`; one of accept, edit, response, ignore")


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def describe_item(
    session: Session,
    review: StoredReview,
    catalog: ActionCatalog,
    *,
    thread_id: str,
    error: str | None = None,
) -> dict[str, Any]:
    """The interrupt value for one review item (see the module's docstring)."""
    action = get_action(session, review.action_id)
    cited = [int(i) for i in action.proposal.get("cited_fact_ids") or ()]
    return describe(
        review,
        action,
        decision_shown(session, review.decision_id),
        cited_facts(session, cited),
        catalog,
        thread_id=thread_id,
        error=error,
    )


def describe(
    review: StoredReview,
    action: StoredAction,
    decision: DecisionShown,
    facts: list[tuple[int, str, str]],
    catalog: ActionCatalog,
    *,
    thread_id: str,
    error: str | None = None,
) -> dict[str, Any]:
    """:func:`describe_item` from what it reads: the item's action, its decision and the
    facts the action cites (``(id, type, value)``, in the order cited)."""
    proposal = ProposedAction.model_validate(action.proposal)
    editable = catalog.editable(proposal.kind)
    spec = catalog.spec(proposal.kind)
    args = {
        name: _jsonable(
            proposal.payload.get(name) if spec and name in spec.fields else getattr(proposal, name)
        )
        for name in editable
    }
    deadline = review.deadline_at.isoformat()
    lines = [
        f"**{proposal.kind.replace('_', ' ')}** on {proposal.account_id}"
        + (f": {proposal.subject}" if proposal.subject else ""),
        f"Why it waits: {review.reason}",
        f"Rules: {', '.join(decision.matched_rules) or 'the pack default'} "
        f"({decision.verdict}, policy {decision.policy_version})",
        f"Who answers: the {review.assignee_role}, by {deadline}",
    ]
    if proposal.body:
        lines.append(f"\n{proposal.body}")
    if facts:
        lines.append("\nCited facts:\n" + "\n".join(f"- #{i} {t}: {v}" for i, t, v in facts))
    if error:
        lines.insert(0, f"Your last answer was refused: {error}")
    description = "\n".join(lines)
    properties: dict[str, Any] = {}
    for name in editable:
        declared = spec.fields.get(name) if spec else None
        if declared is not None:
            kind = {"string": "string", "int": "integer", "double": "number", "bool": "boolean"}
            prop: dict[str, Any] = {"type": kind[declared.type]}
            if declared.min is not None:
                prop["minimum" if declared.type != "string" else "minLength"] = declared.min
            if declared.max is not None:
                prop["maximum" if declared.type != "string" else "maxLength"] = declared.max
            if declared.values:
                prop["enum"] = list(declared.values)
        elif name in ("discount_pct",):
            prop = {"type": "number", "minimum": 0, "maximum": 100}
        elif name == "amount":
            prop = {"type": "number", "minimum": 0}
        else:
            prop = {"type": "string"}
        properties[name] = prop
    args_schema = {"type": "object", "properties": properties, "additionalProperties": False}
    return {
        "action_requests": [{"name": proposal.kind, "args": args, "description": description}],
        "review_configs": [
            {
                "action_name": proposal.kind,
                "allowed_decisions": ["approve", "edit", "reject"],
                "args_schema": args_schema,
            }
        ],
        "action_request": {"action": proposal.kind, "args": args},
        "config": {
            "allow_accept": True,
            "allow_edit": True,
            "allow_respond": True,
            "allow_ignore": True,
        },
        "description": description,
        "revfield": {
            "review_id": review.id,
            "action_id": review.action_id,
            "account_id": review.account_id,
            "thread_id": thread_id,
            "action_digest": review.action_digest,
            "decision_id": decision.id,
            "verdict": decision.verdict,
            "policy_version": decision.policy_version,
            "matched_rules": decision.matched_rules,
            "guardrails": [g.get("id", g) for g in decision.guardrails],
            "rung": review.assignee_role,
            "assignee_id": review.assignee_id,
            "deadline": deadline,
            "reason": review.reason,
            "cited_facts": [{"id": i, "type": t, "value": v} for i, t, v in facts],
            "cited_signal_ids": list(proposal.cited_signal_ids),
            "editable": list(editable),
            "error": error,
        },
    }
