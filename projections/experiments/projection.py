"""Events -> experiment_assignments rows. Pure.

Three draws make a row. A journey's split (journey.branch_taken with ``split``): the unit is the instance, the
experiment its journey, step and salt, so a new salt starts a new experiment. The global holdout
(experiment.assigned): the unit is the patient, recorded in both arms, its weights the holdout's share and the
rest in basis points. A staged rollout (journey.started with ``rollout``): the unit is the instance, the experiment
its journey, candidate version and salt, the arms candidate and stable (the control: the version every other entry
starts on), the weights the candidate's share and the rest in basis points. A branch that no split drew is not an
assignment. The first draw of a unit is kept: a split step reached again in the same instance draws the same arm
(the hash is sticky), and keeps the first time.
Weights are kept as JSON text (a mapping needs no database driver's wrapper); analytics.experiment_assignments
shows them as jsonb.
"""

from __future__ import annotations

import json
from typing import Any

from events import experiments as ex
from events import journey as jo
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

TABLE = "experiment_assignments"
KEY = ("experiment_id", "unit_id")
FIRST = ("assigned_at", "event_id")  # written only when the row is new
BASIS_POINTS = 10_000


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operation for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, jo.BranchTaken) and e.split is not None:
        return [_split(e, e.split)]
    if isinstance(e, ex.ExperimentAssigned):
        return [_global(e)]
    if isinstance(e, jo.JourneyStarted) and e.rollout is not None:
        return [_rollout(e, e.rollout)]
    return []


def split_experiment_id(journey_id: str, step_id: str, salt: str | None) -> str:
    """A split's experiment: its journey, its step and its salt (empty when unknown or none)."""
    return f"{journey_id}/{step_id}@{salt or ''}"


def rollout_experiment_id(journey_id: str, candidate_version: int, salt: str) -> str:
    """A staged rollout's experiment: its journey, candidate version and salt (a new salt, a new experiment)."""
    return f"{journey_id}@v{candidate_version}/{salt}"


def _split(e: jo.BranchTaken, draw: jo.SplitDraw) -> Upsert:
    step_id = e.step_id or ""  # a split's branch_taken always names its step
    row = {
        "experiment_id": split_experiment_id(e.journey_id, step_id, draw.salt),
        "unit_id": e.instance_id,
        "patient_id": e.patient_id,
        "kind": "journey_split",
        "journey_id": e.journey_id,
        "step_id": e.step_id,
        "instance_id": e.instance_id,
        "arm": e.branch,
        "holdout": e.holdout,
        "weights": _json(draw.weights),
        "salt": draw.salt,
        "assigned_at": e.occurred_at,
        "event_id": e.event_id,
    }
    return Upsert(TABLE, KEY, row, keep=FIRST)


def _global(e: ex.ExperimentAssigned) -> Upsert:
    row = {
        "experiment_id": e.experiment_id,
        "unit_id": e.patient_id,
        "patient_id": e.patient_id,
        "kind": e.kind,
        "journey_id": None,
        "step_id": None,
        "instance_id": None,
        "arm": e.arm,
        "holdout": e.holdout,
        "weights": _json({"holdout": e.share_bp, "treated": BASIS_POINTS - e.share_bp}),
        "salt": e.salt,
        "assigned_at": e.occurred_at,
        "event_id": e.event_id,
    }
    return Upsert(TABLE, KEY, row, keep=FIRST)


def _rollout(e: jo.JourneyStarted, draw: jo.RolloutDraw) -> Upsert:
    row = {
        "experiment_id": rollout_experiment_id(e.journey_id, draw.candidate_version, draw.salt),
        "unit_id": e.instance_id,
        "patient_id": e.patient_id,
        "kind": "journey_rollout",
        "journey_id": e.journey_id,
        "step_id": None,
        "instance_id": e.instance_id,
        "arm": draw.arm,
        "holdout": draw.arm == "stable",
        "weights": _json({"candidate": draw.share_bp, "stable": BASIS_POINTS - draw.share_bp}),
        "salt": draw.salt,
        "assigned_at": e.occurred_at,
        "event_id": e.event_id,
    }
    return Upsert(TABLE, KEY, row, keep=FIRST)


def _json(weights: dict[str, Any] | None) -> str | None:
    return None if weights is None else json.dumps(weights)


PROJECTION = Projection(
    name="experiments",
    tables=(TABLE,),
    changes=changes,
    reads=(jo.BranchTaken, ex.ExperimentAssigned, jo.JourneyStarted),
    package=__package__ or __name__,
)
