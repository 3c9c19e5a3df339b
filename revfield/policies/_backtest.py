"""A pack change scored against what people actually answered: every review item a person
approved, edited or rejected is decided again by the old and the new pack, from the context
that sent it to them (``revfield policy backtest``).

What it finds, by the new pack's rule that decides:

- the new pack would run by itself (``auto``) what people rejected, or edited before they
  approved it — the dangerous loosenings;
- the new pack still sends to people what they always approved unchanged — candidates for
  automation;
- the new pack would block what people approved.

:func:`backtest` is the pure scoring of answered items; :func:`backtest_packs` reads them from
memory first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from revfield.domain import Verdict
from revfield.memory import AnsweredItem, Session, answered_items
from revfield.policies._evaluate import Decision, decide
from revfield.policies._load import CompiledPack
from revfield.policies._record import context_from_json

__all__ = [
    "BacktestExample",
    "BacktestReport",
    "RuleGroup",
    "backtest",
    "backtest_packs",
    "deciding_rules",
]

DEFAULT = "(default)"
"""The rule name of items no rule matched: the pack's ``default`` decided."""


@dataclass(frozen=True, slots=True)
class BacktestExample:
    """One answered item, as a group of the report shows it."""

    review_id: int
    account_id: str
    action_kind: str
    motion: str
    answer: str
    """``approved``, ``edited`` or ``rejected``."""
    note: str | None
    """The reason given with a rejection."""
    edits: dict[str, Any] | None
    """What the person changed before approving."""
    answered_by: str | None
    old: str
    """The old pack's verdict on the item."""
    new: str
    """The new pack's verdict on the item."""


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """The answered items one rule of the new pack decides, in one finding of the report."""

    rule: str
    """The new pack's deciding rule id(s), joined by `` + `` when several decide together:
    the matched rules at the verdict's level (for ``auto``, every auto rule that matched), a
    guardrail's id when a guardrail made the decision stricter, or ``(default)``."""
    verdict: str
    """The new pack's verdict on these items."""
    count: int
    share: float
    """``count`` as a share of every answered item replayed."""
    old_differs: int
    """How many of them the old pack decided otherwise: what the change itself does."""
    examples: tuple[BacktestExample, ...]
    """Up to ``examples`` of them, newest answer first."""


@dataclass
class BacktestReport:
    """A pack change scored against people's answers (``revfield policy backtest``)."""

    old_version: str
    new_version: str
    replayed: int
    """Answered review items replayed through both packs."""
    answers: dict[str, int]
    """How people answered them: ``approved``, ``edited``, ``rejected`` → count."""
    automated_rejected: list[RuleGroup] = field(default_factory=list)
    """Items the new pack runs by itself (``auto``) that people rejected, by rule."""
    automated_edited: list[RuleGroup] = field(default_factory=list)
    """Items the new pack runs by itself that people edited before approving, by rule."""
    asked_always_approved: list[RuleGroup] = field(default_factory=list)
    """Rules of the new pack that still send items to people (review, escalate) where every
    answered item was approved unchanged: candidates for automation."""
    blocked_approved: list[RuleGroup] = field(default_factory=list)
    """Items the new (and not the old) pack blocks that people approved (edited or not)."""
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)
    """``(old verdict, new verdict)`` → answered items, unchanged pairs included."""

    @property
    def automated_against_people(self) -> int:
        """Items the new pack automates that people rejected or edited."""
        return sum(g.count for g in (*self.automated_rejected, *self.automated_edited))

    @property
    def still_asked_always_approved(self) -> int:
        """Items the new pack still sends to people, under rules they always approved."""
        return sum(g.count for g in self.asked_always_approved)

    @property
    def newly_blocked_approved(self) -> int:
        """Items people approved that the new pack, and not the old, blocks."""
        return sum(g.count for g in self.blocked_approved)

    def to_json(self) -> dict[str, Any]:
        """The report as plain data (``--json``)."""

        def groups(found: list[RuleGroup]) -> list[dict[str, Any]]:
            return [
                {
                    "rule": g.rule,
                    "verdict": g.verdict,
                    "count": g.count,
                    "share": round(g.share, 4),
                    "old_differs": g.old_differs,
                    "examples": [
                        {
                            "review_id": e.review_id,
                            "account_id": e.account_id,
                            "action_kind": e.action_kind,
                            "motion": e.motion,
                            "answer": e.answer,
                            "note": e.note,
                            "edits": e.edits,
                            "answered_by": e.answered_by,
                            "old": e.old,
                            "new": e.new,
                        }
                        for e in g.examples
                    ],
                }
                for g in found
            ]

        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "totals": {
                "replayed": self.replayed,
                "automated_against_people": self.automated_against_people,
                "still_asked_always_approved": self.still_asked_always_approved,
                "newly_blocked_approved": self.newly_blocked_approved,
            },
            "answers": dict(self.answers),
            "automated_rejected": groups(self.automated_rejected),
            "automated_edited": groups(self.automated_edited),
            "asked_always_approved": groups(self.asked_always_approved),
            "blocked_approved": groups(self.blocked_approved),
            "transitions": [
                {"old": old, "new": new, "count": n}
                for (old, new), n in sorted(
                    self.transitions.items(), key=lambda kv: (-kv[1], kv[0])
                )
            ],
        }


def deciding_rules(pack: CompiledPack, decision: Decision) -> str:
    """What decided ``decision``: the matched rules at its verdict's level (a rule that failed
    to evaluate counts at least ``escalate``), else the guardrails that made it stricter, else
    ``(default)`` — joined by `` + ``."""
    own = {r.id: r.verdict for r in pack.rules}
    failed = {e.rule_id for e in decision.errors}

    def level(rule_id: str) -> Verdict:
        verdict = own.get(rule_id, Verdict.ESCALATE)
        return max(verdict, Verdict.ESCALATE) if rule_id in failed else verdict

    base = pack.default if decision.default_applied else max(map(level, decision.matched))
    if decision.verdict > base:
        raised = [g for g in decision.guardrails if g.tightened]
        at_final = [g.id for g in raised if g.at_least == decision.verdict]
        return " + ".join(at_final or [g.id for g in raised])
    if decision.default_applied:
        return DEFAULT
    return " + ".join(r for r in decision.matched if level(r) == base)


def backtest(
    items: Iterable[AnsweredItem], old: CompiledPack, new: CompiledPack, *, examples: int = 3
) -> BacktestReport:
    """Score ``new`` against ``old`` on people's answers: each item's stored context is
    decided by both packs (pure: no clock, no database). Items come newest first; so do the
    examples of each group."""
    findings: dict[str, dict[tuple[str, str], list[tuple[AnsweredItem, str]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    asked: dict[tuple[str, str], list[tuple[AnsweredItem, str]]] = defaultdict(list)
    answers: Counter[str] = Counter()
    transitions: Counter[tuple[str, str]] = Counter()
    for item in items:
        ctx = context_from_json(item.context)
        before, after = decide(old, ctx), decide(new, ctx)
        was, becomes = before.verdict.label, after.verdict.label
        answers[item.answer] += 1
        transitions[was, becomes] += 1
        key = (deciding_rules(new, after), becomes)
        entry = (item, was)
        if after.verdict is Verdict.AUTO and item.answer != "approved":
            findings[f"automated_{item.answer}"][key].append(entry)
        elif after.verdict in (Verdict.REVIEW, Verdict.ESCALATE):
            asked[key].append(entry)
        elif (
            after.verdict is Verdict.BLOCK
            and before.verdict is not Verdict.BLOCK
            and item.answer != "rejected"
        ):
            findings["blocked_approved"][key].append(entry)
    replayed = sum(answers.values())
    always = {k: v for k, v in asked.items() if all(i.answer == "approved" for i, _ in v)}

    def grouped(by_key: dict[tuple[str, str], list[tuple[AnsweredItem, str]]]) -> list[RuleGroup]:
        out = [
            RuleGroup(
                rule=rule,
                verdict=verdict,
                count=len(found),
                share=len(found) / replayed if replayed else 0.0,
                old_differs=sum(was != verdict for _, was in found),
                examples=tuple(_example(i, was, verdict) for i, was in found[: max(examples, 0)]),
            )
            for (rule, verdict), found in by_key.items()
        ]
        return sorted(out, key=lambda g: (-g.count, g.rule, g.verdict))

    return BacktestReport(
        old_version=old.version,
        new_version=new.version,
        replayed=replayed,
        answers={a: answers[a] for a in ("approved", "edited", "rejected")},
        automated_rejected=grouped(findings["automated_rejected"]),
        automated_edited=grouped(findings["automated_edited"]),
        asked_always_approved=grouped(always),
        blocked_approved=grouped(findings["blocked_approved"]),
        transitions=dict(transitions),
    )


def backtest_packs(
    session: Session,
    old: CompiledPack,
    new: CompiledPack,
    *,
    examples: int = 3,
    limit: int | None = None,
) -> BacktestReport:
    """Score ``new`` against ``old`` on every review item people answered (the newest
    ``limit``): see :func:`backtest` and :func:`revfield.memory.answered_items`."""
    return backtest(answered_items(session, limit), old, new, examples=examples)


def _example(item: AnsweredItem, old: str, new: str) -> BacktestExample:
    return BacktestExample(
        review_id=item.review_id,
        account_id=item.account_id,
        action_kind=item.action_kind,
        motion=item.motion,
        answer=item.answer,
        note=item.note,
        edits=item.edits,
        answered_by=item.answered_by,
        old=old,
        new=new,
    )
