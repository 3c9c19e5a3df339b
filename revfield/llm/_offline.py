"""The offline model: deterministic rules and templates behind the model protocol.

It needs no key and no network, gives the same answer for the same input, and is good enough
that the demo's extracted facts, reply classes and drafts make sense to a reader. Like the
real model, it treats text as data: there is no rule that obeys anything written in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from revfield.domain import FactType
from revfield.llm._types import (
    CitedItem,
    Draft,
    DraftClaim,
    DraftRequest,
    ExtractedFact,
    FactExtraction,
    HandoverRequest,
    HandoverSummary,
    ReplyClassification,
    ReplyIntent,
)

__all__ = ["OfflineModel"]


def _rx(*words: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(" + "|".join(words) + r")(?![\w])", re.IGNORECASE)


COMPETITORS = (
    "Clari",
    "Gong",
    "Salesforce",
    "HubSpot",
    "Outreach",
    "Salesloft",
    "Zendesk",
    "Freshdesk",
    "Intercom",
    "Pipedrive",
    "Zoho",
    "Dynamics",
    "Chorus",
    "Aviso",
    "Looker",
    "Tableau",
)
COMPETITOR = re.compile(r"\b(" + "|".join(COMPETITORS) + r")\b")
RIVAL = _rx(
    r"competitor", r"switched to", r"switching to", r"looking at", r"evaluating", r"comparing"
)

PAIN = _rx(
    r"we need",
    r"we struggle",
    r"struggling",
    r"problem",
    r"pain",
    r"misses",
    r"missing",
    r"can'?t",
    r"cannot",
    r"frustrat\w*",
    r"too slow",
    r"slow",
    r"manual(ly)?",
    r"takes (us )?(hours|days|weeks)",
    r"no visibility",
    r"don'?t trust",
    r"unhappy",
    r"different numbers",
    r"problema",
    r"probleme?",
    r"problème",
    r"langsam",
    r"lento",
)
PROMISE = _rx(
    r"promised",
    r"promise",
    r"guarantee[ds]?",
    r"we were told",
    r"committed to",
    r"you said",
    r"will (support|deliver|provide|integrate|include)",
    r"you mentioned",
)
SUCCESS = _rx(
    r"success (for us )?(is|means|would be)",
    r"we('ll| will) measure",
    r"our goal is",
    r"the goal is",
    r"target is",
    r"within \d+ ?%",
)
CHAMPION = _rx(
    r"champion\w*",
    r"will (push|sponsor|drive) (this|it)",
    r"i'?ll (push|sponsor|drive|sell) (this|it)",
    r"internal sponsor",
)
CHAMPION_NAME = re.compile(
    r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?) (?:will|would) (?:champion|push|sponsor|drive)"
)
STAKEHOLDER = re.compile(
    r"\b(?:our|the|their) (ceo|cfo|cto|coo|cro|ciso|board|procurement|legal( team)?|"
    r"security team|it team|"
    r"vp(?: of)? [a-z]+|head of [a-z]+)\b",
    re.IGNORECASE,
)
OBJECTION = {
    "price": _rx(
        r"too expensive",
        r"expensive",
        r"no budget",
        r"budget (is|was) (cut|frozen|tight)",
        r"too pricey",
        r"cost too much",
        r"pricing",
    ),
    "timing": _rx(
        r"not a priority",
        r"not now",
        r"(wait|revisit|maybe|not) (until |till )?next (year|quarter)",
        r"bad time",
        r"not (the )?right time",
    ),
    "competitor": _rx(r"already (use|have|using)", r"happy with (our|the) current"),
    "need": _rx(r"don'?t need", r"not interested", r"no need", r"too (complex|complicated)"),
}
USE_CASE = _rx(
    r"use it (for|to)", r"use case", r"we want to", r"looking to", r"to automate", r"to replace"
)
RISK = {
    "churn": _rx(
        r"cancel\w*",
        r"churn\w*",
        r"not renew\w*",
        r"won'?t renew",
        r"terminate",
        r"leaving",
        r"switched to competitor",
        r"switch(ing)? to",
        r"too expensive",
        r"missing features",
        r"kündig\w*",
        r"cancelar",
        r"annuler",
        r"rescindir",
    ),
    "reliability": _rx(
        r"outage",
        r"downtime",
        r"error( \d+)?",
        r"fail\w*",
        r"broken",
        r"crash\w*",
        r"not working",
        r"fehler",
        r"erro",
        r"error",
        r"falla",
        r"panne",
        r"ausfall",
        r"störung",
        r"interrupción",
        r"interrupção",
    ),
    "support": _rx(
        r"escalat\w*", r"urgent", r"critical", r"dringend", r"urgente", r"kritisch", r"crítico"
    ),
}

UNSUBSCRIBE = _rx(
    r"unsubscribe",
    r"remove me",
    r"stop (emailing|contacting|sending|writing)",
    r"do not (contact|email)",
    r"don'?t (contact|email) me",
    r"opt(ed)? out",
    r"take me off",
)
OUT_OF_OFFICE = _rx(
    r"out of (the )?office",
    r"ooo",
    r"on (vacation|holiday|leave|parental leave)",
    r"auto(matic)?[- ]?reply",
    r"away until",
    r"limited access to (my )?email",
)
POSITIVE = _rx(
    r"let'?s (talk|chat|meet|schedule|set (it )?up|do (it|this))",
    r"sounds (good|great|interesting)",
    r"interested",
    r"happy to (chat|talk|meet)",
    r"book (a|some) time",
    r"send (me|over)",
    r"love to",
    r"can we (talk|meet|schedule)",
    r"a demo",
    r"next week works",
    r"works for me",
    r"count me in",
)
NO_THANKS = _rx(r"no thanks", r"no thank you", r"we'?re (all )?set", r"pass on this", r"not for us")

SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _sentences(text: str) -> Iterator[str]:
    for match in SENTENCE.finditer(text):
        sentence = match.group().strip()
        if len(sentence) >= 8:
            yield sentence


def _value(sentence: str, limit: int = 200) -> str:
    text = sentence.strip().rstrip(".!?")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OfflineModel:
    """The model without a model: deterministic rules and templates, no key, no network; the
    same answer for the same input. The default when no API key is set, and what the demo and
    the tests run on."""

    backend = "offline"
    name = "offline-rules-v1"

    def close(self) -> None:
        return None

    # -- facts --------------------------------------------------------------------------------

    def extract_facts(self, text: str, *, kind: str) -> FactExtraction:
        facts: list[ExtractedFact] = []
        seen: set[tuple[FactType, str]] = set()

        def add(type_: FactType, sentence: str, subject: str | None, confidence: float) -> None:
            key = (type_, (subject or sentence).lower())
            if key not in seen and len(facts) < 25:
                seen.add(key)
                facts.append(
                    ExtractedFact(
                        type=type_,
                        value=_value(sentence),
                        span=sentence[:600],
                        subject=subject,
                        confidence=confidence,
                    )
                )

        for sentence in _sentences(text):
            if RIVAL.search(sentence):  # a name alone may be an integration, not a rival
                for name in COMPETITOR.findall(sentence):
                    add(FactType.COMPETITOR, sentence, name.lower(), 0.8)
            if CHAMPION.search(sentence):
                named = CHAMPION_NAME.search(sentence) is not None
                add(FactType.CHAMPION, sentence, "champion", 0.75 if named else 0.6)
            for role in STAKEHOLDER.findall(sentence):
                add(
                    FactType.STAKEHOLDER,
                    sentence,
                    role[0].lower() if isinstance(role, tuple) else role.lower(),
                    0.7,
                )
            if SUCCESS.search(sentence):
                add(FactType.SUCCESS_CRITERION, sentence, None, 0.75)
            if PROMISE.search(sentence):
                add(FactType.PROMISE, sentence, None, 0.7)
            for topic, pattern in OBJECTION.items():
                if pattern.search(sentence) and kind in (
                    "email_replied",
                    "call_transcript",
                    "meeting_held",
                    "note",
                ):
                    add(FactType.OBJECTION, sentence, topic, 0.7)
                    break
            for topic, pattern in RISK.items():
                if pattern.search(sentence) and (
                    kind not in ("call_transcript", "email_replied") or topic == "churn"
                ):
                    add(FactType.RISK, sentence, topic, 0.7 if topic != "churn" else 0.8)
                    break
            if PAIN.search(sentence) and kind != "support_ticket":
                add(FactType.PAIN, sentence, None, 0.7)
            if USE_CASE.search(sentence):
                add(FactType.USE_CASE, sentence, None, 0.6)
        return FactExtraction(facts=facts)

    # -- replies ------------------------------------------------------------------------------

    def classify_reply(self, text: str) -> ReplyClassification:
        result = self._classify(text)
        return result

    @staticmethod
    def _classify(text: str) -> ReplyClassification:
        if m := UNSUBSCRIBE.search(text):
            return ReplyClassification(
                intent=ReplyIntent.UNSUBSCRIBE,
                confidence=0.95,
                reason=f"asks to stop: “{m.group()}”",
            )
        if m := OUT_OF_OFFICE.search(text):
            return ReplyClassification(
                intent=ReplyIntent.OUT_OF_OFFICE,
                confidence=0.9,
                reason=f"absence reply: “{m.group()}”",
            )
        for topic, pattern in OBJECTION.items():
            if m := pattern.search(text):
                return ReplyClassification(
                    intent=ReplyIntent.OBJECTION,
                    confidence=0.8,
                    reason=f"{topic} objection: “{m.group()}”",
                )
        if m := NO_THANKS.search(text):
            return ReplyClassification(
                intent=ReplyIntent.OBJECTION, confidence=0.75, reason=f"declines: “{m.group()}”"
            )
        if m := POSITIVE.search(text):
            return ReplyClassification(
                intent=ReplyIntent.POSITIVE,
                confidence=0.85,
                reason=f"wants to continue: “{m.group()}”",
            )
        return ReplyClassification(
            intent=ReplyIntent.NEUTRAL, confidence=0.5, reason="no clear intent"
        )

    # -- drafts -------------------------------------------------------------------------------

    def draft_message(self, request: DraftRequest) -> Draft:
        first = request.recipient_name.split()[0] if request.recipient_name.strip() else "there"
        by_type: dict[str, list[CitedItem]] = {}
        for item in request.items:
            by_type.setdefault(item.type, []).append(item)
        lines: list[str] = []
        claims: list[DraftClaim] = []

        def cite(template: str, item: CitedItem) -> None:
            sentence = template.format(_clause(item.text))
            lines.append(sentence)
            claims.append(DraftClaim(text=sentence[:300], cites=[item.id]))

        purpose = request.purpose
        if purpose == "save_play":
            subject = f"Fixing what went wrong for {request.account_name}"
            if risks := by_type.get("risk"):
                cite("I saw that {} — I'm sorry, and I want this fixed.", risks[0])
            lines.append(
                "Could we take 20 minutes this week with our support lead to agree on a plan?"
            )
        elif purpose == "expansion":
            subject = f"Room to grow at {request.account_name}"
            if usage := by_type.get("product_usage") or by_type.get("seat_change"):
                cite("Your team's usage is close to what your plan covers ({}).", usage[0])
            if uses := by_type.get("use_case"):
                cite("You wanted to {} — the next tier makes that easier.", uses[0])
            lines.append("Shall we look at options before you hit the limit?")
        elif purpose == "check_in":
            subject = f"How is it going at {request.account_name}?"
            if criteria := by_type.get("success_criterion"):
                cite("You told us success means {} — how close are you?", _criterion(criteria[0]))
            lines.append("Anything we can do to help this month?")
        else:
            subject = f"Following up, {request.account_name}"
            if pains := by_type.get("pain"):
                cite("When we spoke, you mentioned {}.", pains[0])
            if criteria := by_type.get("success_criterion"):
                cite("You also said success means {}.", _criterion(criteria[0]))
            elif intents := by_type.get("intent_surge") or by_type.get("content_engagement"):
                cite("Your team has been reading about {}.", intents[0])
            lines.append(
                "Would 20 minutes next week work to walk through how similar teams handle this?"
            )
        body = f"Hi {first},\n\n" + "\n\n".join(lines) + f"\n\nBest,\n{request.sender_name}"
        return Draft(subject=subject[:300], body=body[:4000], claims=claims)

    def summarise_handover(self, request: HandoverRequest) -> HandoverSummary:
        labels = {
            "pain": "Pains",
            "promise": "Promised",
            "success_criterion": "Success means",
            "champion": "Champion",
            "stakeholder": "Stakeholders",
            "competitor": "Competitors seen",
            "use_case": "Use cases",
            "objection": "Objections raised",
            "risk": "Risks",
        }
        groups: dict[str, list[str]] = {}
        for item in request.items:
            groups.setdefault(item.type, []).append(_clause(item.text))
        parts = [f"{labels[t]}: {'; '.join(v[:3])}" for t, v in groups.items() if t in labels]
        summary = f"What we learned selling to {request.account_name}. " + ". ".join(parts)
        highlights = [f"{labels.get(t, t)}: {v[0]}"[:300] for t, v in groups.items()][:10]
        return HandoverSummary(summary=summary[:2000], highlights=highlights)


SPEAKER = {
    "We": "you",
    "Our": "your",
    "I": "you",
    "My": "your",
    "We're": "you're",
    "We've": "you've",
    "We'll": "you'll",
    "Us": "you",
    "I'm": "you're",
}
STARTERS = {"The", "It", "They", "Their", "This", "That", "Today", "Success", "Right", "Currently"}


SUCCESS_PREFIX = re.compile(r"^(for us,? )?success( for us)? (is|means|would be)\s+", re.IGNORECASE)


def _criterion(item: CitedItem) -> CitedItem:
    """A success criterion without its own "success means" lead-in."""
    text = SUCCESS_PREFIX.sub("", " ".join(item.text.split()))
    return item.model_copy(update={"text": text})


def _clause(text: str) -> str:
    """A fact quoted back inside a sentence: no trailing stop, and the speaker's "we"/"our"
    turned into "you"/"your" (``We need one forecast`` → ``you need one forecast``)."""
    text = " ".join(text.split()).rstrip(".!?")
    words = text.split(" ", 1)
    if words and words[0] in SPEAKER:
        words[0] = SPEAKER[words[0]]
    elif words and words[0] in STARTERS:
        words[0] = words[0].lower()
    return " ".join(words)[:200]
