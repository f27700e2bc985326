"""Read YAML keeping where every value stood, so errors can name file:line:column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from engine.yamlfile.problems import Problem
from engine.yamlfile.syntax import explain, explain_unmarked

Path = tuple[str | int, ...]
_Reading = tuple[tuple[int, ...], Path]


@dataclass
class YamlDocument:
    file: str
    data: Any
    # path -> (line, column), 1-based, of the value at that path (for a key's value) or of the item.
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # path -> (line, column), 1-based, of the key itself (for an unknown key, which points at its own name).
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int, int]:
        """Position of the deepest existing node along ``path`` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)

    def resolve(self, loc: Path, base: Path = ()) -> Path:
        """Map a validation error location onto a data path, dropping union tags that are not in the data.

        A tag can also be a key of the data (a message step's tag 'message' and its 'message:' key), so each part
        is tried both ways: the reading that follows more of ``loc``, and its later parts, wins.
        """
        return tuple(base) + _follow(self.node(base), tuple(loc), {})[1]

    def node(self, path: Path) -> Any:
        node = self.data
        for part in path:
            node = node[part]
        return node

    def problem(self, path: Path, message: str, severity: str = "error") -> Problem:
        line, column = self.position(path)
        return Problem(self.file, line, column, message, severity)  # type: ignore[arg-type]

    def key_problem(self, path: Path, message: str) -> Problem:
        """An error about the key at ``path`` itself (unknown or misplaced), at the key's own line:column."""
        line, column = self.keys.get(path) or self.position(path)
        return Problem(self.file, line, column, message)


def _step(node: Any, part: str | int) -> tuple[bool, Any, str | int]:
    """(found, child, key as in the data) for one part of an error location."""
    if isinstance(node, dict):
        if part in node:
            return True, node[part], part
        if isinstance(part, str) and part.endswith("_") and part[:-1] in node:
            return True, node[part[:-1]], part[:-1]  # python-side aliases: in_ -> in, not_ -> not, from_ -> from
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part], part
    return False, None, part


def _follow(node: Any, loc: Path, memo: dict[tuple[int, int], _Reading]) -> _Reading:
    """The best reading of ``loc`` from ``node``: (how many parts were left at each match, the data path).

    More matched parts win; between equals, the one that matched later parts (a key found after a tag).
    """
    if not loc:
        return (), ()
    if (id(node), len(loc)) in memo:
        return memo[(id(node), len(loc))]
    best = _follow(node, loc[1:], memo)
    found, child, key = _step(node, loc[0])
    if found:
        left, rest = _follow(child, loc[1:], memo)
        taken = ((*left, len(loc)), (key, *rest))
        best = max(taken, best, key=lambda r: (len(r[0]), tuple(-n for n in r[0])))
    memo[(id(node), len(loc))] = best
    return best


def read_yaml(text: str, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        found = explain(exc, text)
        return None, [Problem(file, found.line, found.column, found.message)]
    except (YAMLError, ValueError, TypeError) as exc:  # a tag ruamel could not apply ('!!int x') has no mark
        found = explain_unmarked(exc, text)
        return None, [Problem(file, found.line, found.column, found.message)]
    doc = YamlDocument(file=file, data=None)
    doc.data = _plain(raw, (), doc.positions, doc.keys)
    doc.positions.setdefault((), (1, 1))
    return doc, []


def _plain(node: Any, path: Path, positions: dict[Path, tuple[int, int]], keys: dict[Path, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        positions.setdefault(path, (node.lc.line + 1, node.lc.col + 1))
        out: dict[Any, Any] = {}
        for key, value in node.items():
            # A mapping, a list or an empty value is pointed at by its key (an empty value has no place of its own).
            nested = isinstance(value, CommentedMap | CommentedSeq) or value is None
            line, col = node.lc.key(key) if nested else node.lc.value(key)
            positions[(*path, key)] = (line + 1, col + 1)
            key_line, key_col = node.lc.key(key)
            keys[(*path, key)] = (key_line + 1, key_col + 1)
            out[key] = _plain(value, (*path, key), positions, keys)
        return out
    if isinstance(node, CommentedSeq):
        positions.setdefault(path, (node.lc.line + 1, node.lc.col + 1))
        items = []
        for i, value in enumerate(node):
            line, col = node.lc.item(i)
            positions[(*path, i)] = (line + 1, col + 1)
            items.append(_plain(value, (*path, i), positions, keys))
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
