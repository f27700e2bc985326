"""patient_timeline: the simulate timeline's rows for engine decisions, plus a row per clinical event."""

from __future__ import annotations

from engine.journeys.timeline import timeline
from events import checkins as ck
from events import journey as jo
from events import loyalty as lo
from events import relationships as rs
from events.base import Source
from events.patient import Contact
from projections.patient_timeline.projection import UTC, changes
from tests.builders import at, booked, discharge, event, recorded, registered, replied, simulation
from tests.unit.projections.fold import column, fold

P = "P-timeline"


def test_engine_decisions_get_the_rows_careloop_simulate_prints_and_waits_get_none():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-06 00:00"))

    rows = fold(sim.recorded[P]).rows("patient_timeline")
    engine_rows = sorted((r for r in rows if r["journey_id"]), key=lambda r: r["seq"])

    expected = timeline(sim.recorded[P], UTC)
    assert column(engine_rows, "event_id", "at", "kind", "detail", "reason") == [
        (r.event_id, r.at, r.kind, r.detail, r.reason) for r in expected
    ]
    # the shipped loyalty programme enrols the patient at their first input (issue 17)
    assert [r["kind"] for r in engine_rows] == ["journey.started", "loyalty.enrolled", "message.requested"]
    assert engine_rows[2]["at"] == at("2026-03-05 10:00")  # a message is placed at its due time
    assert changes(recorded(sim, P, jo.WaitScheduled)[0]) == []


def test_a_clinical_event_gets_a_row_with_its_type_and_identifying_fields():
    sim = simulation(
        discharge(P, at("2026-03-02 10:00"), encounter_id="E9"),
        booked(P, at("2026-03-03 10:00"), at("2026-03-20 09:30"), appointment_id="A9"),
    )

    rows = sorted(fold(sim.recorded[P]).rows("patient_timeline"), key=lambda r: r["seq"])
    clinical = [r for r in rows if r["journey_id"] is None]

    assert column(clinical, "kind", "detail", "step_id") == [
        ("encounter.discharged", "encounter id E9, encounter class inpatient, department orthopedics", None),
        ("appointment.booked", "appointment id A9, start at 2026-03-20 09:30+08:00", None),
    ]


def test_clinical_rows_never_carry_demographics_or_reply_text():
    (row,) = [op.values for op in changes(registered(P, at("2026-03-01 09:00"), sex="female"))]
    assert (row["kind"], row["detail"]) == ("patient.registered", "")

    reply = replied(P, at("2026-03-05 11:00"), message_id="m-1").model_copy(update={"text": "I feel dizzy"})
    (row,) = [op.values for op in changes(reply)]
    assert row["detail"] == "channel wechat, message id m-1"
    assert "dizzy" not in str(row)


def test_the_loyalty_desks_requests_show_what_was_asked_and_never_who_asked() -> None:
    redemption = event(lo.PointsRedemptionRequested, P, at("2027-02-05 15:12"), reward_id="parking-voucher",
                       quantity=2, ref="R-0815", by="desk-7")  # fmt: skip
    adjustment = event(lo.PointsAdjustmentRequested, P, at("2027-02-06 10:00"), external_id="T-1", points=-30,
                       reason_code="correction", by="desk-7")  # fmt: skip

    rows = [op.values for e in (redemption, adjustment) for op in changes(e)]

    assert column(rows, "kind", "detail") == [
        ("points.redemption_requested", "reward id parking-voucher, quantity 2, ref R-0815"),
        ("points.adjustment_requested", "external id T-1, points -30, reason code correction"),
    ]
    assert "desk-7" not in str(rows)


def test_a_relatives_link_and_consent_are_rows_naming_the_link_and_role_never_the_relative():
    person = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"))
    link = event(
        rs.RelationshipRecorded,
        "P-child",
        at("2027-01-05 09:00"),
        relation_id="rel-3f2a",
        role="guardian",
        person=person,
    )
    consent = event(
        rs.RelationshipConsentGranted,
        "P-child",
        at("2027-01-05 09:05"),
        relation_id="rel-3f2a",
        purposes=("care",),
        information=("vaccinations", "appointments"),
        granted_by="guardian",
    )

    (recorded,) = changes(link, 1)
    (granted,) = changes(consent, 2)

    assert recorded.values["detail"] == "relation id rel-3f2a, role guardian"
    assert "王芳" not in repr(recorded.values) and "13800000000" not in repr(recorded.values)
    assert granted.values["detail"] == (
        "relation id rel-3f2a, purposes care, information vaccinations/appointments, delivery also"
    )


def check_in(cls, day: int, **fields):
    """A check-in decision by hand (fold.engine_event's ``n`` would take the ask's number for its id)."""
    when, event_id = at(f"2027-03-0{day} 20:30"), f"{P}-{cls.model_fields['type'].default}-{day}"
    source = Source(system="careloop-engine", message_id=event_id)
    step = {"instance_id": "i-1", "journey_id": "symptom-diary", "step_id": "diary"}
    return cls(event_id=event_id, patient_id=P, occurred_at=when, recorded_at=when, source=source, **step, **fields)


def test_a_check_in_series_is_rows_of_numbers_the_answer_the_miss_and_the_alert_with_its_values():
    values = tuple(
        ck.CheckinValue(at=at(f"2027-03-0{d} 20:30"), value=v, response_id=f"R{d}")
        for d, v in zip(range(1, 6), (2, 3, 3, 5, 6), strict=True)
    )
    events = [
        check_in(ck.CheckinRecorded, 1, n=1, value=2, at=at("2027-03-01 20:30"), response_id="R1"),
        check_in(ck.CheckinMissed, 2, n=2),
        check_in(
            ck.CheckinAlerted,
            5,
            next_step_id="doctor",
            alert="rising",
            kind="rising",
            values=values,
            statistic=ck.TrendStatistic(tau=0.948683, p_value=0.011489, sen_slope_per_day=1.0),
            threshold={"last": 5},
        ),
    ]

    rows = [changes(e, n)[0].values for n, e in enumerate(events, start=1)]

    assert [(r["kind"], r["step_id"], r["detail"]) for r in rows] == [
        ("checkin.recorded", "diary", "check-in 1: 2"),
        ("checkin.missed", "diary", "check-in 2 not answered"),
        ("checkin.alerted", "diary", "rising (rising): 2, 3, 3, 5, 6 -> doctor"),
    ]
