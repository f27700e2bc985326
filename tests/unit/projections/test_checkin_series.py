"""checkin_series: one row per ask of a check-in step (answered or missed, a second answer replacing the first) and
one row per alert with the values, statistic and threshold behind it; erasure deletes the patient's rows; a page
applied twice changes nothing."""

from __future__ import annotations

import json

from events import checkins as ck
from events.patient import PatientErased
from projections.checkin_series.projection import PROJECTION, changes
from projections.memory import MemoryTables
from tests.builders import at, event
from tests.unit.projections.fold import column, engine

P, OTHER = "P-diary", "P-other"
STEP = {"instance_id": "i-1", "journey_id": "symptom-diary", "step_id": "diary"}


def answered(n: int, value: float, when: str, response: str, patient: str = P) -> ck.CheckinRecorded:
    return engine(
        ck.CheckinRecorded,
        patient,
        at(when),
        n=n,
        event_id=f"{patient}-recorded-{response}",
        **STEP,
        at=at(when),
        value=value,
        response_id=response,
        response_event_id=f"ev-{response}",
    )


def missed(n: int, when: str, patient: str = P) -> ck.CheckinMissed:
    return engine(ck.CheckinMissed, patient, at(when), n=n, event_id=f"{patient}-missed-{n}", **STEP)


def alerted(patient: str = P) -> ck.CheckinAlerted:
    values = tuple(
        ck.CheckinValue(at=at(f"2027-03-0{d} 20:30"), value=v, response_id=f"R{d}")
        for d, v in zip(range(1, 6), (2, 3, 3, 5, 6), strict=True)
    )
    return engine(
        ck.CheckinAlerted,
        patient,
        at("2027-03-05 20:30"),
        event_id=f"{patient}-alerted",
        **STEP,
        next_step_id="doctor",
        alert="rising",
        kind="rising",
        values=values,
        statistic=ck.TrendStatistic(tau=0.948683, p_value=0.011489, sen_slope_per_day=1.0),
        threshold={"last": 5, "alpha": 0.05, "min_slope": 0.5},
        reason="rising over the last 5 values",
    )


def fold(events) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


def test_each_ask_is_a_row_answered_or_missed():
    tables = fold([answered(1, 2, "2027-03-01 20:30", "R1"), missed(2, "2027-03-03 20:00")])

    rows = column(tables.rows("checkin_series"), "n", "value", "response_id", "missed", "answered_at")
    assert rows == [(1, 2.0, "R1", False, at("2027-03-01 20:30")), (2, None, None, True, None)]


def test_a_second_answer_to_the_same_ask_replaces_the_first():
    tables = fold([answered(1, 3, "2027-03-01 20:10", "a"), answered(1, 4, "2027-03-01 22:00", "b")])

    assert column(tables.rows("checkin_series"), "n", "value", "response_id") == [(1, 4.0, "b")]


def test_an_alert_keeps_its_values_statistic_and_threshold_as_json():
    (row,) = fold([alerted()]).rows("checkin_alerts")

    assert (row["alert"], row["kind"], row["n_values"], row["next_step_id"]) == ("rising", "rising", 5, "doctor")
    assert (row["first_value_at"], row["last_value_at"]) == (at("2027-03-01 20:30"), at("2027-03-05 20:30"))
    assert [v["value"] for v in json.loads(row["value_list"])] == [2, 3, 3, 5, 6]
    assert json.loads(row["statistic"]) == {"tau": 0.948683, "p_value": 0.011489, "sen_slope_per_day": 1.0}
    assert json.loads(row["threshold"]) == {"last": 5, "alpha": 0.05, "min_slope": 0.5}


def test_erasure_deletes_the_patients_rows_and_only_theirs():
    story = [answered(1, 2, "2027-03-01 20:30", "R1"), alerted(), answered(1, 5, "2027-03-01 20:40", "X", OTHER)]
    erased = event(PatientErased, P, at("2027-03-06 09:00"), reason="request", requested_by="staff-1", key_epoch=1)

    tables = fold([*story, erased])

    assert column(tables.rows("checkin_series"), "patient_id") == [(OTHER,)]
    assert tables.rows("checkin_alerts") == []


def test_a_page_applied_twice_changes_nothing():
    story = [answered(1, 2, "2027-03-01 20:30", "R1"), missed(2, "2027-03-03 20:00"), alerted()]
    once = fold(story)
    twice = fold(story)
    for seq, e in enumerate(story, start=1):
        twice.apply(changes(e, seq))

    assert {t: once.rows(t) for t in once.tables} == {t: twice.rows(t) for t in twice.tables}
