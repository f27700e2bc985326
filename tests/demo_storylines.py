"""The synthetic hospital's storylines (engine.demo.hospital) read back from its clinical events, for tests that
count the outcomes independently of the analytics views: where a journey's storyline starts, and what is a visit."""

from __future__ import annotations

from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events.base import Event

SURGICAL = {"orthopedics", "general-surgery", "urology"}  # the surgery storyline's departments
STAYS = ("inpatient", "day_surgery")  # a visit at its discharge, and a follow-up episode


def enters(e: Event, journey_id: str) -> bool:
    """The entry event of the journey's storyline."""
    if journey_id == "post-op-follow-up":
        return isinstance(e, en.EncounterDischarged) and e.department in SURGICAL
    if journey_id == "diabetes-care":
        return isinstance(e, fi.ConditionDiagnosed) and e.code.code.startswith("E11")
    if journey_id == "dental-implant-follow-up":
        return isinstance(e, en.ProcedureCompleted) and e.category == "dental"
    raise AssertionError(f"no storyline entry known for {journey_id}")


def is_visit(e: Event) -> bool:
    """A visit as analytics.visits has them: an attended appointment, a discharge, an encounter's completion unless
    it is a stay's (whose visit is its discharge)."""
    if isinstance(e, en.EncounterCompleted):
        return e.encounter_class not in STAYS
    return isinstance(e, (ap.AppointmentAttended, en.EncounterDischarged))
