"""Loading a policy pack: read its YAML files, merge, validate, compile every expression.

All or nothing: :func:`load_pack` returns a complete :class:`CompiledPack` or raises
:class:`PackError` listing every problem found, each with file, line, column and rule id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from revfield._text import did_you_mean
from revfield._yaml import Located, PathKey, Pos, YamlError, read_yaml
from revfield.agents import Capability, Playbook
from revfield.detect import DetectionSpec
from revfield.domain import ActionCatalog, Verdict
from revfield.policies._conditions import VARIABLES, CompileProblem, Condition, compile_condition
from revfield.policies._errors import PackError, PackProblem
from revfield.policies._schema import (
    Governance,
    Guardrails,
    PackSpec,
    ReviewSpec,
    RuleSpec,
)

__all__ = ["CompiledCriterion", "CompiledPack", "CompiledRule", "load_pack", "pack_files"]

LIST_SECTIONS = ("rules", "capabilities")
_ENTRY = {"definitions": "definition", "actions": "action kind", "agents": "agent"}
MAP_SECTIONS = tuple(_ENTRY)
"""Sections whose entries may be spread across files (each name once): a plug-in ships its
own pack file declaring its action kinds and its agent's settings."""


@dataclass(frozen=True)
class CompiledRule:
    """One rule of a pack, its ``when`` compiled: when the condition holds for an action, the
    rule matches and asks for its decision."""

    id: str
    verdict: Verdict
    """The rule's ``decision``: ``auto``, ``review``, ``escalate`` or ``block``."""
    reason: str
    """Why, for the person who reads the decision."""
    escalate_to: str | None
    """For ``escalate``: the rung that answers (``owner``, ``manager``, ``revops``)."""
    condition: Condition
    pos: Pos
    """Where the rule is written (file, line, column)."""
    definitions: frozenset[str] = frozenset()
    """Definitions the condition uses, directly or through other definitions."""


@dataclass(frozen=True)
class CompiledCriterion:
    """An exit criterion, ICP criterion or counter-metric: a named condition."""

    id: str
    condition: Condition
    description: str
    pos: Pos
    verdict: Verdict = Verdict.REVIEW
    definitions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CompiledPack:
    """A loaded, validated policy pack with every condition compiled: the rules, definitions,
    guardrails, governance (stages with exit criteria, ICP), review ladder, detection
    thresholds and capability catalog RevOps wrote, under one version. What :func:`decide`
    decides with; get one from :func:`load_pack`."""

    spec: PackSpec
    """The pack as written and validated (every section)."""
    version: str
    """``sha256:`` + 16 hex digits of the pack's files (names and contents)."""
    files: tuple[str, ...]
    """The YAML files the pack was read from."""
    rules: tuple[CompiledRule, ...]
    definitions: tuple[tuple[str, Condition], ...]
    """In evaluation order (each after the definitions it uses)."""
    counter_metrics: tuple[CompiledCriterion, ...]
    """The guardrails' balance rules: conditions that can only tighten a decision."""
    stages: tuple[tuple[str, tuple[CompiledCriterion, ...]], ...]
    """Deal stages in order, each with its exit criteria."""
    icp: tuple[CompiledCriterion, ...]
    """The ideal customer profile's criteria (``account.icp_fit`` means all hold)."""
    default: Verdict
    """The decision when no rule matches."""
    positions: dict[str, Pos] = field(default_factory=dict, compare=False)

    @property
    def review(self) -> ReviewSpec:
        return self.spec.review

    @property
    def guardrails(self) -> Guardrails:
        return self.spec.guardrails

    @property
    def governance(self) -> Governance:
        return self.spec.governance

    @property
    def detection(self) -> DetectionSpec:
        return self.spec.detection

    @property
    def capabilities(self) -> list[Capability]:
        return self.spec.capabilities

    @cached_property
    def referenced(self) -> frozenset[str]:
        """Every context field any condition of the pack reads (``counters.contact_touches``)."""
        conds = [r.condition for r in self.rules] + [c for _, c in self.definitions]
        conds += [c.condition for c in self.counter_metrics] + [c.condition for c in self.icp]
        conds += [c.condition for _, criteria in self.stages for c in criteria]
        return frozenset(r for c in conds for r in c.references)

    @cached_property
    def playbook(self) -> Playbook:
        """What the agents may know of this pack: stage order, capability catalog and each
        agent's settings."""
        return Playbook(
            tuple(self.stage_ids()),
            tuple(self.spec.capabilities),
            {name: dict(a.settings) for name, a in self.spec.agents.items()},
        )

    @cached_property
    def catalog(self) -> ActionCatalog:
        """The action kinds in force: built-in ones and those the pack declares."""
        return ActionCatalog(self.spec.actions)

    def agent_enabled(self, name: str) -> bool:
        """Whether the pack lets agent ``name`` act (every agent does unless turned off)."""
        settings = self.spec.agents.get(name)
        return settings is None or settings.enabled

    def stage_ids(self) -> list[str]:
        return [s for s, _ in self.stages]

    def with_rules(self, rules: Iterable[CompiledRule]) -> CompiledPack:
        """A copy with other rules (for tests and what-if analysis); the version is marked."""
        rules = tuple(rules)
        digest = hashlib.sha256(
            "|".join(r.id + r.condition.source for r in rules).encode()
        ).hexdigest()
        return replace(self, rules=rules, version=f"{self.version}+{digest[:8]}")


# -- reading and merging ----------------------------------------------------------------------


def pack_files(path: Path) -> list[Path]:
    """The YAML files of a pack: ``path`` itself, or the ``*.yaml``/``*.yml`` files directly in
    the folder (``tests/`` and other sub-folders are not part of the pack)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise PackError([PackProblem(Pos(str(path), 1, 1), "no such policy file or folder")])
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise PackError([PackProblem(Pos(str(path), 1, 1), "folder holds no .yaml policy files")])
    return files


@dataclass
class _Merged:
    data: dict[str, Any] = field(default_factory=dict)
    values: dict[PathKey, Pos] = field(default_factory=dict)
    keys: dict[PathKey, Pos] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)


def _merge(docs: list[Located], problems: list[PackProblem]) -> _Merged:
    merged = _Merged()
    for doc in docs:
        if not isinstance(doc.data, dict):
            problems.append(
                PackProblem(doc.values[()], "a policy file must be a mapping of sections")
            )
            continue
        for key, value in doc.data.items():
            key_pos = doc.keys[(key,)]
            if key in LIST_SECTIONS and isinstance(value, list):
                offset = len(merged.data.setdefault(key, []))
                merged.data[key].extend(value)
                _copy_positions(doc, merged, (key,), _shifted(offset))
            elif key in MAP_SECTIONS and isinstance(value, dict):
                target = merged.data.setdefault(key, {})
                for name in value:
                    if name in target:
                        problems.append(
                            PackProblem(
                                doc.keys[(key, name)],
                                f"{_ENTRY[key]} `{name}` is defined twice "
                                f"(also in {merged.owner[f'{key}.{name}']})",
                            )
                        )
                    merged.owner[f"{key}.{name}"] = key_pos.file
                target.update(value)
                _copy_positions(doc, merged, (key,), lambda p: p)
            elif key in merged.data:
                problems.append(
                    PackProblem(
                        key_pos,
                        f"section `{key}` appears in more than one file "
                        f"(also in {merged.owner[key]})",
                    )
                )
            else:
                merged.data[key] = value
                merged.owner[key] = key_pos.file
                _copy_positions(doc, merged, (key,), lambda p: p)
            merged.keys.setdefault((key,), key_pos)
    return merged


def _shifted(offset: int) -> Callable[[PathKey], PathKey]:
    """Positions of a list section's items, renumbered after the items of earlier files."""

    def remap(path: PathKey) -> PathKey:
        if len(path) > 1 and isinstance(path[1], int):
            return (path[0], path[1] + offset, *path[2:])
        return path

    return remap


def _copy_positions(doc: Located, merged: _Merged, prefix: PathKey, remap: Any) -> None:
    for table, target in ((doc.values, merged.values), (doc.keys, merged.keys)):
        for path, pos in table.items():
            if path[: len(prefix)] == prefix:
                target[remap(path)] = pos


# -- validation ---------------------------------------------------------------------------------


def _locate(merged: _Merged, loc: tuple[Any, ...], *, key: bool = False) -> Pos:
    path: tuple[Any, ...] = tuple(loc)
    while path:
        table = merged.keys if key else merged.values
        if path in table:
            return table[path]
        if path in merged.values:
            return merged.values[path]
        path = path[:-1]
    return next(iter(merged.values.values()), Pos("<pack>", 1, 1))


def _rule_id(merged: _Merged, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] in ("rules", "capabilities") and isinstance(loc[1], int):
        items = merged.data.get(loc[0], [])
        if loc[1] < len(items) and isinstance(items[loc[1]], dict):
            value = items[loc[1]].get("id")
            return str(value) if value is not None else None
    return None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = PackSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        model = _inner_model(annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _validation_problems(merged: _Merged, exc: ValidationError) -> list[PackProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        rule = _rule_id(merged, loc)
        kind = "capability" if loc and loc[0] == "capabilities" else "rule"
        where = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            names = list(parent.model_fields) if parent else []
            hint = did_you_mean(str(loc[-1]), names)
            if not hint and names:
                hint = f"; allowed here: {', '.join(names)}"
            problems.append(
                PackProblem(
                    _locate(merged, loc, key=True),
                    f"unknown key `{loc[-1]}`{hint}",
                    rule,
                    kind=kind,
                )
            )
        elif err["type"] == "literal_error" and loc and loc[-1] == "decision":
            problems.append(
                PackProblem(
                    _locate(merged, loc),
                    f"unknown decision `{err['input']}`; one of auto, review, escalate, block",
                    rule,
                    kind=kind,
                )
            )
        elif err["type"] == "missing":
            problems.append(
                PackProblem(_locate(merged, loc[:-1]), f"`{loc[-1]}` is missing", rule, kind=kind)
            )
        else:
            message = err["msg"].removeprefix("Value error, ")
            problems.append(
                PackProblem(_locate(merged, loc), f"`{where}`: {message}", rule, kind=kind)
            )
    return problems


# -- compiling ---------------------------------------------------------------------------------


def _expr_pos(pos: Pos, problem: CompileProblem) -> Pos:
    """Where in the file a problem inside an expression is."""
    if pos.style in ("|", ">"):  # content starts on the next line, at the block's indent
        return Pos(pos.file, pos.line + problem.line, pos.indent + problem.column - 1)
    quote = 1 if pos.style in ("'", '"') else 0
    if problem.line > 1:
        return Pos(pos.file, pos.line + problem.line - 1, problem.column)
    return Pos(pos.file, pos.line, pos.column + quote + problem.column - 1)


def _compile(
    source: str,
    pos: Pos,
    rule_id: str | None,
    problems: list[PackProblem],
    definitions: dict[str, str],
) -> Condition | None:
    try:
        return compile_condition(source, definitions=definitions)
    except CompileProblem as exc:
        problems.append(PackProblem(_expr_pos(pos, exc), exc.message, rule_id, exc.render()))
        return None


def _order_definitions(spec: PackSpec, merged: _Merged, problems: list[PackProblem]) -> list[str]:
    """Definitions in dependency order; a cycle is a load error naming it."""
    names = set(spec.definitions)
    uses: dict[str, set[str]] = {}
    for name, source in spec.definitions.items():
        try:
            refs = compile_condition(source, definitions=spec.definitions).references
        except CompileProblem:
            refs = frozenset()  # reported when the definition itself is compiled
        uses[name] = {r.split(".", 1)[0] for r in refs} & names
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            problems.append(
                PackProblem(
                    merged.values.get(("definitions", name), Pos("<pack>", 1, 1)),
                    f"cyclic definition: {' → '.join(cycle)}",
                )
            )
            return
        state[name] = 1
        for used in sorted(uses[name]):
            visit(used, [*trail, name])
        state[name] = 2
        order.append(name)

    for name in sorted(names):
        visit(name, [])
    return order


def load_pack(path: str | Path) -> CompiledPack:
    """Read, validate and compile the pack at ``path`` (a folder or one file)."""
    path = Path(path)
    files = pack_files(path)
    problems: list[PackProblem] = []
    docs: list[Located] = []
    for file in files:
        try:
            docs.append(read_yaml(file))
        except YamlError as exc:
            problems.append(PackProblem(exc.pos, exc.message))
    if problems:
        raise PackError(problems)
    merged = _merge(docs, problems)
    if problems:
        raise PackError(problems)
    try:
        spec = PackSpec.model_validate(merged.data)
    except ValidationError as exc:
        raise PackError(_validation_problems(merged, exc)) from None

    seen: dict[str, Pos] = {}
    for i, rule in enumerate(spec.rules):
        pos = merged.values.get(("rules", i, "id"), Pos("<pack>", 1, 1))
        if rule.id in seen:
            problems.append(
                PackProblem(pos, f"duplicate rule id (first at {seen[rule.id]})", rule.id)
            )
        seen.setdefault(rule.id, pos)

    for name in spec.definitions:
        if name in VARIABLES:
            problems.append(
                PackProblem(
                    merged.keys.get(("definitions", name), Pos("<pack>", 1, 1)),
                    f"definition `{name}` would hide the context variable `{name}`",
                )
            )
    order = _order_definitions(spec, merged, problems)
    if problems:
        raise PackError(problems)
    compiled_defs: list[tuple[str, Condition]] = []
    closure: dict[str, frozenset[str]] = {}
    for name in order:
        cond = _compile(
            spec.definitions[name],
            merged.values[("definitions", name)],
            None,
            problems,
            spec.definitions,
        )
        if cond is not None:
            compiled_defs.append((name, cond))
            direct = {r.split(".", 1)[0] for r in cond.references} & set(spec.definitions)
            closure[name] = frozenset(direct.union(*(closure.get(d, frozenset()) for d in direct)))

    def uses(cond: Condition) -> frozenset[str]:
        direct = {r.split(".", 1)[0] for r in cond.references} & set(spec.definitions)
        return frozenset(direct.union(*(closure.get(d, frozenset()) for d in direct)))

    rules: list[CompiledRule] = []
    for i, rule_spec in enumerate(spec.rules):
        pos = merged.values.get(("rules", i, "when"), Pos("<pack>", 1, 1))
        cond = _compile(rule_spec.when, pos, rule_spec.id, problems, spec.definitions)
        if cond is not None:
            rules.append(_rule(rule_spec, cond, merged.values.get(("rules", i), pos), uses(cond)))

    def criteria(
        items: list[Any], base: PathKey, verdict_of: Any = None
    ) -> tuple[CompiledCriterion, ...]:
        out = []
        for j, item in enumerate(items):
            pos = merged.values.get((*base, j, "when"), Pos("<pack>", 1, 1))
            cond = _compile(item.when, pos, item.id, problems, spec.definitions)
            if cond is not None:
                verdict = Verdict.parse(verdict_of(item)) if verdict_of else Verdict.REVIEW
                out.append(
                    CompiledCriterion(
                        item.id,
                        cond,
                        getattr(item, "description", "") or getattr(item, "reason", ""),
                        merged.values.get((*base, j), pos),
                        verdict,
                        uses(cond),
                    )
                )
        return tuple(out)

    g = spec.governance
    metrics = criteria(
        spec.guardrails.counter_metrics, ("guardrails", "counter_metrics"), lambda m: m.at_least
    )
    stages = tuple(
        (s.id, criteria(s.exit_criteria, ("governance", "stages", k, "exit_criteria")))
        for k, s in enumerate(g.stages)
    )
    icp = criteria(g.icp, ("governance", "icp"))
    for kind in spec.actions:
        if kind in ActionCatalog().kinds:
            problems.append(
                PackProblem(
                    merged.values.get(("actions", kind), Pos("<pack>", 1, 1)),
                    f"action kind `{kind}` is built in; declare a kind with another name",
                    kind,
                    kind="action kind",
                )
            )
    if problems:
        raise PackError(problems)
    return CompiledPack(
        spec=spec,
        version=_version(files),
        files=tuple(str(f) for f in files),
        rules=tuple(rules),
        definitions=tuple(compiled_defs),
        counter_metrics=metrics,
        stages=stages,
        icp=icp,
        default=Verdict.parse(spec.default),
        positions={r.id: r.pos for r in rules},
    )


def _rule(spec: RuleSpec, cond: Condition, pos: Pos, definitions: frozenset[str]) -> CompiledRule:
    return CompiledRule(
        spec.id, Verdict.parse(spec.decision), spec.reason, spec.escalate_to, cond, pos, definitions
    )


def _version(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]
