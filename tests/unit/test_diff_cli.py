"""`careloop diff OLD NEW`: exit 0 when the files mean the same, 1 when they differ, 2 when a file cannot be read or
has errors (with the loader's file:line:column); text, JSON and Mermaid output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests import cli
from tests.builders import JOURNEYS, MISSPELT_JOURNEYS
from tests.unit.journeys.edited_journeys import journey, step, write_edited

runner = CliRunner()
POST_OP = "post-op-follow-up"


def invoke(*args: str) -> tuple[int, str, str]:
    return cli.invoke("diff", *args)


def day_2(data: Any) -> None:
    step(data, POST_OP, "wait-day-3")["wait"]["offset"] = "2d"
    journey(data, POST_OP)["version"] = 3


def test_identical_files_exit_0_and_say_so(tmp_path: Path) -> None:
    same = write_edited(tmp_path, lambda data: None, indent=(4, 6, 4))
    code, out, _ = invoke(str(JOURNEYS), str(same))
    assert code == 0
    assert out.strip() == "no differences: every journey, step and setting is the same"


def test_differing_files_exit_1_with_the_change_list(tmp_path: Path) -> None:
    code, out, _ = invoke(str(JOURNEYS), str(write_edited(tmp_path, day_2)))
    assert code == 1
    assert "post-op-follow-up: version 2 → 3" in out
    assert "  post-op-follow-up · step wait-day-3 · changed wait.offset: 3d → 2d" in out


def test_json_carries_the_totals_and_each_journeys_changes(tmp_path: Path) -> None:
    code, out, _ = invoke(str(JOURNEYS), str(write_edited(tmp_path, day_2)), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"identical", "totals", "file", "journeys"}
    assert report["totals"] == {
        "journeys_added": 0,
        "journeys_removed": 0,
        "journeys_changed": 1,
        "journeys_unchanged": 17,
        "unbumped": 0,
        "journey_changes": 1,
        "file_changes": 0,
    }
    post_op = next(j for j in report["journeys"] if j["id"] == POST_OP)
    assert (post_op["old_version"], post_op["new_version"], post_op["unbumped"]) == (2, 3, False)
    assert post_op["changes"] == [
        {"what": "changed", "step": "wait-day-3", "field": "wait.offset", "old": "3d", "new": "2d"}
    ]


def test_mermaid_prints_each_changed_journey_as_a_fenced_diagram_with_the_change_marked(tmp_path: Path) -> None:
    code, out, _ = invoke(str(JOURNEYS), str(write_edited(tmp_path, day_2)), "--mermaid")
    assert code == 1
    assert out.startswith("## post-op-follow-up\n\n```mermaid\nflowchart TD\n")
    assert "  class s0 changed\n```" in out
    assert out.count("```mermaid") == 1


def test_mermaid_in_json_is_a_field_of_each_changed_journey(tmp_path: Path) -> None:
    code, out, _ = invoke(str(JOURNEYS), str(write_edited(tmp_path, day_2)), "--mermaid", "--format", "json")
    assert code == 1
    journeys = {j["id"]: j for j in json.loads(out)["journeys"]}
    assert journeys[POST_OP]["mermaid"].endswith("  class s0 changed")
    assert "mermaid" not in journeys["diabetes-care"]


def test_a_file_with_errors_exits_2_with_its_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MISSPELT_JOURNEYS, encoding="utf-8")
    code, out, err = invoke(str(JOURNEYS), str(bad))
    assert code == 2
    assert out == ""
    assert f"{bad}:6:14: error: entry.event: unknown event type 'encounter.discharge'" in err
    assert f"error: {bad} has errors; nothing was compared" in err


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path / "nope.yaml"), str(JOURNEYS))
    assert code == 2
    assert "cannot read journeys file" in err


def test_an_unknown_format_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke(str(JOURNEYS), str(JOURNEYS), "--format", "yaml")
    assert code == 2
    assert "--format must be text or json, not 'yaml'" in err
