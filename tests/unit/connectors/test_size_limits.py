"""CARELOOP_MAX_MESSAGE_BYTES on the file intake: a message over the limit, or one whose event would be, is a
``too_large`` reject line with the reason and the other messages of the file still map; its dead letter keeps the
first bytes that fit and says so, the reject file keeps them all."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Location, Reject
from connectors.formats import path_reader
from connectors.intake import Intake, RejectFile, dead_letter
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, producer_request_bytes, topic_message_bytes
from connectors.profiles import SourceProfiles
from connectors.sealing import SEALED_HEADER
from engine.settings import Settings
from tests.keys import memory_identity, sealer
from tests.large_messages import glucose_result, monitor_export, pathology_report, report_text

KIB = 1024


class Sent:
    """A kafka-python send's future: already acknowledged."""

    def get(self, timeout: float) -> None:
        return None


class DeadLetters:
    """The dead-letter producer's port, recording what was sent."""

    def __init__(self) -> None:
        self.letters: list[tuple[str, bytes, dict[str, bytes]]] = []

    def send(self, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> Sent:
        self.letters.append((topic, value, dict(headers)))
        return Sent()

    def flush(self) -> None:
        pass


SEALER = sealer()


def import_file(fmt: str, path: Path, limit: int, **ports: Any) -> tuple[Intake, list[dict[str, Any]]]:
    """`careloop publish FMT PATH --dry-run --max-message-bytes LIMIT`, with a reject file beside it."""
    events = io.StringIO()
    rejects = RejectFile(path.parent / "rejects.jsonl", SEALER)
    intake = Intake(fmt, SEALER, dry_run=events, rejects=rejects, max_message_bytes=limit, **ports)
    for outcome in path_reader(fmt, SourceProfiles(), datetime(2026, 3, 1, tzinfo=UTC))(path, memory_identity()):
        intake.handle(outcome)
    intake.flush()
    return intake, [json.loads(line) for line in events.getvalue().splitlines()]


def reject_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path.parent / "rejects.jsonl").read_text().splitlines()]


def test_the_default_limit_leaves_room_under_kafkas_one_mebibyte_for_headers() -> None:
    assert Settings().max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 900 * KIB
    assert producer_request_bytes(DEFAULT_MAX_MESSAGE_BYTES) == 1_048_576  # kafka-python's own default
    assert topic_message_bytes(DEFAULT_MAX_MESSAGE_BYTES) == 1_048_588  # the broker's own default
    assert producer_request_bytes(4 * 1024 * KIB) == 4 * 1024 * KIB + 124 * KIB  # a raised limit: it follows


def test_a_70_kib_pathology_report_in_a_file_maps_to_its_observation(tmp_path: Path) -> None:
    report = pathology_report("PATH-70K", 70 * KIB)
    path = tmp_path / "reports.hl7"
    path.write_bytes(report)

    intake, events = import_file("hl7", path, DEFAULT_MAX_MESSAGE_BYTES)

    assert len(report) > 70 * KIB
    assert intake.summary.rejects == 0
    [observation] = events
    assert observation["type"] == "observation.recorded" and observation["source"]["message_id"] == "PATH-70K"
    # the whole report, not cut: a narrative (OBX-2 TX), apart from the values journeys compare (a dry run prints
    # events as mapped; published, the narrative is sealed with the patient's key like every free text)
    assert observation["value"] is None
    assert observation["narrative"] == report_text(70 * KIB).replace("\\.br\\", "\n")


def test_a_message_over_the_limit_is_a_too_large_reject_line_and_the_next_message_still_maps(tmp_path: Path) -> None:
    big, small = pathology_report("PATH-BIG", 20 * KIB), glucose_result("GLU-1")
    path = tmp_path / "results.hl7"
    path.write_bytes(big + small)

    intake, events = import_file("hl7", path, 16 * KIB)

    [reject] = reject_lines(path)
    assert reject["category"] == "too_large"
    assert (
        reject["reason"]
        == f"message is {len(big)} bytes, over the limit of 16384 bytes set by CARELOOP_MAX_MESSAGE_BYTES"
    )
    assert reject["location"] == f"{path}, line 1, message 1"
    assert SEALER.reveal_original(reject["original_sealed"]) == big  # the reject file keeps it whole, sealed
    assert (reject["original_size"], reject["original_kept"]) == (len(big), "whole")
    assert [(e["type"], e["source"]["message_id"]) for e in events] == [("observation.recorded", "GLU-1")]
    assert (intake.summary.messages, intake.summary.events, dict(intake.summary.rejected)) == (2, 1, {"too_large": 1})


def test_a_message_whose_event_would_be_over_the_limit_is_rejected_rather_than_refused_by_kafka(
    tmp_path: Path,
) -> None:
    export = monitor_export("MON-1", 300)  # quotes: its event's JSON is about a third larger than the message
    path = tmp_path / "monitor.hl7"
    path.write_bytes(export + glucose_result("GLU-2"))
    limit = len(export) + 1000

    intake, events = import_file("hl7", path, limit)

    [reject] = reject_lines(path)
    assert reject["category"] == "too_large"
    assert reject["reason"].startswith("its observation.recorded event is ")
    assert reject["reason"].endswith(f" bytes, over the limit of {limit} bytes set by CARELOOP_MAX_MESSAGE_BYTES")
    assert [e["source"]["message_id"] for e in events] == ["GLU-2"]
    assert intake.summary.events_by_type == {"observation.recorded": 1}


def test_an_invalid_message_over_the_limit_says_both_what_is_wrong_and_that_it_is_too_large(tmp_path: Path) -> None:
    no_patient = pathology_report("PATH-NOPID", 20 * KIB).replace(b"PAT-0001^^^GENHOSP^MR", b"")
    path = tmp_path / "no-patient.hl7"
    path.write_bytes(no_patient)

    import_file("hl7", path, 16 * KIB)

    [reject] = reject_lines(path)
    assert reject["category"] == "too_large"
    assert reject["reason"].startswith(f"message is {len(no_patient)} bytes, over the limit of 16384 bytes")
    assert "(it is also rejected as invalid: PID-3" in reject["reason"]


def test_a_dead_letter_keeps_the_first_bytes_of_a_message_over_the_limit_and_says_so(tmp_path: Path) -> None:
    big, small = pathology_report("PATH-DLQ", 20 * KIB), glucose_result("GLU-3").replace(b"1558-6^Fasting", b"^")
    path = tmp_path / "results.hl7"
    path.write_bytes(big + small)
    letters = DeadLetters()

    import_file("hl7", path, 16 * KIB, dead_letters=letters, dead_letter_topic="careloop.dead-letter")

    (topic, value, headers), (_, small_value, small_headers) = letters.letters
    kept = SEALER.reveal_original(value.decode())
    assert topic == "careloop.dead-letter"
    assert len(value) <= 16 * KIB and b"PATH-DLQ" not in value  # sealed, and still under Kafka's record limit
    assert kept == big[: len(kept)] and len(kept) > 11 * KIB  # the first bytes that fit once sealed (base64: 3/4)
    assert headers["careloop-original"] == f"first {len(kept)} of {len(big)} bytes".encode()
    assert headers["careloop-reason-kind"] == b"too_large" and headers[SEALED_HEADER] == b"enc1"
    assert SEALER.reveal_original(small_value.decode()) == small  # any other reject: whole
    assert small_headers["careloop-original"] == b"whole"


def test_a_dead_letter_of_an_mllp_frame_cut_on_arrival_says_how_large_the_frame_was() -> None:
    kept = b"MSH|^~\\&|LAB|GENHOSP" + b"x" * 2000
    reject = Reject("message is 5242880 bytes, over the limit", Location("mllp://10.0.0.5:40000"), kept, "too_large")

    value, headers = dead_letter(reject, "hl7", 1024, SEALER, size=5_242_880)

    first = SEALER.reveal_original(value.decode())
    assert len(value) <= 1024 and first == kept[: len(first)]
    assert dict(headers)["careloop-original"] == f"first {len(first)} of 5242880 bytes".encode()


def test_a_csv_row_over_the_limit_is_rejected_and_the_other_rows_map(tmp_path: Path) -> None:
    header = "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
    note = "Patient reports improved appetite and sleep; continues metformin; no hypoglycaemic episodes. " * 60
    rows = [
        "2026-03-01T08:00:00Z,b1e4a5c2-0001,e-0001,laboratory,2339-0,Glucose,126,mg/dL,numeric\n",
        f'2026-03-01T08:05:00Z,b1e4a5c2-0001,e-0001,survey,72166-2,Progress note,"{note}",,text\n',
        "2026-03-01T08:10:00Z,b1e4a5c2-0001,e-0001,vital-signs,8867-4,Heart rate,72,/min,numeric\n",
    ]
    path = tmp_path / "observations.csv"
    path.write_text(header + "".join(rows))

    _, events = import_file("csv", path, 4 * KIB)

    [reject] = reject_lines(path)
    assert reject["category"] == "too_large" and "line 3" in reject["location"]
    assert reject["reason"].startswith(f"message is {len(header) + len(rows[1])} bytes, over the limit of 4096")
    assert [e["code"]["code"] for e in events] == ["2339-0", "8867-4"]


def test_an_ndjson_resource_over_the_limit_is_rejected_and_the_other_lines_map(tmp_path: Path) -> None:
    def patient(mrn: str, narrative: str = "") -> str:
        text = {"text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{narrative}</div>'}}
        resource = {
            "resourceType": "Patient",
            "id": mrn,
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": mrn}],
            "name": [{"family": "Zhang", "given": ["Min"]}],
            "birthDate": "1984-06-02",
            **(text if narrative else {}),
        }
        return json.dumps(resource)

    path = tmp_path / "patients.ndjson"
    lines = [patient("MRN-1"), patient("MRN-2", "Discharge summary paragraph. " * 300), patient("MRN-3")]
    path.write_text("\n".join(lines) + "\n")

    intake, events = import_file("fhir", path, 4 * KIB)

    [reject] = reject_lines(path)
    assert reject["category"] == "too_large" and "line 2" in reject["location"]
    assert [e["type"] for e in events] == ["patient.registered", "patient.registered"]
    assert intake.summary.messages == 3
