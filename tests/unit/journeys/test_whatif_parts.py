"""The what-if cut into parts that replay apart (what `careloop whatif --jobs N` runs in N processes): every patient's
events in one part, patients a merge joins together, and the parts' reports combined equal the whole history's."""

from __future__ import annotations

from engine.journeys.whatif import combined, parts, related, whatif
from events import patient as pa
from events.base import Event
from tests.builders import at, booked, catalog, discharge, event, registered, visit
from tests.unit.journeys.test_whatif import UNTIL, day_2_call, exit_on_booking, history


def merged(retired: str, into: str, when: str) -> pa.PatientMerged:
    return event(pa.PatientMerged, retired, at(when), into_patient_id=into)


def hospital() -> list[Event]:
    """history()'s three patients, a booking for P1, a surgical discharge filed under a duplicate record P-dup and
    merged into P3 on day 1 (P3's follow-up comes from the hand-over) before P3 books, then P4 and P5 discharged."""
    return [
        *history(),
        booked("P1", at("2026-03-06 11:00"), start_at=at("2026-04-20 09:00")),
        discharge("P-dup", at("2026-03-12 10:00"), department="orthopedics", encounter_id="E-9"),
        registered("P4", at("2026-03-12 11:00")),
        merged("P-dup", "P3", "2026-03-13 08:00"),
        booked("P3", at("2026-03-14 09:00"), start_at=at("2026-04-20 09:00")),
        discharge("P4", at("2026-03-14 10:00"), encounter_id="E4"),
        discharge("P5", at("2026-03-15 10:00"), encounter_id="E5"),
        visit("P4", at("2026-03-25 09:00")),
    ]


def test_each_part_holds_whole_patients_in_recorded_order_and_a_merge_keeps_both_records_together() -> None:
    events = hospital()

    cut = parts(events, 3)

    assert 2 <= len(cut) <= 3
    assert sorted((e for part in cut for e in part), key=events.index) == events
    for part in cut:
        assert part == sorted(part, key=events.index)
    where = {e.patient_id: i for i, part in enumerate(cut) for e in part}
    assert all(where[e.patient_id] == i for i, part in enumerate(cut) for e in part)  # a patient in one part only
    assert where["P-dup"] == where["P3"]


def test_parts_are_about_equal_and_never_more_than_asked() -> None:
    events = [registered(f"P{n}", at("2026-01-02 08:00")) for n in range(10)]

    assert [len(p) for p in parts(events, 3)] == [4, 4, 2]
    assert [len(p) for p in parts(events, 1)] == [10]
    assert [len(p) for p in parts(events, 20)] == [1] * 10
    assert parts([], 4) == []


def test_a_chain_of_merges_is_one_group() -> None:
    events = [
        registered("A", at("2026-01-02 08:00")),
        registered("B", at("2026-01-02 08:00")),
        registered("C", at("2026-01-02 08:00")),
        merged("A", "B", "2026-01-03 08:00"),
        merged("C", "B", "2026-01-04 08:00"),
    ]

    assert parts(events, 3) == [events]


def test_the_parts_reports_combined_equal_the_whole_historys() -> None:
    events = hospital()
    for new in (day_2_call(), exit_on_booking()):
        whole = whatif(events, catalog(), new, UNTIL)
        assert any(d.patient_id == "P3" for d in whole.differences)  # the merged follow-up is compared too

        pieces = combined(None, UNTIL, (whatif(part, catalog(), new, UNTIL) for part in parts(events, len(events))))

        assert pieces == whole


def test_a_merge_split_from_its_survivor_would_lose_the_hand_over() -> None:
    # Why merges join parts: replayed apart from P-dup, P3's booking would find no follow-up to exit, and the
    # follow-up handed over would never see the booking.
    events = hospital()
    apart = [e for e in events if e.patient_id != "P3"], [e for e in events if e.patient_id == "P3"]
    whole = whatif(events, catalog(), exit_on_booking(), UNTIL)
    assert ("added", "P3", "exit") in [(d.change, d.patient_id, d.kind) for d in whole.differences]

    pieces = combined(None, UNTIL, (whatif(part, catalog(), exit_on_booking(), UNTIL) for part in apart))

    assert not any(d.patient_id == "P3" for d in pieces.differences)


def test_the_patients_asked_for_are_replayed_with_the_records_merged_into_them_and_nobody_else() -> None:
    events = hospital()

    assert related(events, ["P3"]) == [e for e in events if e.patient_id in ("P3", "P-dup")]
    assert related(events, ["P-dup", "P5"]) == [e for e in events if e.patient_id in ("P3", "P-dup", "P5")]
    whole = whatif(events, catalog(), exit_on_booking(), UNTIL)
    asked = whatif(events, catalog(), exit_on_booking(), UNTIL, patients=["P3"])
    assert asked.differences == [d for d in whole.differences if d.patient_id == "P3"] != []
