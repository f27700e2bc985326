"""The Mermaid diagram of a changed journey with its changes marked: added steps green, changed or moved amber,
removed steps red dashed beside the step that preceded them, journey-level changes as a note on the entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from engine.journeys.changes import compare
from engine.journeys.changes_diagram import marked_mermaid
from tests.builders import catalog
from tests.unit.journeys.edited_journeys import edited, journey, step, step_index

POST_OP = "post-op-follow-up"


def diagram(tmp_path: Path, edit: Any, journey_id: str = POST_OP) -> list[str]:
    old, new = catalog(), edited(tmp_path, edit)
    changes = next(j for j in compare(old, new).journeys if j.id == journey_id)
    return marked_mermaid(changes, old.current.get(journey_id), new.current.get(journey_id)).splitlines()


def test_added_changed_and_removed_steps_each_get_their_class(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        steps = journey(data, POST_OP)["steps"]
        step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"
        steps.insert(
            step_index(data, POST_OP, "day-3-care") + 1,
            CommentedMap(id="day-3-call", task=CommentedMap(queue="care-team", title="Call after surgery", sla="1d")),
        )
        del steps[step_index(data, POST_OP, "day-7-rehab")]

    lines = diagram(tmp_path, edit)
    # New order: wait-day-3 (s0), day-3-care (s1), day-3-call (s2), wait-day-7 (s3), ...
    assert lines[0] == "flowchart TD"
    assert '  s2["day-3-call: task for care-team: Call after surgery (SLA 1d, normal)"]' in lines
    assert "  classDef added fill:#dcfce7,stroke:#15803d,color:#14532d" in lines
    assert "  class s2 added" in lines
    assert "  class s0 changed" in lines
    removed = [line for line in lines if ":::removed" in line]
    assert removed == [
        '  removed0["removed: {id: day-7-rehab, message: {template: postop-day7-rehab, channels: [wechat, sms, '
        'email], priority: 60}}"]:::removed'
    ]
    assert "  s3 -.- removed0" in lines  # beside wait-day-7, the step before it in the old file
    assert any(line.startswith("  classDef removed") and "stroke-dasharray" in line for line in lines)


def test_a_moved_step_is_amber_and_unchanged_steps_get_no_class(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        steps = journey(data, POST_OP)["steps"]
        steps.append(steps.pop(step_index(data, POST_OP, "day-7-rehab")))

    classed = [line for line in diagram(tmp_path, edit) if line.startswith("  class ")]
    assert classed == ["  class s6 changed"]


def test_a_changed_exit_is_a_note_on_the_entry(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        journey(data, POST_OP)["exit"].append(CommentedMap(event="appointment.cancelled", outcome="cancelled"))

    lines = diagram(tmp_path, edit)
    assert '  journey_changes["changed: exit[appointment.cancelled]"]:::changed' in lines
    assert "  entry -.- journey_changes" in lines
    assert not [line for line in lines if line.startswith("  class ")]


def test_a_removed_journey_is_drawn_from_the_old_file_all_removed(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        data["journeys"].remove(journey(data, POST_OP))

    lines = diagram(tmp_path, edit)
    assert "  class s0,s1,s2,s3,s4,s5,s6 removed" in lines
    assert '  s0["wait-day-3: wait 3d from entry at 10:00 (patient time)"]' in lines
