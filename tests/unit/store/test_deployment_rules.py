"""What a new deployment may not do to the recorded ones (engine/store/deployment_rules.py), on deployments built
in the test: a file behind (a lower version, a running rollout dropped, an ended rollout re-opened, a rolled-back
version started for everyone), a rollout's salt changed, an effective time not after the latest deployment or
before the latest decision."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from engine.journeys.deployments import EPOCH, Deployment, Kind, Rollout
from engine.store.deployment_rules import (
    DeploymentBehindError,
    EffectiveTimeError,
    RolloutChangedError,
    check_effective,
    check_not_behind,
    check_rollout_salts,
)

MAY_2 = datetime(2026, 5, 2, 1, 0, tzinfo=UTC)


def deployment(
    n: int, stable: dict[str, int], rollout: tuple[int, int, str] | None = None, kind: Kind = "deploy"
) -> Deployment:
    rollouts = {}
    if rollout is not None:
        stable_version, candidate, salt = rollout
        rollouts["dc"] = Rollout("dc", stable_version, candidate, 1000, salt)
    return Deployment(
        n, kind, EPOCH if n <= 1 else MAY_2.replace(day=n), MappingProxyType(stable), MappingProxyType(rollouts), ()
    )


def test_a_file_with_a_lower_version_than_the_latest_deployment_is_behind() -> None:
    history = [deployment(1, {"dc": 1}), deployment(2, {"dc": 2})]
    with pytest.raises(DeploymentBehindError, match=r"behind deployment 2 .*: dc v1 is lower than the deployed v2"):
        check_not_behind(deployment(0, {"dc": 1}), history, "the journeys file")
    check_not_behind(deployment(0, {"dc": 2}), history, "the journeys file")
    check_not_behind(deployment(0, {"dc": 3}), history, "the journeys file")
    check_not_behind(deployment(0, {"other": 1}), history, "the journeys file")  # a journey it no longer has


def test_a_file_dropping_a_running_rollouts_candidate_is_behind_and_names_the_rollback() -> None:
    history = [deployment(1, {"dc": 1}, (1, 2, "s1"))]
    with pytest.raises(
        DeploymentBehindError,
        match=r"dc's rollout of v2 is running and the file drops it \(`careloop rollout rollback dc` ends it\)",
    ):
        check_not_behind(deployment(0, {"dc": 1}), history, "the journeys file")
    check_not_behind(deployment(0, {"dc": 1}, (1, 2, "s1")), history, "the journeys file")


def test_an_ended_rollout_is_not_reopened_and_a_rolled_back_version_is_not_started_for_everyone() -> None:
    running = deployment(1, {"dc": 1}, (1, 2, "s1"))
    rolled_back = [running, deployment(2, {"dc": 1}, kind="rollback")]
    with pytest.raises(DeploymentBehindError, match=r"dc's rollout of v2 ended in deployment 2 \(rollback\)"):
        check_not_behind(deployment(0, {"dc": 1}, (1, 2, "s1")), rolled_back, "the file")
    with pytest.raises(DeploymentBehindError, match=r"dc v2 was rolled back in deployment 2"):
        check_not_behind(deployment(0, {"dc": 2}), rolled_back, "the file")
    check_not_behind(deployment(0, {"dc": 1}, (1, 3, "s3")), rolled_back, "the file")  # a new version may roll out
    promoted = [running, deployment(2, {"dc": 2}, kind="promote")]
    check_not_behind(deployment(0, {"dc": 2}), promoted, "the file")  # what the promotion starts everyone on
    with pytest.raises(DeploymentBehindError, match=r"dc's rollout of v2 ended in deployment 2 \(promote\)"):
        check_not_behind(deployment(0, {"dc": 1}, (1, 2, "s1")), promoted, "the file")


def test_a_rollouts_salt_may_not_change_for_the_same_journey_and_version() -> None:
    history = [deployment(1, {"dc": 1}, (1, 2, "s1"))]
    check_rollout_salts(deployment(0, {"dc": 1}, (1, 2, "s1")), history)
    check_rollout_salts(deployment(0, {"dc": 1}, (1, 3, "s2")), history)
    with pytest.raises(RolloutChangedError, match=r"changes the salt of the recorded rollout of dc v2"):
        check_rollout_salts(deployment(0, {"dc": 1}, (1, 2, "s2")), history)


def test_an_effective_time_comes_after_the_latest_deployment_and_not_before_the_latest_decision() -> None:
    history = [deployment(1, {"dc": 1}), deployment(2, {"dc": 2})]
    check_effective(MAY_2.replace(day=3), history, MAY_2.replace(day=3))
    with pytest.raises(EffectiveTimeError, match=r"is not after deployment 2's"):
        check_effective(MAY_2.replace(day=2), history, None)
    with pytest.raises(EffectiveTimeError, match=r"before the latest recorded engine decision"):
        check_effective(MAY_2.replace(day=3), history, MAY_2.replace(day=4))
