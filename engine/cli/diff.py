"""`careloop diff OLD NEW`: what a change to the journeys file does to each journey, for review before deploying.

Exit 0 when the files mean the same, 1 when they differ (like diff(1)), 2 when a file cannot be read or has errors.
`--mermaid` belongs here rather than on `careloop show`: it needs both files and the same comparison, and a
review reads every changed journey at once, where `show` prints one journey of one file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.consoles import consoles
from engine.journeys.catalog import Catalog
from engine.journeys.changes import Changes, compare
from engine.journeys.changes_diagram import marked_mermaid
from engine.journeys.changes_report import as_json, as_text
from engine.language.errors import JourneyFileError
from engine.language.loader import load_catalog

out, err = consoles()
FORMATS = ("text", "json")


def diff(
    old: Annotated[Path, typer.Argument(help="The journeys file as it is (e.g. the deployed one).")],
    new: Annotated[Path, typer.Argument(help="The journeys file as it would be.")],
    fmt: Annotated[
        str, typer.Option("--format", help="text (grouped by journey) or json (for CI and tools).")
    ] = "text",
    diagram: Annotated[
        bool, typer.Option("--mermaid", help="Each changed journey's Mermaid diagram, changes marked.")
    ] = False,
) -> None:
    """The differences between two journeys files, per journey and step: exit 0 if none, 1 if any, 2 on errors."""
    if fmt not in FORMATS:
        err.print(f"error: --format must be text or json, not {fmt!r}", markup=False)
        raise typer.Exit(2)
    before, after = _load(old), _load(new)
    changes = compare(before, after)
    diagrams = _diagrams(changes, before, after) if diagram else {}
    if fmt == "json":
        report = as_json(changes)
        for j in report["journeys"]:
            if j["id"] in diagrams:
                j["mermaid"] = diagrams[j["id"]]
        out.print(json.dumps(report, indent=2, ensure_ascii=False), markup=False)
    elif diagram:
        out.print(_markdown(diagrams) if diagrams else as_text(changes), markup=False)
    else:
        out.print(as_text(changes), markup=False)
    raise typer.Exit(0 if changes.identical else 1)


def _load(path: Path) -> Catalog:
    try:
        return load_catalog(path)
    except JourneyFileError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False)
        err.print(f"error: {path} has errors; nothing was compared", markup=False)
        raise typer.Exit(2) from exc


def _diagrams(changes: Changes, before: Catalog, after: Catalog) -> dict[str, str]:
    return {
        j.id: marked_mermaid(j, before.current.get(j.id), after.current.get(j.id))
        for j in changes.journeys
        if j.status != "unchanged"
    }


def _markdown(diagrams: dict[str, str]) -> str:
    return "\n\n".join(f"## {journey}\n\n```mermaid\n{text}\n```" for journey, text in diagrams.items())
