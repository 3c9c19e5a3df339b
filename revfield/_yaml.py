"""YAML reading that remembers where every value came from (file, line, column).

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two duplicate keys;
policy errors must point at the line RevOps wrote, so we compose the node tree ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from revfield.errors import RevfieldError

__all__ = ["Located", "Pos", "YamlError", "read_yaml"]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    file: str
    line: int
    """1-based."""
    column: int
    """1-based."""
    style: str | None = None
    """For scalars: None (plain), "'" or '"' (quoted), '|' or '>' (block)."""
    indent: int = 0
    """For block scalars: the column (1-based) where their content lines start."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class YamlError(RevfieldError):
    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.message = message


@dataclass
class Located:
    """A YAML document as plain data, with the position of every value and mapping key."""

    data: Any
    values: dict[PathKey, Pos]
    keys: dict[PathKey, Pos]


def read_yaml(path: Path, label: str | None = None) -> Located:
    name = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(Pos(name, 1, 1), f"not UTF-8 text ({exc.reason})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(pos, f"invalid YAML: {problem}") from None
    located = Located(None, {}, {})
    if node is None:
        located.data = {}
        return located
    located.data = _convert(node, (), name, located)
    lines = text.splitlines()
    for key, pos in list(located.values.items()):
        if pos.style in ("|", ">") and pos.line < len(lines):  # content starts on the next line
            content = lines[pos.line]
            indent = len(content) - len(content.lstrip(" ")) + 1
            located.values[key] = Pos(pos.file, pos.line, pos.column, pos.style, indent)
    return located


def _pos(node: yaml.Node, file: str) -> Pos:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1, style or None)


def _convert(node: yaml.Node, path: PathKey, file: str, out: Located) -> Any:
    out.values[path] = _pos(node, file)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, file)
            if not isinstance(key, str | int):
                raise YamlError(_pos(key_node, file), "mapping keys must be text")
            if key in result:
                first = out.keys[(*path, key)]
                raise YamlError(
                    _pos(key_node, file), f"duplicate key `{key}` (first at line {first.line})"
                )
            out.keys[(*path, key)] = _pos(key_node, file)
            result[key] = _convert(value_node, (*path, key), file, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), file, out) for i, item in enumerate(node.value)]
    return _scalar(node, file)


def _scalar(node: yaml.Node, file: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlError(_pos(node, file), "expected a plain value here")
    return yaml.SafeLoader(" ").construct_object(node, deep=True)
