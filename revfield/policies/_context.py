"""The decision context: the typed schema every policy expression is checked against.

Top-level variables: ``action``, ``account``, ``contact``, ``deal``, ``model``, ``counters``
and ``now``. Every field is always present (an absent contact or deal has ``exists: false``
and neutral values), so a rule never fails just because an action has no deal: it reads
``deal.exists && deal.amount > 50000``. A reference to anything outside this schema is a load
error. Fields with a fixed set of values carry it, so ``action.kind == "send_emial"`` is
caught by ``revfield policy check``.
"""

from __future__ import annotations

import copy
import math
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from revfield.domain import ActionKind, CustomerState, FactType, Motion, Segment
from revfield.errors import RevfieldError

__all__ = [
    "ACTION_KINDS",
    "MOTIONS",
    "SCHEMA",
    "ContextError",
    "FieldSpec",
    "default_context",
    "merge_context",
]

ACTION_KINDS = tuple(k.value for k in ActionKind)
MOTIONS = tuple(m.value for m in Motion)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FieldSpec:
    type: str
    """``bool``, ``int``, ``double``, ``string``, ``timestamp``, ``list<string>``,
    ``map<dyn>`` or ``object`` (then ``fields`` is set)."""
    doc: str = ""
    values: tuple[str, ...] | None = None
    """The only values a string field takes (empty string = unknown), if fixed."""
    fields: dict[str, FieldSpec] | None = None


def _f(type_: str, doc: str = "", values: tuple[str, ...] | None = None) -> FieldSpec:
    return FieldSpec(type_, doc, values)


def _obj(doc: str, **fields: FieldSpec) -> FieldSpec:
    return FieldSpec("object", doc, None, fields)


SEGMENTS = tuple(s.value for s in Segment)
STATES = tuple(s.value for s in CustomerState)

SCHEMA: dict[str, FieldSpec] = {
    "action": _obj(
        "the proposed action",
        kind=_f("string", "what the agent proposes", ACTION_KINDS),
        motion=_f("string", "acquisition or retention_expansion", MOTIONS),
        channel=_f("string", "email, phone, task, internal, crm"),
        discount_pct=_f("double", "offered discount in percent (offer_discount)"),
        amount=_f("double", "money involved (expansion size, deal amount)"),
        to_stage=_f("string", "target stage (advance_stage)"),
        subject=_f("string", "email subject or task title"),
        cited=_f("int", "facts and signals the action cites"),
        uncited_claims=_f("int", "personalisation claims without a cited fact or signal"),
        unsupported_promises=_f("int", "handover promises the product cannot keep"),
        tags=_f("list<string>", "free labels set by the agent"),
        payload=_f("map<dyn>", "anything else the agent attached"),
    ),
    "account": _obj(
        "the account the action is about",
        exists=_f("bool"),
        id=_f("string"),
        name=_f("string"),
        segment=_f("string", "smb, mid_market, enterprise ('' if unknown)", SEGMENTS),
        industry=_f("string"),
        region=_f("string"),
        employees=_f("int"),
        customer_state=_f("string", "prospect, customer, churned", STATES),
        owner_id=_f("string"),
        plan=_f("string"),
        seats=_f("int"),
        mrr=_f("double"),
        icp_fit=_f("bool", "meets every ICP criterion of the pack"),
        age_days=_f("int", "days since the account entered the memory"),
        facts=_obj("current facts per type (counts)", **{t.value: _f("int") for t in FactType}),
    ),
    "contact": _obj(
        "the person the action addresses",
        exists=_f("bool"),
        id=_f("int"),
        email=_f("string"),
        name=_f("string"),
        role=_f("string", "job role as recorded"),
        do_not_contact=_f("bool"),
    ),
    "deal": _obj(
        "the open deal the action concerns",
        exists=_f("bool"),
        id=_f("string"),
        stage=_f("string"),
        amount=_f("double"),
        product=_f("string"),
        age_days=_f("int", "days since the deal was created"),
        days_in_stage=_f("int"),
        stakeholders=_f("int", "stakeholder and champion facts on the account"),
    ),
    "model": _obj(
        "the model that proposed the action",
        confidence=_f("double", "0..1"),
        name=_f("string"),
        fault=_f("bool", "the model failed (timeout, refusal, invalid output)"),
        fault_reason=_f("string"),
    ),
    "counters": _obj(
        "counts from memory, computed with the pack's windows",
        contact_touches=_f("int", "touches of this contact in the fatigue window, both motions"),
        account_touches=_f("int", "touches of this account in the account-cap window"),
        motion_auto_today=_f("int", "automated actions of this motion today"),
        open_risks=_f("int", "current risk facts on the account"),
        churn_risk=_f("bool", "an open churn risk (not yet addressed by a save play, or resolved)"),
        save_play_answered=_f("bool", "the open risk's save play was approved or went out"),
        days_since_contact=_f("int", "days since the last contact signal (-1 = never)"),
    ),
    "now": _f("timestamp", "the decision time (from the injectable clock)"),
}

_DEFAULTS = {"bool": False, "int": 0, "double": 0.0, "string": "", "timestamp": EPOCH}


class ContextError(RevfieldError, ValueError):
    """A context given by hand (a policy test, ``revfield policy explain``) names a field the
    schema lacks or gives a value of the wrong type. Still a :class:`ValueError`, as it always
    was."""


def default_context() -> dict[str, Any]:
    """A complete context with neutral values: no contact, no deal, nothing counted."""
    # a copy of every dict and list, made in C: two or three per decision, hundreds of fields
    return pickle.loads(_NEUTRAL_COPY)  # type: ignore[no-any-return]  # our bytes


def _default(spec: FieldSpec) -> Any:
    if spec.fields is not None:
        return {k: _default(v) for k, v in spec.fields.items()}
    if spec.type.startswith("list"):
        return []
    if spec.type.startswith("map"):
        return {}
    return copy.copy(_DEFAULTS[spec.type])


_NEUTRAL: dict[str, Any] = {name: _default(spec) for name, spec in SCHEMA.items()}
"""The neutral context, built once from the schema (:func:`default_context` copies it)."""
_NEUTRAL_COPY = pickle.dumps(_NEUTRAL, protocol=pickle.HIGHEST_PROTOCOL)

_EXPECT = {
    "bool": "true or false",
    "int": "a whole number",
    "double": "a number",
    "string": "text",
    "timestamp": "a timestamp with a time zone",
    "list<string>": "a list of text",
    "map<dyn>": "an object",
}


def _typed(where: str, spec: FieldSpec, value: Any) -> Any:
    """``value`` as the schema type of ``where``, or :class:`ContextError`."""
    t = spec.type
    ok = (
        (t == "bool" and isinstance(value, bool))
        or (t == "int" and isinstance(value, int) and not isinstance(value, bool))
        or (t == "double" and isinstance(value, int | float) and not isinstance(value, bool))
        or (t == "string" and isinstance(value, str))
        or (
            t == "list<string>"
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        )
        or (t == "map<dyn>" and isinstance(value, dict))
        or (t == "timestamp" and isinstance(value, datetime | str))
    )
    if not ok:
        raise ContextError(f"`{where}` must be {_EXPECT[t]}, got {value!r}")
    if t == "double":
        if not math.isfinite(value):
            raise ContextError(f"`{where}` must be a finite number, got {value!r}")
        return float(value)
    if t == "timestamp":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ContextError(f"`{where}`: `{value}` is not an ISO 8601 timestamp") from None
        if value.tzinfo is None:
            raise ContextError(f"`{where}`: timestamp has no time zone")
    if spec.values and value and value not in spec.values:
        from revfield._text import did_you_mean

        raise ContextError(
            f"`{where}`: `{value}` is not one of {', '.join(spec.values)}"
            f"{did_you_mean(value, spec.values)}"
        )
    return value


def merge_context(partial: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``partial`` laid over ``base`` (default: :func:`default_context`), checked against the
    schema: an unknown field raises :class:`ContextError` naming it and the closest name."""
    from revfield._text import did_you_mean

    result = copy.deepcopy(base) if base is not None else default_context()

    def lay(
        target: dict[str, Any], over: dict[str, Any], specs: dict[str, FieldSpec], where: str
    ) -> None:
        for key, value in over.items():
            if key not in specs:
                raise ContextError(f"unknown field `{where}{key}`{did_you_mean(key, specs)}")
            spec = specs[key]
            if spec.fields is not None:
                if not isinstance(value, dict):
                    raise ContextError(f"`{where}{key}` must be an object")
                lay(target[key], value, spec.fields, f"{where}{key}.")
            else:
                target[key] = _typed(f"{where}{key}", spec, value)

    lay(result, partial, SCHEMA, "")
    for obj in ("contact", "deal"):  # naming any field of a contact or deal means it exists
        if obj in partial and "exists" not in partial[obj]:
            result[obj]["exists"] = True
    if "account" in partial and "exists" not in partial["account"]:
        result["account"]["exists"] = True
    return result
