"""What a new deployment may not do to the recorded ones, checked before anything is written (by `careloop deploy`,
`rollout promote|rollback` and a worker's start): pure functions over the recorded history.

- Behind: a journey's file selecting a version lower than the latest deployment's, or dropping a running rollout's
  candidate (that is `careloop rollout rollback`), or starting again a version a rollback ended, or re-opening an
  ended rollout: a worker started with an old file would silently undo a deployment.
- A rollout's salt changed for the same journey and candidate version: it would move patients between versions
  without a trace (as a holdout's, engine/store/experiments.py).
- Effective time: after the latest recorded deployment and not before the latest recorded engine event, which was
  decided under the deployment before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from engine.journeys.deployments import Deployment
from engine.journeys.errors import JourneyError


class DeploymentBehindError(JourneyError):
    """The journeys file is behind the recorded deployments."""


class RolloutChangedError(JourneyError):
    """A rollout keeps its journey and candidate version but changes its salt."""


class EffectiveTimeError(JourneyError):
    """The deployment's effective time is before what the store has recorded."""


def check_not_behind(new: Deployment, history: Sequence[Deployment], what: str) -> None:
    """DeploymentBehindError listing every reason ``new`` (from ``what``, a file) is behind ``history``."""
    if not history:
        return
    latest = history[-1]
    reasons = [*_lower_versions(new, latest), *_ended_rollouts(new, history)]
    if reasons:
        raise DeploymentBehindError(
            f"{what} is behind deployment {latest.deployment_id} ({latest.kind}, effective "
            f"{latest.effective_at.isoformat()}): {'; '.join(reasons)}. Use the file the latest deployment recorded "
            "(`careloop deploy history`), or change it and `careloop deploy` it"
        )


def _lower_versions(new: Deployment, latest: Deployment) -> list[str]:
    reasons: list[str] = []
    for journey_id, version in sorted(latest.stable.items()):
        offered = _versions(new, journey_id)
        if offered and max(offered) < version:
            reasons.append(f"{journey_id} v{max(offered)} is lower than the deployed v{version}")
    for journey_id, rollout in sorted(latest.rollouts.items()):
        if rollout.candidate_version not in _versions(new, journey_id):
            reasons.append(
                f"{journey_id}'s rollout of v{rollout.candidate_version} is running and the file drops it "
                f"(`careloop rollout rollback {journey_id}` ends it)"
            )
    return reasons


def _ended_rollouts(new: Deployment, history: Sequence[Deployment]) -> list[str]:
    """Rollouts the file configures (or versions it starts everyone on) that a later deployment ended."""
    reasons: list[str] = []
    for journey_id, version in sorted(_selected(new)):
        ended = _ended_by(history, journey_id, version)
        if ended is None:
            continue
        rollout = new.rollouts.get(journey_id)
        if rollout is not None and rollout.candidate_version == version:
            reasons.append(
                f"{journey_id}'s rollout of v{version} ended in deployment {ended.deployment_id} ({ended.kind}): "
                "remove it from the file's deployment.rollouts (a new rollout needs a new version)"
            )
        elif ended.kind == "rollback" and new.stable.get(journey_id) == version:
            reasons.append(
                f"{journey_id} v{version} was rolled back in deployment {ended.deployment_id}: the file starts "
                "every new entry on it"
            )
    return reasons


def _ended_by(history: Sequence[Deployment], journey_id: str, version: int) -> Deployment | None:
    """The last deployment that ended a rollout of (journey, version), unless a later one runs it again; or None."""
    ended: Deployment | None = None
    for before, after in pairwise(history):
        had, has = before.rollouts.get(journey_id), after.rollouts.get(journey_id)
        if has is not None and has.candidate_version == version:
            ended = None
        elif had is not None and had.candidate_version == version:
            ended = after
    return ended


def check_rollout_salts(new: Deployment, history: Sequence[Deployment]) -> None:
    """RolloutChangedError when a rollout of ``new`` has another salt than any recorded rollout of the same journey
    and candidate version."""
    changed: list[str] = []
    for journey_id, rollout in sorted(new.rollouts.items()):
        recorded = {
            r.salt
            for d in history
            for r in d.rollouts.values()
            if r.journey_id == journey_id and r.candidate_version == rollout.candidate_version
        }
        if recorded and rollout.salt not in recorded:
            changed.append(f"{journey_id} v{rollout.candidate_version}")
    if changed:
        raise RolloutChangedError(
            f"deployment.rollouts: the file changes the salt of the recorded rollout of {', '.join(changed)}, which "
            "would move patients between versions: keep the recorded salt (`careloop rollout status`), or roll out "
            "a new version"
        )


def check_effective(at: datetime, history: Sequence[Deployment], latest_event: datetime | None) -> None:
    """EffectiveTimeError when ``at`` is not after the latest deployment, or before the latest engine event."""
    if history and at <= history[-1].effective_at:
        raise EffectiveTimeError(
            f"effective time {at.isoformat()} is not after deployment {history[-1].deployment_id}'s "
            f"({history[-1].effective_at.isoformat()}): choose a later --at"
        )
    if latest_event is not None and at < latest_event:
        raise EffectiveTimeError(
            f"effective time {at.isoformat()} is before the latest recorded engine decision "
            f"({latest_event.isoformat()}), which was decided under the deployment before: choose a later --at"
        )


def _versions(d: Deployment, journey_id: str) -> set[int]:
    found = {v for j, v in d.stable.items() if j == journey_id}
    rollout = d.rollouts.get(journey_id)
    return found | ({rollout.candidate_version, rollout.stable_version} if rollout else set())


def _selected(d: Deployment) -> set[tuple[str, int]]:
    return {*d.stable.items(), *((r.journey_id, r.candidate_version) for r in d.rollouts.values())}
