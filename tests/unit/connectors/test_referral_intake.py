"""A referral code that is no code, at the intakes: the registration is published, and the refused field goes to the
reject channel (the reject file, the dead-letter topic) as its own reject, counted in the summary; a live sender is
told the message was accepted (MLLP AA), with the field's reason. Nothing is dropped, and the code is never quoted."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from connectors.base import InMemoryIdentity
from connectors.formats import bytes_mapper
from connectors.hl7v2.common import MappingOptions
from connectors.intake import Intake, RejectFile
from connectors.live_intake import LiveIntake
from connectors.mllp import ack_for
from connectors.profiles import SourceProfiles
from connectors.publisher import Record
from connectors.referrals import MemoryReferrals
from connectors.sealing import Sealer
from engine.cli.main import app
from events import parse_event
from events.patient import PatientRegistered, ReferralClaim
from events.referral_codes import referral_code
from tests.builders import at
from tests.keys import PSEUDONYMS, memory_identity, memory_keys, patient_id
from tests.unit.connectors.hl7v2.hospital import evn, mapped, message, msh, pid, pv1
from tests.unit.connectors.published import Published
from tests.unit.connectors.test_erased_at_intake import DeadLetters

REFERRER = patient_id("RENHE", "MRN-0007")
DIRECTORY = MemoryReferrals.of_members([REFERRER])
BAD_CODE = "WANGFANG-0007-U"


def registration(code: str, mrn: str = "MRN-0061") -> bytes:
    ids = {"f3": f"{mrn}^^^RENHE^MR~{code}^^^CARELOOP-REFERRAL"}
    return message(msh("ADT^A04", f"REG-{mrn}"), evn("A04"), pid(mrn, "李^静", **ids), pv1("V-0061", "O", "ent"))


def registrations(records: list[Record]) -> list[PatientRegistered]:
    events = [parse_event(value) for _, value in records]
    return [e for e in events if isinstance(e, PatientRegistered)]


def test_the_file_intake_publishes_the_registration_and_writes_the_refused_code_to_the_rejects(
    tmp_path: Path,
) -> None:
    sealer, published = Sealer(memory_keys()), Published()
    rejects = RejectFile(tmp_path / "rejects" / "hl7.jsonl", sealer)
    intake = Intake("hl7", sealer, publisher=published, rejects=rejects)  # type: ignore[arg-type]
    options = MappingOptions(referrals=DIRECTORY)

    intake.handle(mapped(registration(BAD_CODE), options=options))
    intake.handle(mapped(registration(referral_code(REFERRER), "MRN-0062"), options=options))
    intake.flush()
    rejects.close()

    assert intake.summary.lines() == [
        "2 message(s): 4 event(s) published, 1 rejected",
        "       2  encounter.completed",
        "       2  patient.registered",
        "       1  rejected: invalid",
    ]
    [line] = (tmp_path / "rejects" / "hl7.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["location"] == "adt-feed.hl7, line 1, message 1, PID-3 (repetition 2)"
    assert record["reason"].startswith("PID-3 (repetition 2): not a referral code")
    assert sealer.reveal_original(record["original_sealed"]) == registration(BAD_CODE)
    assert BAD_CODE not in line
    assert len(registrations(published.records)) == 2


def test_a_live_registration_with_a_bad_code_is_accepted_and_the_field_dead_lettered(tmp_path: Path) -> None:
    sealer, dead, published = Sealer(memory_keys()), DeadLetters(), Published()
    live = LiveIntake(
        "hl7",
        bytes_mapper("hl7", SourceProfiles(), referrals=DIRECTORY),
        clock=lambda: at("2026-03-02 10:06"),
        identity=InMemoryIdentity(PSEUDONYMS),
        sealer=sealer,
        publisher=published,  # type: ignore[arg-type]  # the publisher's port
        dead_letters=dead,
        dead_letter_topic="test.dead-letter",
        rejects=RejectFile(tmp_path / "hl7.jsonl", sealer),
    )

    verdict = live.accept(registration(BAD_CODE), "mllp://10.0.0.5:2575")

    assert (verdict.status, verdict.category, verdict.events) == ("accepted", "invalid", 2)
    assert verdict.reason.startswith("PID-3 (repetition 2): not a referral code")
    [event] = registrations(published.records)
    assert event.referral is None and event.patient_id == patient_id("RENHE", "MRN-0061")
    [(value, headers)] = dead.sent
    assert dict(headers)["careloop-location"] == b"mllp://10.0.0.5:2575, line 1, message 1, PID-3 (repetition 2)"
    assert sealer.reveal_original(value.decode()) == registration(BAD_CODE)
    ack = ack_for(registration(BAD_CODE), verdict).decode()
    assert "MSA|AA|REG-MRN-0061|PID-3 (repetition 2): not a referral code" in ack
    assert BAD_CODE not in ack


def test_a_live_registration_with_a_good_code_carries_the_referrer(tmp_path: Path) -> None:
    sealer, published = Sealer(memory_keys()), Published()
    live = LiveIntake(
        "hl7",
        bytes_mapper("hl7", SourceProfiles(), referrals=DIRECTORY),
        clock=lambda: at("2026-03-02 10:06"),
        identity=memory_identity(),
        sealer=sealer,
        publisher=published,  # type: ignore[arg-type]
        dead_letters=DeadLetters(),
        dead_letter_topic="test.dead-letter",
        rejects=RejectFile(tmp_path / "hl7.jsonl", sealer),
    )

    verdict = live.accept(registration(referral_code(REFERRER)), "mllp://10.0.0.5:2575")

    assert (verdict.status, verdict.reason) == ("accepted", "")
    [event] = registrations(published.records)
    assert event.referral == ReferralClaim(code=referral_code(REFERRER), referrer_patient_id=REFERRER)


def test_a_dry_run_shows_the_claim_and_says_codes_are_not_looked_up(tmp_path: Path) -> None:
    adt = tmp_path / "adt.hl7"
    adt.write_bytes(registration(referral_code(REFERRER)) + registration(BAD_CODE, "MRN-0063"))

    result = CliRunner().invoke(app, ["publish", "hl7", str(adt), "--dry-run"])

    assert result.exit_code == 1, result.stderr  # a field was rejected: the run says so in its exit code
    published = [json.loads(line) for line in result.stdout.splitlines()]
    claims = [e["referral"] for e in published if e["type"] == "patient.registered"]
    assert claims == [{"code": referral_code(REFERRER), "referrer_patient_id": None}, None]
    assert "dry run: referral codes are not looked up (no database)" in result.stderr
    assert "PID-3 (repetition 2): not a referral code" in result.stderr
    assert BAD_CODE not in result.stderr


def test_a_live_fhir_patient_with_a_bad_code_is_published_and_answered_with_the_refused_extension(
    tmp_path: Path,
) -> None:
    sealer, dead, published = Sealer(memory_keys()), DeadLetters(), Published()
    live = LiveIntake(
        "fhir",
        bytes_mapper("fhir", SourceProfiles(), referrals=DIRECTORY),
        clock=lambda: at("2026-03-02 10:06"),
        identity=memory_identity(),
        sealer=sealer,
        publisher=published,  # type: ignore[arg-type]
        dead_letters=dead,
        dead_letter_topic="test.dead-letter",
        rejects=RejectFile(tmp_path / "fhir.jsonl", sealer),
    )
    patient = {
        "resourceType": "Patient",
        "id": "rh-0061",
        "identifier": [{"system": "RENHE", "value": "MRN-0061"}],
        "extension": [{"url": "https://careloop.org/fhir/StructureDefinition/referral-code", "valueString": BAD_CODE}],
    }

    verdict = live.accept(json.dumps(patient).encode(), "http://10.0.0.9")

    # as for any refused element of a resource whose events were published: the reason, and the count published
    assert (verdict.status, verdict.events) == ("rejected", 1)
    assert verdict.reason.startswith("Patient.extension[0].valueString: not a referral code")
    [event] = registrations(published.records)
    assert event.referral is None and event.patient_id == patient_id("RENHE", "MRN-0061")
    assert len(dead.sent) == 1
