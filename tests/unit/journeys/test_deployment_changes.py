"""`careloop diff` on the `deployment:` section (issue 16): a rollout's share or a migration's map changes without
a journey version bump, so the diff lists them under file settings, rule by rule, as the file writes them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from engine.journeys.catalog import Catalog
from engine.journeys.changes import Change, Changes, compare
from engine.journeys.changes_report import as_json, as_text
from tests import cli
from tests.unit.journeys.edited_journeys import edited, journey, write_edited

POST_OP = "post-op-follow-up"
ROLLOUT = f"deployment.rollouts[{POST_OP}]"
MIGRATION = f"deployment.migrations[{POST_OP} from v2]"


def with_v3(data: Any) -> None:
    """The shipped file with post-op v3 beside v2: the day-30 check comes at day 21."""
    v3 = copy.deepcopy(journey(data, POST_OP))
    v3["version"] = 3
    data["journeys"].append(v3)
    wait = next(s for s in v3["steps"] if s["id"] == "wait-day-30")
    wait["id"], wait["wait"]["offset"] = "wait-day-21", "21d"


def deployed(section: dict[str, Any]) -> Callable[[Any], None]:
    def edit(data: Any) -> None:
        with_v3(data)
        data["deployment"] = CommentedMap(section)

    return edit


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> Changes:
    def load(name: str, section: dict[str, Any]) -> Catalog:
        folder = tmp_path / name
        folder.mkdir()
        return edited(folder, deployed(section))

    return compare(load("old", old), load("new", new))


TEN_PERCENT = {"rollouts": [{"journey": POST_OP, "version": 3, "share": 10}]}


def test_a_rollout_added_to_the_file_is_one_file_change_with_its_default_salt(tmp_path: Path) -> None:
    changes = diff(tmp_path, {}, TEN_PERCENT)
    assert changes.file == (
        Change("added", ROLLOUT, None, f"{{journey: {POST_OP}, version: 3, share: 10, salt: {POST_OP}@v3}}"),
    )
    assert all(j.status == "unchanged" for j in changes.journeys)
    assert not changes.identical


def test_raising_a_share_is_a_file_setting_and_no_journey_change(tmp_path: Path) -> None:
    raised = {"rollouts": [{"journey": POST_OP, "version": 3, "share": 20.5}]}
    changes = diff(tmp_path, TEN_PERCENT, raised)
    assert changes.file == (Change("changed", f"{ROLLOUT}.share", "10", "20.5"),)
    assert all(not j.unbumped for j in changes.journeys)
    text = as_text(changes)
    assert text.endswith(f"file settings\n  file · changed {ROLLOUT}.share: 10 → 20.5")
    assert as_json(changes)["file"] == [
        {"what": "changed", "step": None, "field": f"{ROLLOUT}.share", "old": "10", "new": "20.5"}
    ]


def test_writing_out_the_default_salt_or_from_as_a_list_changes_nothing(tmp_path: Path) -> None:
    old = {**TEN_PERCENT, "migrations": [{"journey": POST_OP, "from": 2, "to": 3}]}
    new = {
        "rollouts": [{"journey": POST_OP, "version": 3, "share": 10, "salt": f"{POST_OP}@v3"}],
        "migrations": [{"journey": POST_OP, "from": [2], "to": 3, "running": "finish"}],
    }
    assert diff(tmp_path, old, new).identical


def test_a_migration_moved_to_running_move_with_a_map_names_each_change(tmp_path: Path) -> None:
    old = {"migrations": [{"journey": POST_OP, "from": 2, "to": 3}]}
    new = {
        "migrations": [
            {"journey": POST_OP, "from": 2, "to": 3, "running": "move", "map": {"wait-day-30": "wait-day-21"}}
        ]
    }
    assert diff(tmp_path, old, new).file == (
        Change("changed", f"{MIGRATION}.running", "finish", "move"),
        Change("added", f"{MIGRATION}.map.wait-day-30", None, "wait-day-21"),
    )


def test_a_removed_rollout_and_a_migration_of_other_versions_are_a_removal_and_an_addition(tmp_path: Path) -> None:
    old = {**TEN_PERCENT, "migrations": [{"journey": POST_OP, "from": 2, "to": 3}]}
    new = {"migrations": [{"journey": POST_OP, "from": [1, 2], "to": 3}]}
    assert diff(tmp_path, old, new).file == (
        Change("removed", ROLLOUT, f"{{journey: {POST_OP}, version: 3, share: 10, salt: {POST_OP}@v3}}", None),
        Change("removed", MIGRATION, f"{{journey: {POST_OP}, from: 2, to: 3}}", None),
        Change(
            "added",
            f"deployment.migrations[{POST_OP} from v1, v2]",
            None,
            f"{{journey: {POST_OP}, from: [1, 2], to: 3}}",
        ),
    )


def test_careloop_diff_exits_1_when_only_the_deployment_section_differs(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = write_edited(tmp_path / "old", deployed(TEN_PERCENT))
    new = write_edited(tmp_path / "new", deployed({"rollouts": [{"journey": POST_OP, "version": 3, "share": 25}]}))
    code, out, _ = cli.invoke("diff", str(old), str(new))
    assert code == 1
    assert "journeys: 0 changed, 0 added, 0 removed, 18 unchanged; 0 journey changes, 1 file changes" in out
    assert f"  file · changed {ROLLOUT}.share: 10 → 25" in out
