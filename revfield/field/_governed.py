"""revfield inside any LangGraph graph: a tool whose every call goes through revfield's policy.

:func:`governed` wraps a LangChain tool. When the graph's model calls it, the call becomes a
proposed action (its kind, its account, its arguments) and takes the path an agent's
proposal takes — the pack's rules, the guardrails, the review ladder, the audit trail:

- ``auto``: the tool runs, once; the outbox records it (executor ``caller``) with its result;
- ``block``: the tool does not run; the model is told why;
- ``review`` / ``escalate``: the graph pauses with one typed interrupt for the review item,
  which any LangGraph client answers (revfield's form, LangChain's decisions, Agent Inbox's
  ``HumanResponse``); an approved edit is decided again, and the tool runs with the edited
  arguments; a rejection is told to the model with its reason.

The call's identity is its thread and tool-call id: when LangGraph runs the tool node again
(after a resume, or a crash), the call finds its action and its decision instead of deciding
again, and a tool that already ran returns its recorded result instead of running twice.

Arguments named like the action's own fields (``discount_pct``, ``amount``, ``subject``,
``body``, ``channel``, ``to_stage``, ``deal_id``) become those fields; every other argument
is the action's payload (declare a custom kind's payload in the pack's ``actions:``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Annotated, Any

from langchain_core.tools import BaseTool, InjectedToolCallId
from langgraph.config import get_config
from pydantic import BaseModel, create_model

from revfield.clock import Clock
from revfield.domain import ActionStatus, ProposalError, ProposedAction
from revfield.field._steps import finish_run, record_proposals
from revfield.field._submit import prepare_submission
from revfield.field._waiting import await_review
from revfield.memory import (
    CALLER,
    Claimed,
    Store,
    add_field_event_once,
    claim_own,
    finish_delivery,
    get_action,
    latest_decision,
    reviews_of,
)
from revfield.policies import CompiledPack

__all__ = ["GOVERNED_AGENT", "governed"]

GOVERNED_AGENT = "langgraph"
"""The agent name governed tool calls are recorded under."""
TOP_LEVEL = ("discount_pct", "amount", "subject", "body", "channel", "to_stage", "deal_id")


def _argument(how: str | Callable[[Mapping[str, Any]], Any] | None, args: Mapping[str, Any]) -> Any:
    if how is None:
        return None
    return how(args) if callable(how) else args.get(how)


class _Governor:
    """What a governed tool needs of revfield: the memory, the pack in force and the clock."""

    def __init__(
        self,
        tool: BaseTool,
        store: Store,
        pack: Callable[[], CompiledPack],
        clock: Clock,
        *,
        kind: str,
        account: str | Callable[[Mapping[str, Any]], str],
        contact: str | Callable[[Mapping[str, Any]], Any] | None,
        keep: tuple[str, ...],
    ) -> None:
        self.tool, self.store, self.pack, self.clock = tool, store, pack, clock
        self.kind, self.account, self.contact, self.keep = kind, account, contact, keep

    def _action(self, args: Mapping[str, Any]) -> dict[str, Any]:
        own = {k: v for k, v in args.items() if k not in self.keep}
        action: dict[str, Any] = {"kind": self.kind, "channel": "tool"}
        action.update({k: v for k, v in own.items() if k in TOP_LEVEL})
        payload = {k: v for k, v in own.items() if k not in TOP_LEVEL}
        if payload:
            action["payload"] = payload
        action.setdefault("subject", f"{self.tool.name}({_shown(own)})"[:200])
        return action

    def _args(self, proposal: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
        """The tool's arguments from the action as approved (a person may have edited it)."""
        out = dict(given)
        for name in given:
            if name in TOP_LEVEL and name in proposal:
                out[name] = proposal[name]
            elif name in (proposal.get("payload") or {}):
                out[name] = proposal["payload"][name]
        return out

    def call(self, args: dict[str, Any], call_id: str) -> str:
        conf = get_config().get("configurable", {})
        thread = str(conf.get("thread_id", ""))
        key = "tool:" + hashlib.sha256(f"{thread}|{call_id}".encode()).hexdigest()[:32]
        pack, now = self.pack(), self.clock.now()
        try:
            with self.store.session() as session:
                event = prepare_submission(
                    session,
                    pack,
                    self._action(args),
                    account=str(_argument(self.account, args)),
                    contact=_argument(self.contact, args),
                    cites=[],
                    idempotency_key=key,
                    source=f"langgraph:{self.tool.name}",
                    now=now,
                )
                event = replace(event, agent=GOVERNED_AGENT)
                event_id, _ = add_field_event_once(session, event)
                (recorded,) = record_proposals(
                    session,
                    pack,
                    event_id=event_id,
                    agent=GOVERNED_AGENT,
                    thread_id=thread[:120] or key,
                    proposals=[ProposedAction.model_validate(event.data["action"])],
                    executor=CALLER,
                    now=now,
                )
        except (ProposalError, LookupError) as exc:
            return f"not done: revfield refused the call: {exc}"
        action_id = int(recorded["id"])
        status = ActionStatus(recorded["status"])
        if status is ActionStatus.PENDING_REVIEW:
            outcome = await_review(self.store, self.pack, self.clock, action_id)
            with self.store.session() as session:
                finish_run(
                    session,
                    event_id=event_id,
                    answers={str(action_id): outcome},
                    executor=CALLER,
                    now=self.clock.now(),
                )
            if outcome != "approved":
                return f"not done: {self._why_not(action_id, outcome)}"
        elif status is not ActionStatus.QUEUED and status is not ActionStatus.EXECUTED:
            return f"not done: {self._why_not(action_id, status.value)}"
        return self._run(action_id, args)

    def _why_not(self, action_id: int, outcome: str) -> str:
        with self.store.read() as session:
            decision = latest_decision(session, action_id)
            reviews = reviews_of(session, action_id)
        answered = next((r for r in reversed(reviews) if r.answered_by), None)
        if outcome == "rejected" and answered is not None:
            return f"rejected by {answered.answered_by}: {answered.note or 'no reason given'}"
        why = decision.explanation if decision else outcome
        return f"{outcome} by policy: {why}"

    def _run(self, action_id: int, args: dict[str, Any]) -> str:
        with self.store.session() as session:
            claim = claim_own(session, action_id, self.clock.now())
            proposal = get_action(session, action_id).proposal
        if claim is None:
            return "not done: the action is no longer due"
        if not isinstance(claim, Claimed):  # ran before this node ran again
            return str(claim.get("output", ""))
        try:
            output = self.tool.invoke(self._args(proposal, args))
            outcome, result, error = "sent", {"output": _text(output)}, None
        except Exception as exc:  # the tool's failure is the action's
            outcome, result, error = "failed", None, f"{type(exc).__name__}: {exc}"
        with self.store.session() as session:
            finish_delivery(
                session,
                claim,
                outcome=outcome,  # type: ignore[arg-type]
                result=result,
                error=error,
                account_id=str(proposal["account_id"]),
                now=self.clock.now(),
            )
        if error is not None:
            return f"failed: {error}"
        return str(result["output"]) if result else ""


def _text(output: Any) -> str:
    content = getattr(output, "content", output)
    return content if isinstance(content, str) else json.dumps(content, default=str)


def _shown(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def governed(
    tool: BaseTool,
    field: Any,
    *,
    kind: str | None = None,
    account: str | Callable[[Mapping[str, Any]], str] = "account",
    contact: str | Callable[[Mapping[str, Any]], Any] | None = None,
) -> BaseTool:
    """``tool`` governed by revfield's policy (see the module's docstring).

    ``field`` is a :class:`~revfield.field.Field` (its memory, pack and clock are used);
    ``kind`` the action kind the call is (default: the tool's name; a kind the pack does not
    know is refused to the model); ``account`` the argument naming the account (or a function
    of the arguments); ``contact`` likewise, if the call addresses a person. Arguments used
    only to name the account or contact are not part of the action."""
    keep = tuple(x for x in (account, contact) if isinstance(x, str))
    governor = _Governor(
        tool,
        field.store,
        lambda: field.pack,
        field.clock,
        kind=kind or tool.name,
        account=account,
        contact=contact,
        keep=keep,
    )
    base = tool.get_input_schema()
    if not issubclass(base, BaseModel):  # a pydantic.v1 schema
        raise TypeError(f"tool `{tool.name}`: give it a pydantic v2 args_schema to govern it")
    schema: type[BaseModel] = create_model(
        f"{tool.name}_governed",
        __base__=base,
        tool_call_id=(Annotated[str, InjectedToolCallId], ...),
    )

    class GovernedTool(BaseTool):
        name: str = tool.name
        description: str = tool.description
        args_schema: type[BaseModel] = schema

        def _run(self, tool_call_id: str, **kwargs: Any) -> str:
            kwargs.pop("run_manager", None)
            return governor.call(kwargs, tool_call_id)

    return GovernedTool()
