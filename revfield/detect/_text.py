"""Detection over free text: a LangGraph graph that reads one text signal with the model.

    classify (replies only) → extract facts → interpret → END

The graph calls the model and turns its answers into facts and field events; it writes
nothing (the runner stores the results in the signal's transaction). Signal text is data:
it goes to the model between markers, and only typed answers come back — a fact's type from
a fixed list, a quoted span that must really occur in the text, a reply intent from five.
A model failure is not guessed around: it becomes a ``model_fault`` field event, escalated to
a person with the reason.

An objection about price is the deal desk's: a reply classified as an objection whose text
contains one of the pack's pricing words (``detection: pricing_objection: words``), or an
objection fact of a conversation whose quoted span does, raises ``pricing_objection`` instead
of ``objection`` (the objection fact is kept). Only the words are matched: the text decides
nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from revfield.detect._spec import DetectionSpec
from revfield.domain import (
    Detected,
    DoNotContact,
    FactDraft,
    FactType,
    FieldEventKind,
    is_churn_risk,
)
from revfield.llm import Model, ModelError, ReplyIntent

__all__ = ["TEXT_KINDS", "TextState", "build_text_graph"]

K = FieldEventKind
TEXT_KINDS = frozenset(
    {
        "email_replied",
        "call_transcript",
        "meeting_held",
        "support_ticket",
        "note",
        "cancellation",
        "nps_response",
        "form_submission",
        "community_activity",
    }
)
"""Kinds whose text is read by the model (outbound emails are our own words: not read)."""
CONVERSATIONS = ("email_replied", "call_transcript", "meeting_held", "note")
"""Kinds where the account speaks: their churn-risk and objection facts raise events."""
INTENT_EVENTS = {
    ReplyIntent.POSITIVE: K.POSITIVE_REPLY,
    ReplyIntent.OBJECTION: K.OBJECTION,
    ReplyIntent.UNSUBSCRIBE: K.UNSUBSCRIBE,
}


class TextState(TypedDict, total=False):
    signal_id: int
    kind: str
    text: str
    account_id: str
    contact_id: int | None
    occurred_at: datetime
    intent: str
    intent_reason: str
    intent_confidence: float
    facts: list[FactDraft]
    dropped: int
    """Facts the model gave whose quoted span is not in the text (not stored)."""
    error: str
    detected: list[Detected]


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def build_text_graph(model: Model, spec: DetectionSpec | None = None) -> Any:
    """The compiled graph; ``invoke(TextState)`` returns the state with ``detected``.
    ``spec``: the pack's detection section (its pricing words), the defaults otherwise."""
    pricing = (spec or DetectionSpec()).pricing_objection

    def classify(state: TextState) -> dict[str, Any]:
        if state["kind"] != "email_replied":
            return {}
        try:
            answer = model.classify_reply(state["text"])
        except ModelError as exc:
            return {"error": str(exc)}
        return {
            "intent": answer.intent.value,
            "intent_reason": answer.reason,
            "intent_confidence": answer.confidence,
        }

    def extract(state: TextState) -> dict[str, Any]:
        if state.get("error"):
            return {}
        try:
            answer = model.extract_facts(state["text"], kind=state["kind"])
        except ModelError as exc:
            return {"error": str(exc)}
        haystack = _normal(state["text"])
        facts, dropped = [], 0
        for f in answer.facts:
            if not f.span.strip() or _normal(f.span) not in haystack:
                dropped += 1  # a span that isn't in the text is the model's invention
                continue
            facts.append(
                FactDraft(
                    f.type,
                    f.value,
                    state["signal_id"],
                    state["occurred_at"],
                    f.confidence,
                    subject=f.subject,
                    span=f.span,
                    contact_id=state.get("contact_id"),
                )
            )
        return {"facts": facts, "dropped": dropped}

    def interpret(state: TextState) -> dict[str, Any]:
        sid, account, at = state["signal_id"], state["account_id"], state["occurred_at"]
        contact = state.get("contact_id")
        if state.get("error"):
            return {
                "detected": [
                    Detected(
                        K.MODEL_FAULT,
                        account,
                        f"signal:{sid}",
                        (sid,),
                        at,
                        f"the model could not read this {state['kind']}: {state['error']}",
                        contact_id=contact,
                    )
                ]
            }
        facts = state.get("facts", [])
        detected: list[Detected] = []
        intent = state.get("intent")
        event = INTENT_EVENTS.get(ReplyIntent(intent)) if intent else None
        if event is not None:
            effects = (DoNotContact(contact),) if event is K.UNSUBSCRIBE and contact else ()
            data: dict[str, Any] = {"confidence": state.get("intent_confidence", 0.0)}
            label = intent
            if event is K.OBJECTION and (word := pricing.matches(state["text"])):
                event, label = K.PRICING_OBJECTION, f"pricing objection (“{word}”)"
                data["pricing_word"] = word
            detected.append(
                Detected(
                    event,
                    account,
                    str(contact or sid),
                    (sid,),
                    at,
                    f"reply: {label} — {state.get('intent_reason', '')}",
                    contact_id=contact,
                    data=data,
                    facts=tuple(facts),
                    effects=effects,
                )
            )
            facts = []
        spoken = state["kind"] in CONVERSATIONS
        churn = [f for f in facts if f.type is FactType.RISK and is_churn_risk(f.subject)]
        if churn and spoken:
            detected.append(
                Detected(
                    K.CHURN_RISK,
                    account,
                    "conversation",
                    (sid,),
                    at,
                    f"churn risk in a {state['kind'].replace('_', ' ')}: “{churn[0].value[:120]}”",
                    contact_id=contact,
                    facts=tuple(facts),
                )
            )
            facts = []
        # a conversation (not a reply: its intent decided) whose objection is about price
        priced = next(
            (
                (f, word)
                for f in state.get("facts", [])
                if f.type is FactType.OBJECTION and (word := pricing.matches(f.span or ""))
            ),
            None,
        )
        if priced is not None and spoken and intent is None:
            objection, word = priced
            detected.append(
                Detected(
                    K.PRICING_OBJECTION,
                    account,
                    str(contact or sid),
                    (sid,),
                    at,
                    f"pricing objection (“{word}”) in a {state['kind'].replace('_', ' ')}: "
                    f"“{objection.value[:120]}”",
                    contact_id=contact,
                    data={"pricing_word": word},
                    facts=tuple(facts),
                )
            )
            facts = []
        if facts:  # facts with no event of their own are still remembered
            detected.append(Detected(None, account, "", (sid,), at, "", facts=tuple(facts)))
        return {"detected": detected}

    graph = StateGraph(TextState)
    graph.add_node("classify", classify)
    graph.add_node("extract", extract)
    graph.add_node("interpret", interpret)
    graph.add_edge(START, "classify")
    graph.add_edge("classify", "extract")
    graph.add_edge("extract", "interpret")
    graph.add_edge("interpret", END)
    return graph.compile(name="detect-text")
