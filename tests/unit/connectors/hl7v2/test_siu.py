"""SIU scheduling messages, field by field, against the real samples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .support import events, mapped

# Every test here reads the real sample messages: the corpus tier (tests/corpus).
pytestmark = pytest.mark.corpus

PLUS_0215 = timezone(timedelta(hours=2, minutes=15))
SHANGHAI = timezone(timedelta(hours=8))


def test_a_new_appointment_is_booked_with_its_start_time_offset_department_and_clinician() -> None:
    result = mapped("SIU_S12__fhirconv__SIU-S12-01.hl7")

    [booked] = result.events
    assert (result.kind, booked.type, booked.appointment_id) == ("SIU^S12", "appointment.booked", "36996")
    # TQ1-7/8, not the stale SCH-11 (2020-10-01) the same message also carries
    assert booked.start_at == datetime(2021, 9, 24, 9, 30, tzinfo=PLUS_0215)
    assert booked.end_at == datetime(2021, 9, 24, 10, 20, tzinfo=PLUS_0215)
    assert (booked.department, booked.clinician, booked.service) == ("055", "1210", "EMERGENCY")  # AIL, AIP, SCH-7
    assert booked.occurred_at == booked.recorded_at == datetime(2021, 9, 14, 11, 20, tzinfo=PLUS_0215)  # MSH-7


def test_a_v2_3_appointment_takes_its_times_from_sch_11() -> None:
    [booked] = events("SIU_S12__v2tofhir__S12-New-Appointment-v2.3.hl7")

    assert booked.appointment_id == "13030"
    assert (booked.start_at, booked.end_at) == (
        datetime(2019, 4, 23, 14, 0, tzinfo=SHANGHAI),
        datetime(2019, 4, 23, 14, 15, tzinfo=SHANGHAI),
    )
    assert (booked.department, booked.clinician) == ("MainOffi", "JPULLEN1")


def test_a_rescheduled_appointment_carries_the_new_start() -> None:
    [moved] = events("SIU_S13__v2tofhir__S13-sample-s13-v2.3.hl7")

    assert (moved.type, moved.appointment_id) == ("appointment.rescheduled", "1234")
    assert moved.start_at == datetime(2018, 10, 24, 22, 28, 5, tzinfo=SHANGHAI)
    assert moved.previous_start_at is None


def test_a_modification_is_a_reschedule_carrying_the_current_time() -> None:
    [modified] = events("SIU_S14__fhirconv__SIU-S14-01.hl7")

    assert (modified.type, modified.start_at) == (
        "appointment.rescheduled",
        datetime(2021, 9, 24, 9, 30, tzinfo=PLUS_0215),
    )


def test_a_cancellation_carries_the_reason_and_falls_back_to_pv1_for_the_department() -> None:
    [cancelled] = events("SIU_S15__v2tofhir__S15-sample-s15-v2.3.hl7")

    assert (cancelled.type, cancelled.reason) == ("appointment.cancelled", "Conflicting appointment")
    assert cancelled.start_at == datetime(2018, 10, 17, 22, 28, 5, tzinfo=SHANGHAI)
    assert (cancelled.department, cancelled.clinician, cancelled.service) == ("3N", "4356789876", "Check up")


def test_a_v2_8_cancellation_keeps_its_offset() -> None:
    [cancelled] = events("SIU_S15__fhirconv__SIU-S15-01.hl7")

    assert cancelled.start_at == datetime(2021, 9, 24, 9, 30, tzinfo=PLUS_0215)
    assert (cancelled.department, cancelled.clinician) == ("055", "1210")


def test_a_missed_appointment_is_a_no_show() -> None:
    [missed] = events("SIU_S26__fhirconv__SIU-S26-01.hl7")

    assert (missed.type, missed.appointment_id) == ("appointment.no_show", "36996")
    assert missed.start_at == datetime(2021, 9, 24, 9, 30, tzinfo=PLUS_0215)
    assert (missed.department, missed.clinician) == ("055", "1210")
