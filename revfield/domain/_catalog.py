"""Which action kinds exist: the built-in ones, and the kinds a policy pack declares with the
payload fields its rules may read and a person may edit.

A declared kind types its payload: each field has a type and bounds, so a proposal (from an
agent, a submission or a governed tool) is refused with an error naming the kind or field
that is wrong, and an edit is validated like the proposal it changes. Built-in kinds keep a
free payload (what agents attach: the recipient, the claims…) and their typed top-level
fields (:data:`EDITABLE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)

from revfield.domain._actions import EDITABLE, ActionKind, Motion, ProposedAction
from revfield.errors import RevfieldError

__all__ = ["ActionCatalog", "ActionKindSpec", "PayloadField", "ProposalError"]

BUILTIN_KINDS: tuple[str, ...] = tuple(k.value for k in ActionKind)

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
KindName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class ProposalError(RevfieldError, ValueError):
    """A proposed action or an edit the catalog refuses: an unknown kind, an unknown field, a
    value of the wrong type or out of bounds. The message names the kind and the field."""


class PayloadField(BaseModel):
    """One payload field of a declared action kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["string", "int", "double", "bool"]
    description: str = ""
    required: bool = False
    default: str | int | float | bool | None = None
    """The value rules read when a proposal leaves the field out (a neutral value — ``""``,
    ``0``, ``false`` — when no default is given)."""
    min: float | None = None
    """Lowest value (numbers) or shortest length (strings)."""
    max: float | None = None
    """Highest value (numbers) or longest length (strings; 2,000 when not given)."""
    values: tuple[str, ...] | None = None
    """The only values a string field takes."""
    editable: bool = False
    """Whether a person answering a review item may change it."""

    @model_validator(mode="after")
    def _consistent(self) -> PayloadField:
        if self.values is not None and self.type != "string":
            raise ValueError("`values` is for string fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.default is not None:
            _field_model("default", {"value": self}).model_validate({"value": self.default})
        return self

    def annotation(self) -> Any:
        """The pydantic type of this field, with its bounds."""
        if self.type == "string":
            if self.values:
                return Literal[self.values]
            lo = int(self.min) if self.min is not None else None
            hi = int(self.max) if self.max is not None else 2000
            return Annotated[str, StringConstraints(min_length=lo, max_length=hi)]
        base: type = {"int": int, "double": float, "bool": bool}[self.type]
        if self.type == "bool":
            return bool
        return Annotated[base, Field(ge=self.min, le=self.max)]

    def neutral(self) -> str | int | float | bool:
        """What rules read when a proposal leaves the field out."""
        if self.default is not None:
            return self.default
        neutral: dict[str, str | int | float | bool] = {
            "string": "",
            "int": 0,
            "double": 0.0,
            "bool": False,
        }
        return neutral[self.type]


def _field_model(name: str, fields: Mapping[str, PayloadField], *, partial: bool = False) -> Any:
    definitions: dict[str, Any] = {
        key: (
            spec.annotation(),
            ... if spec.required and not partial else None,
        )
        for key, spec in fields.items()
    }
    return create_model(
        f"Payload_{name}", __config__=ConfigDict(extra="forbid", strict=False), **definitions
    )


class ActionKindSpec(BaseModel):
    """An action kind a pack declares: what it is, and its payload fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    motion: Motion | None = None
    """The motion actions of this kind belong to, when it is always the same (a submission
    may then leave it out)."""
    fields: dict[FieldName, PayloadField] = Field(default_factory=dict)

    @cached_property
    def editable(self) -> tuple[str, ...]:
        """The payload fields a person may change."""
        return tuple(name for name, f in self.fields.items() if f.editable)


class ActionCatalog:
    """The action kinds in force: the built-in ones and those the pack declares."""

    def __init__(self, declared: Mapping[str, ActionKindSpec] | None = None) -> None:
        self.declared: dict[str, ActionKindSpec] = dict(declared or {})
        clash = sorted(set(self.declared) & set(BUILTIN_KINDS))
        if clash:
            raise ProposalError(f"action kind `{clash[0]}` is built in; declare another name")
        self._models = {k: _field_model(k, s.fields) for k, s in self.declared.items()}
        self._partial = {
            k: _field_model(k, s.fields, partial=True) for k, s in self.declared.items()
        }

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind an action may have: the built-in ones, then the declared ones."""
        return (*BUILTIN_KINDS, *self.declared)

    def spec(self, kind: str) -> ActionKindSpec | None:
        """The declaration of a pack-declared kind (None for a built-in kind)."""
        return self.declared.get(kind)

    def editable(self, kind: str) -> tuple[str, ...]:
        """The fields a person may change on an action of ``kind``."""
        spec = self.declared.get(kind)
        return (*EDITABLE, *(spec.editable if spec else ()))

    def _unknown_kind(self, kind: str) -> ProposalError:
        return ProposalError(
            f"unknown action kind `{kind}`; known: {', '.join(self.kinds)}\n"
            "  help: declare it under `actions:` in the policy pack"
        )

    def check(self, action: ProposedAction) -> ProposedAction:
        """The action with its declared payload typed and completed, or a
        :class:`ProposalError` naming what is wrong (the kind, a field, a value)."""
        if action.kind in BUILTIN_KINDS:
            return action
        spec = self.declared.get(action.kind)
        if spec is None:
            raise self._unknown_kind(action.kind)
        if spec.motion is not None and action.motion is not spec.motion:
            raise ProposalError(
                f"`{action.kind}` actions are {spec.motion.value}, not {action.motion.value}"
            )
        payload = self._validated(action.kind, self._models[action.kind], action.payload)
        full = {name: f.neutral() for name, f in spec.fields.items()}
        full.update({k: v for k, v in payload.items() if v is not None})
        return action.model_copy(update={"payload": full})

    def edit(self, action: ProposedAction, edits: Mapping[str, Any]) -> ProposedAction:
        """``action`` with a person's edits applied: built-in fields (:data:`EDITABLE`) and the
        declared kind's editable payload fields, each validated by its declaration."""
        spec = self.declared.get(action.kind)
        own = set(spec.editable if spec else ())
        unknown = sorted(set(edits) - set(EDITABLE) - own)
        if unknown:
            raise ProposalError(
                f"`{unknown[0]}` can't be edited on {action.kind}; editable: "
                f"{', '.join(self.editable(action.kind))}"
            )
        top = {k: v for k, v in edits.items() if k in EDITABLE}
        changed = action.edited(top) if top else action
        inside = {k: v for k, v in edits.items() if k in own}
        if spec is None or not inside:
            return changed
        typed = self._validated(action.kind, self._partial[action.kind], inside)
        return self.check(changed.model_copy(update={"payload": {**changed.payload, **typed}}))

    def _validated(self, kind: str, model: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return dict(model.model_validate(dict(payload)).model_dump(exclude_unset=True))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            if err["type"] == "extra_forbidden":
                spec = self.declared[kind]
                raise ProposalError(
                    f"{kind}: unknown field `{where}`; its fields: {', '.join(spec.fields) or '—'}"
                ) from None
            raise ProposalError(f"{kind}: field `{where}`: {err['msg']}") from None
