"""A message about an erased patient is a reject like any other, never a failure the sender would resend: the
reason names the patient's pseudonymous id and how a returning patient comes back, never a value of the message,
and the original is kept in the reject line sealed with the intake key. Whether an event of the message has
anything to seal or not, the intake takes nothing more about the patient; once their key is renewed
(`careloop keys renew`), it takes them again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from connectors.base import InMemoryIdentity
from connectors.formats import bytes_mapper
from connectors.intake import Intake, RejectFile
from connectors.live_intake import LiveIntake, Verdict
from connectors.mllp import ack_for
from connectors.profiles import SourceProfiles
from connectors.sealing import Sealer
from engine.security.cipher import epoch_of
from engine.security.errors import ErasedError
from engine.security.patient_keys import erased_message
from events import parse_event
from events.patient import Identifier, PatientRegistered
from tests.builders import at
from tests.keys import PSEUDONYMS, memory_identity, memory_keys, patient_id
from tests.unit.connectors.hl7v2.hospital import evn, mapped, message, msh, pid, pv1, segment
from tests.unit.connectors.published import Published

REGISTRATION = message(
    msh("ADT^A04", "REG-0051"), evn("A04"), pid("MRN-0051", "欧阳^娜娜", f13="13884860701^PRN^CP"), pv1("V-0051")
)
DISCHARGE = message(msh("ADT^A03", "DIS-0051"), evn("A03"), pid("MRN-0051", "欧阳^娜娜"), pv1("V-0051"))  # no PHI
PATIENT = patient_id("RENHE", "MRN-0051")
MERGE = message(msh("ADT^A40", "MRG-0052"), evn("A40"), pid("MRN-0051"), segment("MRG", {1: "MRN-0052^^^RENHE^MR"}))
FHIR_MERGE = json.dumps(  # the duplicate record MRN-0052 replaced by MRN-0051's
    {
        "resourceType": "Patient",
        "id": "rh-0052",
        "identifier": [{"system": "RENHE", "value": "MRN-0052"}],
        "link": [{"type": "replaced-by", "other": {"identifier": {"system": "RENHE", "value": "MRN-0051"}}}],
        "meta": {"lastUpdated": "2026-03-02T10:05:00+08:00"},
    }
).encode()


def test_messages_about_an_erased_patient_are_rejected_with_the_reason_and_their_originals_kept_sealed(
    tmp_path: Path,
) -> None:
    keys, published, identity = memory_keys(), Published(), memory_identity()
    sealer = Sealer(keys)
    rejects = RejectFile(tmp_path / "rejects" / "hl7-1.jsonl", sealer)
    intake = Intake("hl7", sealer, publisher=published, rejects=rejects)  # type: ignore[arg-type]
    keys.erase(PATIENT)

    intake.handle(mapped(REGISTRATION, identity))  # a name, a phone and an MRN to seal: no key to seal them with
    intake.handle(mapped(DISCHARGE, identity))  # nothing to seal: refused all the same
    intake.flush()

    assert published.records == []
    assert intake.summary.rejected == {"erased": 2}
    lines = [json.loads(text) for text in rejects.path.read_text().splitlines()]
    assert [line["category"] for line in lines] == ["erased", "erased"]
    for line in lines:
        assert line["reason"] == (
            f"patient {PATIENT} was erased (careloop erase); a returning patient is registered again with "
            f"`careloop keys renew {PATIENT}`"
        )
    text = rejects.path.read_text()
    assert "MRN-0051" not in text and "欧阳" not in text and "13884860701" not in text
    assert [sealer.reveal_original(line["original_sealed"]) for line in lines] == [REGISTRATION, DISCHARGE]


def test_after_the_key_is_renewed_the_returning_patient_is_taken_again_sealed_under_the_new_epoch() -> None:
    keys, published, identity = memory_keys(), Published(), memory_identity()
    intake = Intake("hl7", Sealer(keys), publisher=published)  # type: ignore[arg-type]
    intake.handle(mapped(REGISTRATION, identity))
    keys.erase(PATIENT)
    intake.handle(mapped(DISCHARGE, identity))

    keys.renew(PATIENT)
    intake.handle(mapped(REGISTRATION, identity))
    intake.handle(mapped(DISCHARGE, identity))
    intake.flush()

    assert intake.summary.rejected == {"erased": 1}
    types = [json.loads(value)["type"] for _, value in published.records]
    assert types == ["patient.registered", "encounter.completed"] * 2 + ["encounter.discharged"]
    registrations = [parse_event(json.loads(v)) for _, v in published.records if b"patient.registered" in v]
    assert all(isinstance(r, PatientRegistered) for r in registrations)
    assert [epoch_of(r.name or "", "name") for r in registrations] == [1, 2]  # type: ignore[attr-defined]


def test_an_erased_patients_message_is_answered_ar_over_mllp_so_the_sender_does_not_resend_it() -> None:
    reason = f"patient {PATIENT} was erased (careloop erase); a returning patient is registered again"
    ack = ack_for(DISCHARGE, Verdict("rejected", reason, "erased")).decode()
    msa = next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")
    assert msa[1:3] == ["AR", "DIS-0051"] and f"patient {PATIENT} was erased" in msa[3]


class Sent:
    """A kafka-python future that was acknowledged."""

    def get(self, timeout: float) -> None:
        return None


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list[tuple[str, bytes]]]] = []

    def send(self, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> Sent:
        self.sent.append((value, headers))
        return Sent()


class MergesIntoErased(InMemoryIdentity):
    """The identity port where the surviving patient of a merge was erased: PostgresIdentity cannot seal the
    retired patient's identifiers again for them, and says so (ErasedError)."""

    def merge(self, retired: Sequence[Identifier], survivor: Sequence[Identifier]) -> tuple[str, str]:
        raise ErasedError(erased_message(1), self.resolve(survivor))


@pytest.mark.parametrize("fmt", ["hl7", "fhir"])
def test_a_live_merge_into_an_erased_patient_is_rejected_not_failed(fmt: str, tmp_path: Path) -> None:
    sealer, dead = Sealer(memory_keys()), DeadLetters()
    live = LiveIntake(
        fmt,
        bytes_mapper(fmt, SourceProfiles()),
        clock=lambda: at("2026-03-02 10:06"),
        identity=MergesIntoErased(PSEUDONYMS),
        sealer=sealer,
        publisher=Published(),  # type: ignore[arg-type]  # the publisher's port
        dead_letters=dead,
        dead_letter_topic="test.dead-letter",
        rejects=RejectFile(tmp_path / "hl7.jsonl", sealer),
    )

    merge = {"hl7": MERGE, "fhir": FHIR_MERGE}[fmt]

    verdict = live.accept(merge, "test")

    assert (verdict.status, verdict.category) == ("rejected", "erased")
    assert f"patient {PATIENT} was erased (careloop erase)" in verdict.reason  # FHIR: led by the path
    [(value, headers)] = dead.sent
    assert dict(headers)["careloop-reason-kind"] == b"erased"
    assert sealer.reveal_original(value.decode()) == merge
