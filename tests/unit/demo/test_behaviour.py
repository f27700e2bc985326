"""The synthetic hospital's behavioural model: who comes back after a journey, with an effect known exactly.

The effect is only known if the model's draw alone decides the return: these tests check that a covered patient
has no other visit in the window, that the arms come from the core's own assignment (the split's arms compared
with what the simulation decided), that the observed rates sit where the model puts them, and that without the
model the hospital is the one it always was.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from math import sqrt
from pathlib import Path

import pytest

from engine.demo.behaviour import EFFECTS, Behaviour, BehaviourError, Effect
from engine.demo.hospital import generate
from engine.demo.overlay import Holdout, OverlayError, with_global_holdout
from engine.journeys.assignment import in_global_holdout
from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import journey as jo
from events.base import Event
from tests.builders import CST, JOURNEYS, catalog

SEED = 20260105
# Every storyline a covered journey starts, more often than the demo has them, so each arm has hundreds.
MEASURED = {"surgery": 0.35, "diabetes": 0.25, "implant": 0.20, "outpatient": 0.20}
ENTRIES: dict[str, type[Event]] = {
    "post-op-follow-up": en.EncounterDischarged,
    "diabetes-care": fi.ConditionDiagnosed,
    "dental-implant-follow-up": en.ProcedureCompleted,
    "post-visit-satisfaction": en.EncounterCompleted,
}
SURGICAL = {"orthopedics", "general-surgery", "urology"}
VISITS = (ap.AppointmentAttended, en.EncounterCompleted, en.EncounterDischarged)


@pytest.fixture(scope="module")
def holdout_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    folder = tmp_path_factory.mktemp("journeys")
    return load_catalog(with_global_holdout(JOURNEYS, folder / "journeys.yaml", Holdout(share=30)))


@pytest.fixture(scope="module")
def behaviour(holdout_catalog: Catalog) -> Behaviour:
    return Behaviour.of(holdout_catalog)


@pytest.fixture(scope="module")
def hospital(behaviour: Behaviour) -> list[Event]:
    return generate(patients=3000, seed=SEED, days=120, weights=MEASURED, behaviour=behaviour)


def by_patient(events: Iterable[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for e in events:
        out.setdefault(e.patient_id, []).append(e)
    return out


def entries(events: list[Event], journey_id: str) -> dict[str, date]:
    """Each patient's first entry into ``journey_id``'s storyline, as its local day."""
    out: dict[str, date] = {}
    for e in sorted(events, key=lambda e: e.occurred_at):
        if isinstance(e, ENTRIES[journey_id]) and enters(e, journey_id):
            out.setdefault(e.patient_id, e.occurred_at.astimezone(CST).date())
    return out


def enters(e: Event, journey_id: str) -> bool:
    """The storyline's own entry event (not a childbirth's discharge, a hypertension diagnosis, a chronic visit)."""
    if isinstance(e, en.EncounterDischarged):
        return e.department in SURGICAL
    if isinstance(e, fi.ConditionDiagnosed):
        return e.code.code.startswith("E11")
    if isinstance(e, en.EncounterCompleted):
        return e.department == "ent"
    return True


def visit_days(events: list[Event], entered: date, window: int) -> list[int]:
    """Days after ``entered`` of the patient's visits in (entered, entered + window]."""
    days = [(e.occurred_at.astimezone(CST).date() - entered).days for e in events if isinstance(e, VISITS)]
    return [d for d in days if 0 < d <= window]


# --- the model alone decides the window ------------------------------------------------------------------------


@pytest.mark.parametrize("journey_id", [j for j, e in EFFECTS.items() if e.true_effect != 0])
def test_a_covered_patient_has_at_most_the_models_visit_in_the_window(hospital: list[Event], journey_id: str) -> None:
    window = EFFECTS[journey_id].window_days
    patients = by_patient(hospital)
    entered = entries(hospital, journey_id)
    assert len(entered) > 300

    in_window = {p: visit_days(patients[p], day, window) for p, day in entered.items()}

    assert {len(days) for days in in_window.values()} == {0, 1}
    assert all(1 <= d <= window - 1 for days in in_window.values() for d in days)


def test_a_covered_patient_lives_that_one_storyline(hospital: list[Event]) -> None:
    patients = by_patient(hospital)
    surgical = entries(hospital, "post-op-follow-up")

    others = [
        p
        for p in surgical
        if any(isinstance(e, (fi.ConditionDiagnosed, ap.AppointmentBooked, en.ProcedureCompleted)) for e in patients[p])
    ]

    assert others == []


@pytest.mark.parametrize("journey_id", list(EFFECTS))
def test_the_return_rate_of_each_arm_is_the_models(
    hospital: list[Event], behaviour: Behaviour, holdout_catalog: Catalog, journey_id: str
) -> None:
    effect = EFFECTS[journey_id]
    patients = by_patient(hospital)
    came, total = Counter[bool](), Counter[bool]()
    for patient_id, entered in entries(hospital, journey_id).items():
        held = behaviour.held_out(journey_id, patient_id)
        total[held] += 1
        came[held] += bool(visit_days(patients[patient_id], entered, effect.window_days))

    for held, p in ((True, effect.p_holdout), (False, effect.p_treated)):
        rate = came[held] / total[held]
        assert total[held] >= 40, (journey_id, held, total[held])
        # Four standard errors: a bound a correct model misses once in ~16,000 looks.
        assert abs(rate - p) < 4 * sqrt(p * (1 - p) / total[held]), (journey_id, held, rate, p, total[held])


def test_the_global_holdout_arm_is_the_cores_assignment(behaviour: Behaviour, holdout_catalog: Catalog) -> None:
    config = holdout_catalog.outreach.global_holdout
    assert config is not None
    patients = [f"SYN{n:05d}" for n in range(1, 2001)]

    held = [p for p in patients if behaviour.held_out("post-op-follow-up", p)]

    assert held == [p for p in patients if in_global_holdout(p, config)]
    assert 0.25 < len(held) / len(patients) < 0.35  # share 30


def test_the_splits_arm_is_the_one_the_simulation_takes(hospital: list[Event], behaviour: Behaviour) -> None:
    patients = set(sorted(entries(hospital, "post-visit-satisfaction"))[:400])
    surveyed = [e for e in hospital if e.patient_id in patients]
    sim = Simulation(behaviour_catalog := catalog())
    sim.feed(surveyed)
    sim.run_until(max(e.recorded_at for e in surveyed) + timedelta(days=1))
    taken = {
        e.patient_id: e.holdout
        for events in sim.recorded.values()
        for e in events
        if isinstance(e, jo.BranchTaken) and e.journey_id == "post-visit-satisfaction"
    }
    assert len(taken) > 100 and any(taken.values()), "the survey's split must draw both arms"

    model = Behaviour.of(behaviour_catalog, {"post-visit-satisfaction": EFFECTS["post-visit-satisfaction"]})

    assert {p: model.held_out("post-visit-satisfaction", p) for p in taken} == taken


# --- what the model changes and what it leaves --------------------------------------------------------------------


def fingerprint(events: list[Event]) -> str:
    return hashlib.sha256("\n".join(as_first_written(e) for e in events).encode()).hexdigest()


def as_first_written(event: Event) -> str:
    """The event's JSON in the versions the fingerprint was taken with: patient.registered v2 only added
    ``referral`` (null from the generator), so its v1 form is that JSON without it."""
    text = event.model_dump_json()
    if event.type != "patient.registered":
        return text
    data = json.loads(text)
    assert data.pop("referral") is None, "the generator registers nobody with a referral"
    return json.dumps({**data, "schema_version": 1}, separators=(",", ":"), ensure_ascii=False)


def test_without_the_model_the_hospital_is_the_one_it_always_was() -> None:
    # Taken from the generator as it stood before the model (commit 8f50d50), which the analysts' test, the
    # benchmarks and the faults suite were written against.
    assert fingerprint(generate(patients=300, seed=3, days=182)) == (
        "8526cd2d059d8d17277aeb51ffd26c3061489cba31fdb9c0ee628d996685643d"
    )


def test_patients_the_model_does_not_cover_live_the_same_story_with_it(behaviour: Behaviour) -> None:
    plain = by_patient(generate(patients=400, seed=SEED, days=120))
    modelled = by_patient(generate(patients=400, seed=SEED, days=120, behaviour=behaviour))
    covered = (en.EncounterDischarged, fi.ConditionDiagnosed, en.ProcedureCompleted, en.EncounterCompleted)
    untouched = [p for p, events in plain.items() if not any(isinstance(e, covered) for e in events)]
    assert len(untouched) > 50

    assert {p: modelled[p] for p in untouched} == {p: plain[p] for p in untouched}


def test_the_same_seed_gives_the_same_hospital_with_the_model(behaviour: Behaviour) -> None:
    first = generate(patients=200, seed=SEED, days=120, weights=MEASURED, behaviour=behaviour)
    again = generate(patients=200, seed=SEED, days=120, weights=MEASURED, behaviour=behaviour)

    assert fingerprint(first) == fingerprint(again)


def test_storyline_weights_name_storylines_that_exist() -> None:
    with pytest.raises(ValueError, match="unknown storylines in weights: surgey"):
        generate(patients=1, weights={"surgey": 1.0})


# --- an effect must be measurable where it is run ----------------------------------------------------------------


def test_an_effect_on_transactional_reminders_is_refused(holdout_catalog: Catalog) -> None:
    # Appointment reminders are transactional: the global holdout never withholds them, so both arms get them.
    bogus = {"appointment-reminders": Effect("revisit", 30, p_treated=0.9, p_holdout=0.75)}

    with pytest.raises(BehaviourError, match="'appointment-reminders', whose messages remind-3-days, remind-1-day the"):
        Behaviour.of(holdout_catalog, bogus)


def test_an_effect_against_a_global_holdout_needs_one_configured() -> None:
    with pytest.raises(BehaviourError, match="configure none"):
        Behaviour.of(catalog())


def test_an_effect_on_a_split_needs_the_journey_to_have_one(holdout_catalog: Catalog) -> None:
    with pytest.raises(BehaviourError, match=r"'diabetes-care'.* 0 split steps"):
        Behaviour.of(holdout_catalog, {"diabetes-care": Effect("revisit", 90, 0.5, 0.5, experiment="split")})


def test_an_effect_on_an_unknown_journey_is_refused(holdout_catalog: Catalog) -> None:
    with pytest.raises(BehaviourError, match="'no-such-journey', which is not in the catalog"):
        Behaviour.of(holdout_catalog, {"no-such-journey": Effect("revisit", 30, 0.5, 0.4)})


@pytest.mark.parametrize(("window", "p"), [(1, 0.5), (30, 1.2), (30, -0.1)])
def test_an_effect_needs_a_probability_and_a_window_of_later_days(window: int, p: float) -> None:
    with pytest.raises(BehaviourError):
        Effect("revisit", window, p_treated=p, p_holdout=0.5)


def test_the_models_effects_include_a_negative_control() -> None:
    assert [j for j, e in EFFECTS.items() if e.true_effect == 0] == ["post-visit-satisfaction"]
    assert EFFECTS["post-op-follow-up"].report_endpoint == "followup_30d"


def test_a_return_is_on_a_later_day_inside_the_window(behaviour: Behaviour) -> None:
    entry = datetime(2026, 3, 1, 17, 55, tzinfo=CST)
    days = []
    for n in range(300):
        visit = behaviour.patient(SEED, f"SYN{n:05d}").return_at("diabetes-care", entry)
        if visit is not None:
            days.append((visit.date() - entry.date()).days)
            assert visit - entry < timedelta(days=90)

    assert min(days) >= 1 and max(days) <= 89


# --- the demo's journeys ---------------------------------------------------------------------------------------


def test_the_demos_journeys_are_the_shipped_ones_with_a_global_holdout(tmp_path: Path) -> None:
    written = with_global_holdout(JOURNEYS, tmp_path / "demo" / "journeys.yaml")
    demo, shipped = load_catalog(written), catalog()

    assert demo.outreach.global_holdout is not None
    assert (demo.outreach.global_holdout.id, demo.outreach.global_holdout.share_bp) == ("demo-holdout", 2000)
    assert demo.outreach.global_holdout.salt == "demo"
    assert demo.hashes == shipped.hashes  # every journey as shipped
    assert demo.outreach.model_copy(update={"global_holdout": None}) == shipped.outreach
    assert "# Outreach policy: decided before every send" in written.read_text(encoding="utf-8")


def test_a_journeys_file_with_its_own_global_holdout_is_not_overlaid(tmp_path: Path) -> None:
    mine = with_global_holdout(JOURNEYS, tmp_path / "mine.yaml", Holdout(id="hospital-holdout"))

    with pytest.raises(OverlayError, match=r"outreach\.global_holdout is already configured"):
        with_global_holdout(mine, tmp_path / "demo.yaml")
