"""A death reported by the hospital's ADT feed, through the real HL7 v2 connector and the live pipeline: nothing
the discharge would start reaches the family, the live result equals `careloop simulate`, and `careloop explain`
names the death as the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import InMemoryIdentity, Mapped
from connectors.hl7v2.source import map_bytes
from engine.cli.explain import from_store
from engine.journeys.explain import explain
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from events.base import Event
from tests.builders import at
from tests.e2e.conftest import Live
from tests.keys import memory_identity

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "journeys.yaml")


def hl7(*segments: str) -> bytes:
    return ("\r".join(segments) + "\r").encode("utf-8")


def pid(mrn: str, death: str = "", indicator: str = "") -> str:
    fields = ["PID", "1", "", f"{mrn}^^^RENHE^MR", "", "欧阳^娜娜", "", "19500101", "F"]
    fields += [""] * 4 + ["13884860701^PRN^CP"] + [""] * 15 + [death, indicator]
    return "|".join(fields)


def pv1(patient_class: str, department: str, visit: str, admitted: str = "", discharged: str = "") -> str:
    fields = ["PV1", "1", patient_class, f"{department}^^^RENHE", "", "", "", "D001^Zhang^Wei"]
    fields += [""] * 11 + [visit] + [""] * 24 + [admitted, discharged]
    return "|".join(fields)


def msh(kind: str, control_id: str, when: str) -> str:
    return f"MSH|^~\\&|HIS|RENHE|CARELOOP|RENHE|{when}||{kind}|{control_id}|P|2.5|||||CHN|UNICODE UTF-8"


# An inpatient discharged on 2 March 2026 at 10:00, having died at 09:40 (PID-29, PID-30 = Y), as an ADT^A03
# reports a death: the discharge would otherwise start the post-operative follow-up.
A03_DEATH = hl7(
    msh("ADT^A03", "DEATH-0001", "20260302100500"),
    "EVN|A03|20260302100000",
    pid("MRN-D1", death="20260302094000", indicator="Y"),
    pv1("I", "orthopedics", "V-D1", admitted="20260225080000", discharged="20260302100000"),
)
A04_VISIT = hl7(
    msh("ADT^A04", "VISIT-0002", "20260306103000"),
    "EVN|A04|20260306103000",
    pid("MRN-D2"),
    pv1("O", "ent", "V-D2", admitted="20260306103000"),
)
A08_DEATH = hl7(
    msh("ADT^A08", "DEATH-0003", "20260306191000"),
    "EVN|A08|20260306191000",
    pid("MRN-D2", death="20260306190800", indicator="Y"),
)


def mapped(message: bytes, identity: InMemoryIdentity) -> list[Event]:
    (outcome,) = map_bytes(message, "adt-feed.hl7", identity)
    assert isinstance(outcome, Mapped), outcome
    return list(outcome.events)


def simulated(events: list[Event], until: str) -> list[Event]:
    sim = Simulation(CATALOG)
    sim.feed(events)
    sim.run_until(at(until))
    return [e for recorded in sim.recorded.values() for e in recorded]


def test_an_a03_with_a_death_indicator_sends_nothing_live_or_simulated_and_explain_names_the_death(
    live: Live,
) -> None:
    events = mapped(A03_DEATH, memory_identity())
    assert [e.type for e in events] == ["patient.deceased", "encounter.discharged"]
    patient = events[0].patient_id

    live.publish(events)
    live.advance_clock(at("2026-03-31 00:00"))
    live.catch_up_projections()

    stored = from_store(patient, live.database_url)
    assert [e.type for e in stored] == ["patient.deceased", "encounter.discharged"]  # decided: nothing at all
    assert live.rows("SELECT count(*) FROM reminder_queue WHERE patient_id = %s", patient) == [(0,)]
    assert live.rows("SELECT count(*) FROM journey_instances WHERE patient_id = %s", patient) == [(0,)]
    assert [e for e in simulated(events, "2026-03-31 00:00") if e.type.startswith("message.")] == []

    lines = [text for _, text in explain(patient, stored).patient]
    assert lines[0].startswith("the patient died (patient.deceased from HIS@RENHE, message DEATH-0001)")
    assert lines[1].startswith("encounter.discharged: starts no journey, the patient died")


def test_a_death_reported_after_the_survey_was_approved_takes_it_back_before_it_is_sent(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(live.settings.data_dir))  # explain's key file, as the CLI finds it
    identity = memory_identity()
    visit = mapped(A04_VISIT, identity)
    patient = visit[0].patient_id
    live.publish(visit)
    live.advance_clock(at("2026-03-06 19:05"))  # the survey is approved at 19:00; no dispatcher runs here
    live.catch_up_projections()
    surveys = "SELECT template, status, policy_rule FROM reminder_queue WHERE patient_id = %s ORDER BY template"
    if live.rows(surveys, patient) == []:
        pytest.fail("the visit started no survey: the patient must land in the survey arm (pick another MRN)")
    assert live.rows(surveys, patient) == [("satisfaction-survey", "approved", None)]

    death = mapped(A08_DEATH, identity)
    assert [e.type for e in death] == ["patient.deceased", "patient.updated"]
    live.publish(death)
    live.advance_clock(at("2026-03-06 19:15"))
    live.catch_up_projections()

    assert live.rows(surveys, patient) == [("satisfaction-survey", "suppressed", "deceased")]
    recorded = [e.type for e in from_store(patient, live.database_url)]
    expected = [e.type for e in simulated([*visit, *death], "2026-03-06 19:15")]
    assert recorded == expected  # live equals simulate
