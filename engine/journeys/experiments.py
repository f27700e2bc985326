"""Experiments that span journeys: the global holdout's assignment, recorded once per patient. Pure.

The arm is drawn from the patient id and the configured salt alone (assignment.py), so a replay, a simulation
and the live worker give every patient the same arm; ``experiment.assigned`` records it, in both arms, so the
analysts know who was assigned even when a held-out patient gets no message at all.
"""

from __future__ import annotations

from engine.journeys.assignment import in_global_holdout
from engine.journeys.run import Run
from events.experiments import ExperimentAssigned


def assign(run: Run) -> None:
    """At a journey.started: the patient's arm of the global holdout, unless already recorded (or none is set)."""
    holdout = run.catalog.outreach.global_holdout
    if holdout is None or holdout.id in run.state.experiments:
        return
    held = in_global_holdout(run.state.patient_id, holdout)
    run.emit(
        ExperimentAssigned,
        experiment_id=holdout.id,
        kind="global_holdout",
        arm="holdout" if held else "treated",
        holdout=held,
        share_bp=holdout.share_bp,
        salt=holdout.salt,
    )
