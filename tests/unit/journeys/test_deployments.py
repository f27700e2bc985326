"""Deployments as data: which version new entries start on at a moment, the file's own deployment, the checks a
history passes before a catalog uses it, and the JSON the store and --deployments files keep."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.journeys.deployments import EPOCH, Deployment, DeploymentError, Rollout, from_json, in_force, to_json
from engine.language.loader import check_text
from tests.unit.journeys.deployed_journeys import JOURNEY, TEXT, catalog, deployment, file_catalog, v2_since_the_epoch

T = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def test_a_file_loaded_alone_starts_its_highest_version_since_the_epoch() -> None:
    (only,) = file_catalog().deployments

    assert (only.deployment_id, only.kind, only.effective_at) == (0, "file", EPOCH)
    assert dict(only.stable) == {JOURNEY: 3}
    assert only.rollouts == {} and only.directives == ()


def test_the_deployment_in_force_is_the_last_one_effective_by_then() -> None:
    history = catalog(deployment(2, T, 3), deployment(3, LATER, 2, kind="rollback"))

    assert in_force(history, T.replace(year=2020)).deployment_id == 1
    assert in_force(history, T).deployment_id == 2  # effective at T means in force at T
    assert in_force(history, LATER.replace(day=2)).deployment_id == 3


def test_new_entries_start_on_the_version_in_force() -> None:
    history = catalog(deployment(2, T, 3))

    before, _ = history.starting(JOURNEY, "P-1", T.replace(day=9))
    after, draw = history.starting(JOURNEY, "P-1", T)

    assert (before and before.version, after and after.version, draw) == (2, 3, None)


def test_a_history_out_of_time_order_is_refused() -> None:
    with pytest.raises(DeploymentError, match=r"deployment 3 is effective at .* not after deployment 2"):
        catalog(deployment(2, LATER, 3), deployment(3, T, 2))


def test_a_deployment_naming_a_version_the_catalog_does_not_hold_is_refused() -> None:
    with pytest.raises(DeploymentError, match=f"deployment 2 names {JOURNEY} v4, not held"):
        catalog(deployment(2, T, 4))


def test_a_map_to_a_step_the_new_version_lacks_is_refused() -> None:
    with pytest.raises(
        DeploymentError, match="maps post-op-follow-up step wait-day-30 to wait-day-30, not a step of v3"
    ):
        catalog(deployment(2, T, 3, running="move", step_map={"wait-day-30": "wait-day-30"}))


def test_a_deployment_round_trips_through_json() -> None:
    rich = deployment(
        7,
        T,
        2,
        rollout=(2, 3, 1_000, "pof-v3"),
        running="move",
        step_map={"wait-day-30": "wait-day-21", "wait-day-3": "end"},
    )

    for d in (rich, v2_since_the_epoch(), from_file_of_the_test_file()):
        text = json.dumps(to_json(d))
        assert from_json(json.loads(text)) == d


def from_file_of_the_test_file() -> Deployment:
    return file_catalog().deployments[0]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "hotfix"}, "kind must be one of"),
        ({"effective_at": "2026-03-10T02:00:00"}, "effective_at must carry its UTC offset"),
        ({"effective_at": "tomorrow"}, "effective_at is not an ISO 8601 time"),
        ({"stable": {JOURNEY: "3"}}, f"stable.{JOURNEY} must be an integer"),
        ({"rollouts": {JOURNEY: {"journey_id": JOURNEY}}}, "share_bp must be an integer"),
        ({"directives": [{"journey_id": JOURNEY, "running": "sometimes"}]}, r"directives\[0\].running must be"),
        ({"deployment_id": None}, "deployment_id must be an integer"),
    ],
)
def test_unreadable_json_is_refused_naming_the_field(change: dict[str, object], words: str) -> None:
    data = {**to_json(deployment(7, T, 3, running="finish")), **change}

    with pytest.raises(DeploymentError, match=words):
        from_json(data)


def test_a_recorded_deployment_is_the_files_own_with_its_id_kind_and_time() -> None:
    # What the store does with a file it deploys: the file's deployment, re-identified.
    recorded = replace(from_file_of_the_test_file(), deployment_id=4, kind="deploy", effective_at=T)

    assert from_json(to_json(recorded)) == recorded
    assert catalog(recorded).in_force(T).stable == {JOURNEY: 3}


SECTION = """\
deployment:
  rollouts:
    - {journey: post-op-follow-up, version: 3, share: 12.5}
  migrations:
    - journey: post-op-follow-up
      from: 2
      to: 3
      running: move
      map: {wait-day-30: wait-day-21}
"""


def test_the_files_deployment_section_gives_its_rollout_and_its_directives() -> None:
    loaded, problems = check_text(TEXT + SECTION, "deployed.yaml")
    assert loaded is not None, [p.message for p in problems]

    (own,) = loaded.deployments
    # the candidate's stable is the highest other version; the salt defaults to <journey>@v<version>
    assert dict(own.stable) == {JOURNEY: 2}
    assert own.rollouts[JOURNEY] == Rollout(JOURNEY, 2, 3, 1_250, f"{JOURNEY}@v3")
    (directive,) = own.directives
    assert (directive.from_versions, directive.to_version, directive.running) == ((2,), 3, "move")
    assert dict(directive.step_map) == {"wait-day-30": "wait-day-21"}
    assert from_json(to_json(own)) == own
    # both versions enter on a discharge; which one a patient starts on is drawn
    assert [j.version for j in loaded.entering_on("encounter.discharged")] == [2, 3]
