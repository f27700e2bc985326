"""How the synthetic hospital's patients answer careloop's messages: a behavioural model whose effect is known.

Per journey, an `Effect`: the chance that a patient who entered the journey comes back (a visit on a later day,
within the window after entry) when treated, and when held out. The model is open loop and intention to treat:
a patient's arm comes from the same pure functions the core decides with (`assignment.in_global_holdout` for the
global holdout, `assignment.bucket` for a journey's own split), never from what the pipeline sent, so the true
effect on the patients who entered a journey is exactly ``p_treated - p_holdout`` (see `Effect.true_effect`).

The hospital (engine.demo.hospital) leaves the window to this model alone: for a patient of such a journey it
adds no visit of its own in the window, so whether the patient came back is the draw here and nothing else.

Pure: no I/O, no clock. Each patient's draws come from a `random.Random` of their own, seeded with the hospital's
seed and the patient's id, so turning the model on leaves the hospital's own random stream untouched.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from engine.journeys import definition as d
from engine.journeys.assignment import bucket, in_global_holdout

if TYPE_CHECKING:
    from engine.journeys.catalog import Catalog
    from engine.journeys.policy import GlobalHoldout


class BehaviourError(ValueError):
    """The model does not fit the journeys it is run with; the message names the journey and what is missing."""


@dataclass(frozen=True, slots=True)
class Effect:
    """A return visit within ``window_days`` of entering the journey (on a later day) with probability
    ``p_treated`` in the treated arm and ``p_holdout`` in the holdout arm of ``experiment``. ``endpoint`` names
    how `careloop report experiment` measures that return (``revisit`` or, after a discharge, ``followup``)."""

    endpoint: Literal["revisit", "followup"]
    window_days: int
    p_treated: float
    p_holdout: float
    experiment: Literal["global_holdout", "split"] = "global_holdout"

    def __post_init__(self) -> None:
        for name in ("p_treated", "p_holdout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise BehaviourError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.window_days < 2:
            raise BehaviourError(f"window_days must be at least 2 (a return on a later day), got {self.window_days}")

    @property
    def true_effect(self) -> float:
        """Treated minus holdout: the intention-to-treat difference the report must recover."""
        return self.p_treated - self.p_holdout

    @property
    def report_endpoint(self) -> str:
        """The endpoint's name in `careloop report experiment` (e.g. ``revisit_90d``)."""
        return f"{self.endpoint}_{self.window_days}d"


# The single source for the ground-truth test, the demo's closing table and the docs.
EFFECTS: Mapping[str, Effect] = MappingProxyType(
    {
        "post-op-follow-up": Effect("followup", 30, p_treated=0.70, p_holdout=0.40),
        "diabetes-care": Effect("revisit", 90, p_treated=0.75, p_holdout=0.50),
        "dental-implant-follow-up": Effect("revisit", 90, p_treated=0.60, p_holdout=0.40),
        # The negative control: a satisfaction survey brings no one back. Measured on the journey's own split.
        "post-visit-satisfaction": Effect("revisit", 30, p_treated=0.35, p_holdout=0.35, experiment="split"),
    }
)


@dataclass(frozen=True, slots=True)
class _Split:
    salt: str
    step_id: str
    arms: tuple[tuple[int, bool], ...]  # (weight, holdout) in the file's order, as steps._split walks them

    def held_out(self, patient_id: str, journey_id: str) -> bool:
        rest = bucket(self.salt, patient_id, journey_id, self.step_id, modulus=sum(w for w, _ in self.arms))
        for weight, holdout in self.arms:
            if rest < weight:
                return holdout
            rest -= weight
        raise AssertionError("a bucket below the weights' sum falls in an arm")  # unreachable: bucket < total


@dataclass(frozen=True, slots=True)
class Behaviour:
    """The model bound to the journeys it runs with. Build it with `of`, which checks that each effect can be
    measured there."""

    effects: Mapping[str, Effect]
    holdout: GlobalHoldout | None = None
    splits: Mapping[str, _Split] = field(default_factory=dict)

    @classmethod
    def of(cls, catalog: Catalog, effects: Mapping[str, Effect] = EFFECTS) -> Behaviour:
        holdout = catalog.outreach.global_holdout
        splits: dict[str, _Split] = {}
        for journey_id, effect in effects.items():
            journey = catalog.current.get(journey_id)
            if journey is None:
                raise BehaviourError(f"effect for journey {journey_id!r}, which is not in the catalog")
            if effect.experiment == "split":
                splits[journey_id] = _split_of(journey)
            elif holdout is None:
                raise BehaviourError(
                    f"effect for journey {journey_id!r} against the global holdout, but the journeys configure none "
                    "(outreach.global_holdout)"
                )
            else:
                _check_held_out(journey, holdout, catalog.outreach.preempt_priority)
        return cls(effects=dict(effects), holdout=holdout, splits=splits)

    def held_out(self, journey_id: str, patient_id: str) -> bool:
        """Whether the patient is in the holdout arm of the experiment ``journey_id``'s effect is measured on."""
        effect = self.effects[journey_id]
        if effect.experiment == "split":
            return self.splits[journey_id].held_out(patient_id, journey_id)
        assert self.holdout is not None  # `of` refused an effect against a global holdout that is not configured
        return in_global_holdout(patient_id, self.holdout)

    def patient(self, seed: int, patient_id: str) -> PatientBehaviour:
        """One patient's draws, from a generator of their own."""
        return PatientBehaviour(self, patient_id, random.Random(f"behaviour-{seed}-{patient_id}"))


@dataclass(slots=True)
class PatientBehaviour:
    model: Behaviour
    patient_id: str
    rng: random.Random

    def covers(self, journey_id: str) -> bool:
        """Whether the model, not the hospital, decides this journey's return visit."""
        return journey_id in self.model.effects

    def return_at(self, journey_id: str, entry: datetime) -> datetime | None:
        """The patient's return visit after entering ``journey_id`` at ``entry``, or None if they do not come back
        in the window. Its day is 1 to window - 1 days after the entry's (in the entry's time zone, the hospital's),
        so it counts whether a window is counted in days from the entry's day or from the entry's moment."""
        effect = self.model.effects[journey_id]
        p = effect.p_holdout if self.model.held_out(journey_id, self.patient_id) else effect.p_treated
        comes_back = self.rng.random() < p
        day, hour = self.rng.randint(1, effect.window_days - 1), self.rng.randrange(8, 17)
        if not comes_back:
            return None
        return datetime.combine(entry.date() + timedelta(days=day), time(hour), tzinfo=entry.tzinfo)

    def in_window(self, journey_id: str, entry: datetime, moment: datetime) -> bool:
        """Whether ``moment`` is on a day in (entry's day, entry's day + window]: the days the model decides."""
        if journey_id not in self.model.effects:
            return False
        days = (moment.astimezone(entry.tzinfo).date() - entry.date()).days
        return 0 < days <= self.model.effects[journey_id].window_days


def _split_of(journey: d.Journey) -> _Split:
    steps = [s for s in journey.steps if isinstance(s, d.SplitStep)]
    if len(steps) != 1:
        raise BehaviourError(f"effect on journey {journey.id!r}'s split, but it has {len(steps)} split steps, not 1")
    step = steps[0]
    return _Split(step.split.salt or "", step.id, tuple((a.weight, a.holdout) for a in step.split.arms))


def _check_held_out(journey: d.Journey, holdout: GlobalHoldout, preempt_priority: int) -> None:
    # The effect is that of the journey's messages, so the holdout must get none of them: a journey some of whose
    # messages reach held-out patients too (transactional, exempt, pre-empting) would credit the holdout's rate
    # with messages it got.
    if journey.id in holdout.exempt_journeys:
        raise BehaviourError(f"effect for journey {journey.id!r}, which the global holdout exempts")
    sent_anyway = [
        s.id
        for s in journey.steps
        if isinstance(s, d.MessageStep)
        and (s.message.category not in holdout.categories or s.message.priority >= preempt_priority)
    ]
    if sent_anyway:
        raise BehaviourError(
            f"effect for journey {journey.id!r}, whose messages {', '.join(sent_anyway)} the global holdout does "
            f"not withhold (categories {', '.join(holdout.categories)}, priority below {preempt_priority})"
        )
