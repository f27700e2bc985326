"""Read YAML keeping where every value stood, so errors can name file:line:column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from engine.journeys.errors import Problem

Path = tuple[str | int, ...]


@dataclass
class YamlDocument:
    file: str
    data: Any
    # path -> (line, column), 1-based, of the value at that path (for a key's value) or of the item.
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int, int]:
        """Position of the deepest existing node along ``path`` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)

    def resolve(self, loc: Path, base: Path = ()) -> Path:
        """Map a validation error location onto a data path, dropping union tags that are not in the data."""
        node = self.node(base)
        path = list(base)
        for part in loc:
            in_map = isinstance(node, dict) and part in node
            if in_map or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
                node = node[part]
                path.append(part)
            elif isinstance(node, dict) and isinstance(part, str) and part.endswith("_") and part[:-1] in node:
                node = node[part[:-1]]  # python-side aliases: in_ -> in, not_ -> not, from_ -> from
                path.append(part[:-1])
        return tuple(path)

    def node(self, path: Path) -> Any:
        node = self.data
        for part in path:
            node = node[part]
        return node

    def problem(self, path: Path, message: str, severity: str = "error") -> Problem:
        line, column = self.position(path)
        return Problem(self.file, line, column, message, severity)  # type: ignore[arg-type]


def read_yaml(text: str, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [Problem(file, line, column, f"YAML syntax: {what}")]
    doc = YamlDocument(file=file, data=None)
    doc.data = _plain(raw, (), doc.positions)
    doc.positions.setdefault((), (1, 1))
    return doc, []


def _plain(node: Any, path: Path, positions: dict[Path, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        positions.setdefault(path, (node.lc.line + 1, node.lc.col + 1))
        out: dict[Any, Any] = {}
        for key, value in node.items():
            line, col = node.lc.value(key) if not isinstance(value, CommentedMap | CommentedSeq) else node.lc.key(key)
            positions[(*path, key)] = (line + 1, col + 1)
            out[key] = _plain(value, (*path, key), positions)
        return out
    if isinstance(node, CommentedSeq):
        positions.setdefault(path, (node.lc.line + 1, node.lc.col + 1))
        items = []
        for i, value in enumerate(node):
            line, col = node.lc.item(i)
            positions[(*path, i)] = (line + 1, col + 1)
            items.append(_plain(value, (*path, i), positions))
        return items
    if isinstance(node, str):
        return str(node)  # ruamel's scalar string subclasses become plain str
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
