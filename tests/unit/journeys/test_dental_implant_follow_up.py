"""dental-implant-follow-up: care messages 7, 30 and 90 days after implant placement, at 10:00 local time."""

from events.base import Coding
from tests.builders import at, endings, messages, procedure, sent, simulation, started

P = "P-implant"
JOURNEY = "dental-implant-follow-up"
CDT_IMPLANT = Coding(system="cdt", code="D6010", display="Endosteal implant")


def test_implant_gets_care_messages_on_days_7_30_and_90():
    # Given an implant placed on 5 March at 14:00
    sim = simulation(procedure(P, at("2026-03-05 14:00"), CDT_IMPLANT))

    # When four months pass
    sim.run_until(at("2026-07-01 00:00"))

    # Then three messages at 10:00 on days 7, 30 and 90, and the journey is complete
    assert sent(sim, P, JOURNEY) == [
        ("implant-day7-care", "2026-03-12 10:00+08:00"),
        ("implant-day30-check", "2026-04-04 10:00+08:00"),
        ("implant-day90-review", "2026-06-03 10:00+08:00"),
    ]
    # and the finished course earns the loyalty programme's 300 points and the health-guardian badge (+50): the badge
    # and silver are announced by the journeys entering on those notices (marketing: held without consent)
    assert sent(sim, P) == [
        *sent(sim, P, JOURNEY),
        ("badge-earned", "2026-06-03 10:00+08:00"),
        ("tier-reached", "2026-06-03 10:00+08:00"),
    ]
    assert all(m.channels == ("wechat", "sms") for m in messages(sim, P))
    assert endings(sim, P) == [
        (JOURNEY, "completed", "completed"),
        ("badge-earned", "completed", "completed"),
        ("tier-welcome", "completed", "completed"),
    ]


def test_snomed_coded_implant_enters_too():
    sim = simulation(procedure(P, at("2026-03-05 14:00"), Coding(system="snomed", code="1255724009")))

    sim.run_until(at("2026-03-13 00:00"))

    assert sent(sim, P) == [("implant-day7-care", "2026-03-12 10:00+08:00")]


def test_each_implant_has_its_own_schedule():
    sim = simulation(
        procedure(P, at("2026-03-05 14:00"), CDT_IMPLANT, procedure_id="PR1"),
        procedure(P, at("2026-03-19 09:00"), CDT_IMPLANT, procedure_id="PR2"),
    )

    sim.run_until(at("2026-03-27 00:00"))

    assert sent(sim, P) == [
        ("implant-day7-care", "2026-03-12 10:00+08:00"),
        ("implant-day7-care", "2026-03-26 10:00+08:00"),
    ]


def test_other_dental_procedures_start_nothing():
    sim = simulation(procedure(P, at("2026-03-05 14:00"), Coding(system="cdt", code="D1110", display="Prophylaxis")))

    sim.run_until(at("2026-07-01 00:00"))

    assert started(sim, P) == []


def test_implant_code_outside_the_dental_category_starts_nothing():
    sim = simulation(procedure(P, at("2026-03-05 14:00"), CDT_IMPLANT, category="surgical"))

    sim.run_until(at("2026-07-01 00:00"))

    assert started(sim, P) == []
