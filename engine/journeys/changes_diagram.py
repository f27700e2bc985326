"""A journey's Mermaid diagram with what changed marked, for `careloop diff --mermaid`. Pure.

Built on outline.mermaid, which names step nodes by position (s0, s1, ...): added steps green, changed or moved steps
amber, removed steps as red dashed nodes beside the step that came before them, changes to the journey's entry,
exits and goals as an amber note on the entry.
"""

from __future__ import annotations

from engine.journeys import definition as d
from engine.journeys.changes import JourneyChanges
from engine.journeys.outline import mermaid

CLASS_DEFS = (
    "  classDef added fill:#dcfce7,stroke:#15803d,color:#14532d",
    "  classDef changed fill:#fef3c7,stroke:#b45309,color:#78350f",
    "  classDef removed fill:#fee2e2,stroke:#b91c1c,color:#7f1d1d,stroke-dasharray: 5 5",
)


def marked_mermaid(changes: JourneyChanges, old: d.Journey | None, new: d.Journey | None) -> str:
    """``old`` and ``new`` are the journey in each file (None where the file lacks it)."""
    if new is None or old is None:
        whole = new or old
        if whole is None:
            raise ValueError(f"journey {changes.id} is in neither file")
        style = "added" if new is not None else "removed"
        return _with(mermaid(whole), [_class(style, [node for node, _ in _nodes(whole)])])
    node = {step_id: name for name, step_id in _nodes(new)}
    lines = _styled(changes, node)
    lines += _removed(changes, old, node)
    journey_level = sorted({c.field for c in changes.changes if c.step is None})
    if journey_level:
        lines.append(f'  journey_changes["changed: {_label(", ".join(journey_level))}"]:::changed')
        lines.append("  entry -.- journey_changes")
    return _with(mermaid(new), lines)


def _nodes(j: d.Journey) -> list[tuple[str, str]]:
    """(node name, step id) as outline.mermaid names them."""
    return [(f"s{n}", s.id) for n, s in enumerate(j.steps)]


def _styled(changes: JourneyChanges, node: dict[str, str]) -> list[str]:
    added = [c.step for c in changes.changes if c.what == "added" and c.step]
    changed = {c.step for c in changes.changes if c.what in ("changed", "moved") and c.step} - set(added)
    return [
        line
        for style, steps in (("added", added), ("changed", [s for s in node if s in changed]))
        if steps
        for line in [_class(style, [node[s] for s in steps])]
    ]


def _removed(changes: JourneyChanges, old: d.Journey, node: dict[str, str]) -> list[str]:
    lines: list[str] = []
    old_ids = [s.id for s in old.steps]
    gone = [c for c in changes.changes if c.what == "removed" and c.step]
    for n, c in enumerate(gone):
        name = f"removed{n}"
        lines.append(f'  {name}["removed: {_label(c.old or c.step or "")}"]:::removed')
        i = old_ids.index(c.step) if c.step in old_ids else 0
        before = old_ids[i - 1] if i else ""  # the first step hangs off the entry
        lines.append(f"  {node.get(before, 'entry')} -.- {name}")
    return lines


def _class(style: str, nodes: list[str]) -> str:
    return f"  class {','.join(nodes)} {style}"


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _with(diagram: str, lines: list[str]) -> str:
    return "\n".join([diagram, *CLASS_DEFS, *lines])
