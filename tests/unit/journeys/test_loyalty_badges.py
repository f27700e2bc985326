"""Badges counted over several matching events, on the Simulation with a programme of their own: five outpatient
visits within 12 months award steady-visitor once, with the five visits as evidence; visits spread wider count only
those within 12 months of the newest; the progress is recorded (badge.progressed), folded back by replay and told by
explain; a badge of times: 1 is awarded on its first match as before."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import replay
from engine.journeys.explain import explain
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from engine.journeys.timeline import timeline
from engine.language.loader import load_catalog
from events import encounters as en
from events import loyalty as lo
from tests.builders import at, recorded, registered, visit

PROGRAMME = """\
settings: {hospital_timezone: Asia/Shanghai}
journeys:
  - id: nothing
    version: 1
    name: A journey no event enters
    entry: {event: patient.deceased}
    steps:
      - {id: note, flag: {reason: never, weight: 1}}
loyalty:
  version: 1
  badges:
    - id: steady-visitor
      on: encounter.completed
      when: [{field: event.encounter_class, in: [outpatient]}]
      times: 5
      within: 12mo
      points: 100
"""
FIRST_VISIT = "    - {id: first-visit, on: encounter.completed, points: 10}\n"
NO_BADGES = (
    PROGRAMME[: PROGRAMME.index("  badges:")] + "  earn:\n    - {id: visit, on: encounter.completed, points: 5}\n"
)


def programme(tmp_path: Path, text: str = PROGRAMME) -> Catalog:
    path = tmp_path / "journeys.yaml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def visits(*days: str) -> list[en.EncounterCompleted]:
    return [visit("P1", at(f"{day} 10:00")) for day in days]


def simulated(catalog: Catalog, *events: en.EncounterCompleted) -> Simulation:
    sim = Simulation(catalog)
    sim.feed([registered("P1", at("2025-01-02 09:00")), *events])
    sim.run_until(at("2026-12-31 00:00"))
    return sim


def counts(sim: Simulation) -> list[tuple[datetime, int, tuple[str, ...]]]:
    return [(e.occurred_at, e.count, e.evidence) for e in recorded(sim, "P1", lo.BadgeProgressed)]


def test_five_visits_within_twelve_months_award_the_badge_once_with_the_five_visits_as_evidence(
    tmp_path: Path,
) -> None:
    five = visits("2025-01-10", "2025-03-10", "2025-06-10", "2025-09-10", "2025-12-10")
    emergency = visit("P1", at("2025-02-01 10:00"), encounter_class="emergency")  # its `when` does not hold
    sixth = visit("P1", at("2026-01-20 10:00"))
    sim = simulated(programme(tmp_path), five[0], emergency, *five[1:], sixth)

    (awarded,) = recorded(sim, "P1", lo.BadgeAwarded)
    assert awarded.badge_id == "steady-visitor" and awarded.evidence == tuple(v.event_id for v in five)
    assert (awarded.occurred_at, awarded.points) == (at("2025-12-10 10:00"), 100)
    assert (
        awarded.reason == f"badge steady-visitor for encounter.completed (5 of 5 within 12mo), +100 {awarded.batch_id}"
    )
    # one progress per visit before the fifth, each with the visits counted so far; none for the emergency visit
    # or for the sixth visit: an awarded badge is counted no more
    assert counts(sim) == [(v.occurred_at, n, tuple(w.event_id for w in five[:n])) for n, v in enumerate(five[:4], 1)]
    loyalty = sim.state("P1").loyalty
    assert loyalty is not None and loyalty.progress == {} and loyalty.ledger.totals().available == 100


def test_visits_spread_over_fourteen_months_award_only_once_twelve_months_hold_five(tmp_path: Path) -> None:
    spread = visits("2025-01-10", "2025-04-25", "2025-08-10", "2025-11-25", "2026-03-10")
    sim = simulated(programme(tmp_path), *spread)

    assert recorded(sim, "P1", lo.BadgeAwarded) == []
    *_, last = recorded(sim, "P1", lo.BadgeProgressed)
    # the January visit is more than 12 months before the fifth: four are counted, and the line says why
    assert (last.count, last.evidence) == (4, tuple(v.event_id for v in spread[1:]))
    assert last.reason == "badge steady-visitor: 4 of 5 within 12mo (1 earlier match no longer within 12mo)"
    loyalty = sim.state("P1").loyalty
    assert loyalty is not None
    assert loyalty.progress["steady-visitor"] == tuple((v.event_id, v.occurred_at) for v in spread[1:])

    # twelve months to the minute after the April visit: the window holds both ends, five visits
    edge = visit("P1", at("2026-04-25 10:00"))
    sim = simulated(programme(tmp_path), *spread, edge)
    (awarded,) = recorded(sim, "P1", lo.BadgeAwarded)
    assert awarded.evidence == tuple(v.event_id for v in (*spread[1:], edge))


def test_a_late_visit_is_counted_in_the_order_the_visits_happened(tmp_path: Path) -> None:
    early, late_arriving, newest = visits("2025-02-01", "2025-03-01", "2025-04-01")
    sim = simulated(programme(tmp_path), early, newest, late_arriving)

    *_, last = recorded(sim, "P1", lo.BadgeProgressed)
    assert last.evidence == (early.event_id, late_arriving.event_id, newest.event_id)
    assert last.matched_at == (early.occurred_at, late_arriving.occurred_at, newest.occurred_at)


def test_a_badge_of_times_one_is_awarded_on_its_first_match_without_progress(tmp_path: Path) -> None:
    first, second = visits("2025-01-10", "2025-02-10")
    sim = simulated(programme(tmp_path, PROGRAMME + FIRST_VISIT), first, second)

    once = [e for e in recorded(sim, "P1", lo.BadgeAwarded) if e.badge_id == "first-visit"]
    assert [(e.evidence, e.occurred_at, e.points) for e in once] == [((first.event_id,), first.occurred_at, 10)]
    assert once[0].reason == f"badge first-visit for encounter.completed, +10 {once[0].batch_id}"
    assert {e.badge_id for e in recorded(sim, "P1", lo.BadgeProgressed)} == {"steady-visitor"}


def test_replay_folds_the_recorded_progress_and_award_to_the_same_state(tmp_path: Path) -> None:
    days = ("2025-01-10", "2025-04-25", "2025-08-10", "2025-11-25", "2026-03-10")
    for fed in (visits(*days[:3]), visits(*days), visits(*days, "2026-04-25")):
        sim = simulated(programme(tmp_path), *fed)
        assert replay(sim.recorded["P1"], PatientState("P1")) == sim.state("P1")


def test_explain_and_the_timeline_tell_each_visit_counted_and_the_award(tmp_path: Path) -> None:
    sim = simulated(programme(tmp_path), *visits("2025-01-10", "2025-03-10", "2025-06-10", "2025-09-10", "2025-12-10"))
    lines = [text for _, text in explain("P1", sim.recorded["P1"]).loyalty if text.startswith("badge.")]

    assert lines[:4] == [f"badge.progressed: badge steady-visitor: {n} of 5 within 12mo" for n in (1, 2, 3, 4)]
    assert lines[4].startswith(
        "badge.awarded: badge steady-visitor for encounter.completed (5 of 5 within 12mo), +100 "
    )
    assert len(lines) == 5
    rows = timeline(sim.recorded["P1"], ZoneInfo("Asia/Shanghai"))
    assert [r.detail for r in rows if r.kind.startswith("badge.")] == [
        *(f"steady-visitor {n} of 5" for n in (1, 2, 3, 4)),
        "steady-visitor",
    ]


def test_a_programme_without_badges_records_no_badge_events_and_keeps_no_progress(tmp_path: Path) -> None:
    sim = simulated(programme(tmp_path, NO_BADGES), *visits("2025-01-10", "2025-03-10"))

    assert [e for e in sim.recorded["P1"] if e.type.startswith("badge.")] == []
    loyalty = sim.state("P1").loyalty
    assert loyalty is not None and loyalty.progress == {} and len(recorded(sim, "P1", lo.PointsEarned)) == 2
