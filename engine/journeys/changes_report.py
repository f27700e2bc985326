"""The differences between two journeys files as text (grouped by journey, totals first) and as JSON. Pure."""

from __future__ import annotations

from typing import Any

from engine.journeys.changes import Change, Changes, JourneyChanges

ARROW = "→"


def as_json(changes: Changes) -> dict[str, Any]:
    """The shape CI and tools read: every journey of either file with its status, and each change's values."""
    return {
        "identical": changes.identical,
        "totals": changes.totals(),
        "file": [_change_json(c) for c in changes.file],
        "journeys": [
            {
                "id": j.id,
                "status": j.status,
                "old_version": j.old_version,
                "new_version": j.new_version,
                "content_changed": j.content_changed,
                "unbumped": j.unbumped,
                "changes": [_change_json(c) for c in j.changes],
            }
            for j in changes.journeys
        ],
    }


def _change_json(c: Change) -> dict[str, Any]:
    return {"what": c.what, "step": c.step, "field": c.field, "old": c.old, "new": c.new}


def as_text(changes: Changes) -> str:
    if changes.identical:
        return "no differences: every journey, step and setting is the same"
    lines = [_totals(changes)]
    unbumped = [j.id for j in changes.journeys if j.unbumped]
    if unbumped:
        lines.append(
            f"changed without a version bump (deploy refuses the file until each is bumped): {', '.join(unbumped)}"
        )
    for j in changes.journeys:
        if j.status != "unchanged":
            lines += ["", _heading(j), *(f"  {_line(j.id, c)}" for c in j.changes)]
    if changes.file:
        lines += ["", "file settings", *(f"  {_line('file', c)}" for c in changes.file)]
    return "\n".join(lines)


def _totals(changes: Changes) -> str:
    t = changes.totals()
    return (
        f"journeys: {t['journeys_changed']} changed, {t['journeys_added']} added, {t['journeys_removed']} removed, "
        f"{t['journeys_unchanged']} unchanged; {t['journey_changes']} journey changes, {t['file_changes']} file changes"
    )


def _heading(j: JourneyChanges) -> str:
    if j.status == "added":
        return f"{j.id}: added (version {j.new_version})"
    if j.status == "removed":
        return f"{j.id}: removed (was version {j.old_version})"
    if j.unbumped:
        return f"{j.id}: version {j.new_version}, content changed WITHOUT a version bump: deploy refuses this"
    if j.old_version != j.new_version:
        same = "" if j.content_changed else " (no other change)"
        return f"{j.id}: version {j.old_version} {ARROW} {j.new_version}{same}"
    return f"{j.id}: version {j.new_version}"


def _line(journey: str, c: Change) -> str:
    where = f"{journey} · step {c.step}" if c.step else journey
    what = f"{c.what} {c.field}".rstrip()
    if c.what == "added":
        return f"{where} · {what}: {c.new}"
    if c.what == "removed":
        return f"{where} · {what}: {c.old}"
    return f"{where} · {what}: {c.old} {ARROW} {c.new}"
