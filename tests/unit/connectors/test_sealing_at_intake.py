"""Nothing an intake lets rest is in clear: events go to Kafka with their patient-identifying fields sealed with the
patient's key, and a rejected message's original goes into its reject line and dead letter sealed with the intake
key, in a reject file only its owner can read. A dry run rests nothing and prints what it maps in clear."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from connectors.base import Location, Mapped, Reject
from connectors.intake import Intake, RejectFile
from connectors.sealing import INTAKE_KEY, Sealer
from engine.security.cipher import is_sealed
from engine.security.errors import AlreadySealedError
from engine.security.phi import reveal_event
from events import parse_event
from events.patient import PatientRegistered
from tests.keys import memory_keys
from tests.unit.connectors.hl7v2.hospital import evn, mapped, message, msh, pid, pv1
from tests.unit.connectors.published import Published

REGISTRATION = message(
    msh("ADT^A04", "REG-0042"), evn("A04"), pid("MRN-0042", "欧阳^娜娜", f13="13884860701^PRN^CP"), pv1()
)
GARBLED = b"MSH|^~\\&|HIS|RENHE\rPID|1||MRN-0043^^^RENHE^MR||\xe6\xac\xa7\xe9\x98\xb3^\xe5\xa8\x9c\xe5\xa8\x9c\r"


def test_a_registration_is_published_with_name_phone_and_mrn_sealed_for_its_patient() -> None:
    keys, published = memory_keys(), Published()
    intake = Intake("hl7", Sealer(keys), publisher=published)  # type: ignore[arg-type]  # the publisher's port

    intake.handle(mapped(REGISTRATION))
    intake.flush()

    [(key, value)] = [r for r in published.records if json.loads(r[1])["type"] == "patient.registered"]
    assert "欧阳".encode() not in value and b"13884860701" not in value and b"MRN-0042" not in value
    stored = parse_event(json.loads(value))
    assert isinstance(stored, PatientRegistered) and stored.contact is not None
    assert all(is_sealed(v) for v in (stored.name or "", stored.contact.phone or "", stored.identifiers[0].value))
    assert (stored.identifiers[0].authority, key) == ("RENHE", stored.patient_id.encode())  # who issued it: clear
    clear = reveal_event(stored, keys)
    assert (clear.name, clear.identifiers[0].value) == ("欧阳娜娜", "MRN-0042")


def test_a_reject_line_keeps_the_original_sealed_with_the_intake_key_in_a_file_only_its_owner_can_read(
    tmp_path: Path,
) -> None:
    sealer = Sealer(memory_keys())
    rejects = RejectFile(tmp_path / "rejects" / "hl7-1.jsonl", sealer)
    reject = Reject("MSH-9: the message type is missing", Location("adt-feed.hl7", 1, 1), GARBLED)

    rejects.write(reject, "hl7")

    [line] = [json.loads(text) for text in rejects.path.read_text().splitlines()]
    assert stat.S_IMODE(rejects.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(rejects.path.parent.stat().st_mode) == 0o700
    assert "original_base64" not in line and "MRN-0043" not in json.dumps(line)
    assert sealer.reveal_original(line["original_sealed"]) == GARBLED  # bytes as received, not decoded
    assert sealer.keys.existing(INTAKE_KEY) is not None  # one deployment key, not a patient's


def test_a_dry_run_prints_the_events_in_clear_since_it_rests_nothing() -> None:
    printed = io.StringIO()
    intake = Intake("hl7", Sealer(memory_keys()), dry_run=printed)

    intake.handle(mapped(REGISTRATION))
    intake.flush()

    registered = [json.loads(line) for line in printed.getvalue().splitlines() if "patient.registered" in line]
    assert [r["identifiers"][0]["value"] for r in registered] == ["MRN-0042"]


def test_an_outcome_sealed_once_cannot_be_sealed_again_by_a_second_intake() -> None:
    keys = memory_keys()
    once = Sealer(keys).events(mapped(REGISTRATION).events)
    resent = Mapped(once, Location("replay"), REGISTRATION)
    published = Published()
    intake = Intake("hl7", Sealer(keys), publisher=published)  # type: ignore[arg-type]

    with pytest.raises(AlreadySealedError, match="name is already sealed"):
        intake.handle(resent)
    intake.flush()

    assert published.records == []


def test_with_sealing_turned_off_to_measure_its_cost_events_go_out_as_mapped_but_originals_stay_sealed() -> None:
    sealer = Sealer(memory_keys(), seal_events=False)  # CARELOOP_SEAL_PATIENT_DATA=false
    events = mapped(REGISTRATION).events

    assert sealer.events(events) == events
    assert is_sealed(sealer.original(GARBLED)) and sealer.reveal_original(sealer.original(GARBLED)) == GARBLED


PATHOLOGY = message(
    msh("ORU^R01", "PATH-0042"),
    pid("MRN-0042", "欧阳^娜娜"),
    pv1(),
    "OBR|1||PATH-0042|22634-0^Pathology report^LN|||20260302090000",
    "OBX|1|TX|22634-0^Pathology report^LN||欧阳娜娜, 42, colonic mucosa without dysplasia||||||F|||20260302090000",
    "OBX|2|NM|2345-7^Glucose^LN||6.2|mmol/L|3.9-6.1|H|||F|||20260302090000",
)


def test_a_narrative_result_is_published_sealed_and_a_numeric_one_stays_comparable() -> None:
    keys, published = memory_keys(), Published()
    intake = Intake("hl7", Sealer(keys), publisher=published)  # type: ignore[arg-type]  # the publisher's port

    intake.handle(mapped(PATHOLOGY))
    intake.flush()

    results = [
        parse_event(json.loads(v)) for _, v in published.records if json.loads(v)["type"] == "observation.recorded"
    ]
    assert all("欧阳".encode() not in v for _, v in published.records)
    report, glucose = sorted(results, key=lambda e: e.code.code)  # type: ignore[attr-defined]
    assert (report.value, is_sealed(report.narrative)) == (None, True)  # type: ignore[attr-defined]
    assert reveal_event(report, keys).narrative == "欧阳娜娜, 42, colonic mucosa without dysplasia"  # type: ignore[attr-defined]
    assert (glucose.value, glucose.narrative) == (6.2, None)  # type: ignore[attr-defined]
