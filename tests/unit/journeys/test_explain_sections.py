"""explain tells a patient's calendar decisions beside their consent and family lines (the patient section, in
order), from the events alone. Pure."""

from __future__ import annotations

from engine.journeys.explain import explain
from engine.journeys.explain_family import ref
from events import calendar as ca
from events import relationships as rs
from events.patient import Contact
from tests.builders import at, event

P = "P-explain"


def test_a_visit_attended_and_a_relatives_consent_are_told_in_the_patient_section_in_order() -> None:
    recorded = event(rs.RelationshipRecorded, P, at("2026-05-01 09:00"), relation_id="3f2a-daughter",
                     role="caregiver", person=rs.Person(contact=Contact(phone="+8613900000000")))  # fmt: skip
    granted = event(rs.RelationshipConsentGranted, P, at("2026-05-01 09:05"), relation_id="3f2a-daughter",
                    purposes=("care",), information=("appointments",), granted_by="patient")  # fmt: skip
    attended = event(ca.CampaignAttended, P, at("2026-07-15 10:00"), instance_id="i-1", journey_id="sanfu-tie",
                     step_id="attended-1", next_step_id=None, season=2026, visit="初伏",
                     matched_event_id="e-visit")  # fmt: skip
    told = [text for _, text in explain(P, [recorded, granted, attended]).patient]
    assert told == [
        "relative recorded: caregiver (rel 3f2a): receives nothing without consent",
        "consent granted by the patient for caregiver (rel 3f2a) to receive care for appointments (also the "
        f"patient; relationship.consent_granted {granted.event_id})",
        "sanfu-tie season 2026: attended 初伏 (event e-visit)",
    ]


def test_a_relation_is_named_by_the_characters_after_the_intakes_rel_prefix_so_two_relatives_differ() -> None:
    assert ref("rel-7k2m9q4x8b1c5v3n6r0t2w4y") == "rel 7k2m"
    assert ref("rel-3h8j1d6f9g2s5a0p7l4e1u8i") == "rel 3h8j"
    assert ref("3f2a9c") == "rel 3f2a"  # an id written without the prefix (a test's, a related patient's)
