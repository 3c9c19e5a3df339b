"""Lint a pack: rules that can never match, and rules a stricter rule always overrides.

Both checks are sound but not complete: they reason about the top-level ``&&`` chain of a
condition (definitions expanded). A finding is always real; silence is not a proof.

- *can never match*: a literal outside a field's values (``action.kind == "send_emial"``),
  two comparisons on one field that contradict (``== "a" && == "b"``, ``> 30 && < 10``), a
  literal ``false``, or ``x && !x``.
- *shadowed*: rule A is shadowed by a stricter rule B when every conjunct of B is also a
  conjunct of A (or implied by one): whenever A matches, B matches and wins.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from lark import Token, Tree

from revfield._text import did_you_mean
from revfield._yaml import Pos
from revfield.policies._cel import LiteralError, decode_string, parse_tree
from revfield.policies._context import SCHEMA, FieldSpec
from revfield.policies._load import CompiledPack

__all__ = ["LintFinding", "lint_pack"]

OPS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}


@dataclass(frozen=True)
class LintFinding:
    """A rule of the pack that does nothing: it can never match, or a stricter rule always
    matches with it and wins. Always real (the linter is sound, not complete)."""

    pos: Pos
    """Where the rule is written."""
    rule_id: str
    kind: str
    """``never-matches`` or ``shadowed``."""
    message: str
    """Why, naming the contradiction or the stricter rule."""

    def render(self) -> str:
        """``file:line:column: rule `id`: message``."""
        return (
            f"{self.pos.file}:{self.pos.line}:{self.pos.column}: "
            f"rule `{self.rule_id}`: {self.message}"
        )


@dataclass(frozen=True)
class Atom:
    text: str
    path: str | None = None
    op: str | None = None
    value: Any = None
    """A literal, or a tuple of literals for ``in``."""


def _field(path: str, kinds: tuple[str, ...] | None = None) -> FieldSpec | None:
    """The schema of ``path``; ``action.kind`` takes ``kinds`` (the pack's catalog: the
    built-in kinds and those the pack declares) when given."""
    parts = path.split(".")
    spec = SCHEMA.get(parts[0])
    for part in parts[1:]:
        if spec is None or spec.fields is None:
            return None
        spec = spec.fields.get(part)
    if path == "action.kind" and spec is not None and kinds is not None:
        return replace(spec, values=kinds)
    return spec


def _literal(node: Any) -> tuple[bool, Any]:
    while (
        isinstance(node, Tree)
        and node.data in ("addition", "multiplication", "unary", "member", "primary", "literal")
        and len(node.children) == 1
    ):
        node = node.children[0]
    if isinstance(node, Token):
        if node.type in ("STRING_LIT", "MLSTRING_LIT"):
            try:
                return True, decode_string(node.value)  # CEL's escapes, as the compiler reads them
            except LiteralError:
                return False, None
        if node.type == "INT_LIT":
            digits = node.value.lstrip("-")
            value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
            return True, float(-value if node.value.startswith("-") else value)
        if node.type == "FLOAT_LIT":
            return True, float(node.value)
        if node.type == "BOOL_LIT":
            return True, node.value == "true"
    if isinstance(node, Tree) and node.data == "list_lit":
        items = []
        for expr in node.children[0].children if node.children else []:
            ok, value = _literal(_unwrap(expr))
            if not ok:
                return False, None
            items.append(value)
        return True, tuple(items)
    return False, None


def _unwrap(node: Any) -> Any:
    while (
        isinstance(node, Tree)
        and node.data in ("expr", "conditionalor", "conditionaland", "relation")
        and len(node.children) == 1
    ):
        node = node.children[0]
    return node


def _path(node: Any) -> str | None:
    while (
        isinstance(node, Tree)
        and node.data in ("relation", "addition", "multiplication", "unary", "member", "primary")
        and len(node.children) == 1
    ):
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "ident":
        return str(node.children[0])
    if isinstance(node, Tree) and node.data == "member_dot":
        left = _path(node.children[0])
        return f"{left}.{node.children[1]}" if left else None
    return None


def _conjunct_nodes(node: Any) -> list[Any]:
    node = (
        _unwrap(node)
        if not (isinstance(node, Tree) and node.data == "conditionaland" and len(node.children) > 1)
        else node
    )
    if isinstance(node, Tree) and node.data == "conditionaland" and len(node.children) == 2:
        return _conjunct_nodes(node.children[0]) + _conjunct_nodes(node.children[1])
    return [node]


def _atom(node: Any, source: str) -> Atom:
    text = (
        re.sub(r"\s+", " ", source[node.meta.start_pos : node.meta.end_pos]).strip()
        if isinstance(node, Tree) and not node.meta.empty
        else str(node)
    )
    if isinstance(node, Tree) and node.data == "relation" and len(node.children) == 2:
        head = node.children[0]
        if isinstance(head, Tree) and head.data in OPS:
            path = _path(head.children[0])
            ok, value = _literal(node.children[1])
            if path and ok:
                return Atom(text, path, OPS[head.data], value)
    ok, value = _literal(node)
    if ok and isinstance(value, bool):
        return Atom(text, None, "const", value)
    return Atom(text)


def conjuncts(source: str, definitions: dict[str, str], depth: int = 0) -> list[Atom]:
    try:
        tree = parse_tree(source)
    except Exception:
        return []
    atoms: list[Atom] = []
    for node in _conjunct_nodes(tree):
        atom = _atom(node, source)
        name = _path(node)
        if name in definitions and "." not in name and depth < 8:
            atoms.extend(conjuncts(definitions[name], definitions, depth + 1))
        else:
            atoms.append(atom)
    return atoms


def _interval(atom: Atom) -> tuple[float, float, bool, bool] | None:
    """(low, high, low_open, high_open) for a numeric comparison."""
    if atom.op not in ("<", "<=", ">", ">=", "==") or not isinstance(atom.value, float):
        return None
    v = atom.value
    return {
        "<": (-math.inf, v, True, True),
        "<=": (-math.inf, v, True, False),
        ">": (v, math.inf, True, True),
        ">=": (v, math.inf, False, True),
        "==": (v, v, False, False),
    }[atom.op]


def _never(atoms: list[Atom], kinds: tuple[str, ...] | None = None) -> str | None:
    texts = {a.text for a in atoms}
    for a in atoms:
        if a.op == "const" and a.value is False:
            return "its condition contains `false`"
        if a.text.startswith("!") and a.text[1:].strip() in texts:
            return f"it requires both `{a.text[1:].strip()}` and `{a.text}`"
        if a.path and a.op in ("==", "in"):
            spec = _field(a.path, kinds)
            if spec and spec.values:
                wanted = a.value if a.op == "in" else (a.value,)
                if all(isinstance(w, str) and w not in spec.values for w in wanted):
                    first = str(wanted[0]) if wanted else ""
                    return (
                        f"`{a.path}` is never {', '.join(f'`{w}`' for w in wanted)}"
                        f"{did_you_mean(first, spec.values)} (values: {', '.join(spec.values)})"
                    )
    by_path: dict[str, list[Atom]] = {}
    for a in atoms:
        if a.path:
            by_path.setdefault(a.path, []).append(a)
    for path, group in by_path.items():
        allowed: set[Any] | None = None
        for a in group:
            if a.op == "==":
                values = {a.value}
            elif a.op == "in":
                values = set(a.value)
            else:
                continue
            allowed = values if allowed is None else allowed & values
            if not allowed:
                return f"it requires `{path}` to take two different values"
        if allowed is not None:
            for a in group:
                if a.op == "!=" and allowed == {a.value}:
                    return f"it requires `{path}` to be and not be {a.value!r}"
        lo, hi, lo_open, hi_open = -math.inf, math.inf, True, True
        for a in group:
            iv = _interval(a)
            if iv is None:
                continue
            if iv[0] > lo or (iv[0] == lo and iv[2]):
                lo, lo_open = iv[0], iv[2]
            if iv[1] < hi or (iv[1] == hi and iv[3]):
                hi, hi_open = iv[1], iv[3]
        if lo > hi or (lo == hi and (lo_open or hi_open) and not math.isinf(lo)):
            return f"no value of `{path}` satisfies all its comparisons"
    return None


def _implies(a: Atom, b: Atom) -> bool:
    """Whether conjunct ``a`` alone guarantees conjunct ``b``."""
    if a.text == b.text:
        return True
    if a.path is None or a.path != b.path:
        return False
    if b.op == "in" and a.op == "==":
        return a.value in b.value
    if b.op == "in" and a.op == "in":
        return set(a.value) <= set(b.value)
    ia, ib = _interval(a), _interval(b)
    if ia and ib:
        lo_ok = ia[0] > ib[0] or (ia[0] == ib[0] and (ia[2] or not ib[2]))
        hi_ok = ia[1] < ib[1] or (ia[1] == ib[1] and (ia[3] or not ib[3]))
        return lo_ok and hi_ok
    return False


def lint_pack(pack: CompiledPack) -> list[LintFinding]:
    """The rules of ``pack`` that can never match or that a stricter rule shadows (``revfield
    policy check``). Reasons about each condition's top-level ``&&`` chain, definitions
    expanded, so a finding is always real and silence is not a proof."""
    defs = pack.spec.definitions
    kinds = pack.catalog.kinds  # the built-in kinds and those the pack declares
    atoms = {r.id: conjuncts(r.condition.source, defs) for r in pack.rules}
    findings: list[LintFinding] = []
    for rule in pack.rules:
        reason = _never(atoms[rule.id], kinds)
        if reason:
            findings.append(
                LintFinding(rule.pos, rule.id, "never-matches", f"can never match: {reason}")
            )
    for metric in pack.counter_metrics:
        reason = _never(conjuncts(metric.condition.source, defs), kinds)
        if reason:
            findings.append(
                LintFinding(
                    metric.pos, metric.id, "never-matches", f"guardrail can never hold: {reason}"
                )
            )
    never = {f.rule_id for f in findings}
    for a in pack.rules:
        if a.id in never or not atoms[a.id]:
            continue
        for b in pack.rules:
            if b is a or b.verdict <= a.verdict or b.id in never or not atoms[b.id]:
                continue
            if all(any(_implies(x, y) for x in atoms[a.id]) for y in atoms[b.id]):
                findings.append(
                    LintFinding(
                        a.pos,
                        a.id,
                        "shadowed",
                        (
                            f"shadowed by the stricter rule `{b.id}` ({b.verdict.label}): "
                            f"whenever `{a.id}` matches, `{b.id}` matches too, "
                            f"so `{a.id}` ({a.verdict.label}) never decides"
                        ),
                    )
                )
                break
    return findings
