"""Erasure on the live pipeline (issue 14, items 1 and 2): known patients, with distinctive names, phones and
identifiers, come in through the real HL7 v2 intake, the worker, the projection runner and the dispatcher (the demo
inbox). Then:

(a) a full pg_dump of the database, every topic read from offset 0, the logs, the reject files and the whole data
    folder hold none of their names, phones or identifiers in clear;
(b) one of them is erased with `careloop erase`: what was sealed for them can no longer be revealed (ErasedError),
    their rows are gone from every read model, the contact directory and the identifier index, and the other
    patients are intact (their values reveal, their rows are there).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from typer.testing import CliRunner

from connectors.profiles import SourceProfiles
from engine.cli.main import app
from engine.embedded.postgres import _bin_dir
from engine.processes.intake import open_live_intake
from engine.security.errors import ErasedError
from engine.security.phi import reveal_event, reveal_value
from events import parse_event
from events import patient as pa
from projections.catalog import PROJECTIONS
from tests.builders import at
from tests.e2e.conftest import Live
from tests.kafka_topics import read_topic

pytestmark = pytest.mark.e2e
VISIT = at("2026-03-06 10:30")  # an ENT visit: the satisfaction survey goes out that evening
SURVEY_SENT = at("2026-03-06 19:05")
DIRECTORY = ("dispatch_contacts", "patient_identifiers")
PENDING = "SELECT count(*) FROM dispatch_messages WHERE status = 'pending'"
SENT = "SELECT count(*) FROM outreach_demo_inbox"
UNREPORTED = "SELECT count(*) FROM dispatch_outbox WHERE published_at IS NULL"
# Where every patient of the scenario has rows (a survey, in the demo inbox and reminder queue, goes to the patients
# the satisfaction journey's split sends one to)
EVERYONE = ("journey_instances", "patient_timeline", "patient_profiles", *DIRECTORY)


@dataclass(frozen=True)
class Known:
    """A patient as the hospital knows them: every value here must never rest in clear."""

    family: str
    given: str
    mrn: str
    national_id: str
    phone: str  # without the country code: found inside +86... too

    @property
    def values(self) -> dict[str, str]:
        return {
            "name": f"{self.family}{self.given}",
            "family": self.family,
            "given": self.given,
            "mrn": self.mrn,
            "national id": self.national_id,
            "phone": self.phone,
        }


PATIENTS = (
    Known("司马", "青岚", "MRN-ER-70011", "110101198807154321", "13911223344"),
    Known("欧阳", "慕白", "MRN-ER-70022", "110101199102283317", "13922334455"),
    Known("Thorncastle", "Wilhelmina", "MRN-ER-70033", "110101197605129876", "13933445566"),
)
REJECTED = Known("Quillfeather", "Ambrose", "MRN-ER-70044", "110101196512247654", "13944556677")  # only in a reject


# --- the hospital's messages ------------------------------------------------------------------------------------


def a04(p: Known, control: str, birth: str = "19800101") -> bytes:
    """An outpatient registration (ADT^A04); its visit number is the hospital's own, not the patient's."""
    identifiers = f"{p.mrn}^^^RENHE^MR~{p.national_id}^^^CHN^NI"
    pid = ["PID", "1", "", identifiers, "", f"{p.family}^{p.given}", "", birth, "F"]
    pid += [""] * 4 + [f"{p.phone}^PRN^CP"]
    pv1 = ["PV1", "1", "O", "ent^^^RENHE", "", "", "", "D001^Zhang^Wei"]
    pv1 += [""] * 11 + [f"VIS-{control}"] + [""] * 24 + ["20260306103000"]
    segments = [
        f"MSH|^~\\&|HIS|RENHE|CARELOOP|RENHE|20260306103000||ADT^A04|{control}|P|2.5|||||CHN|UNICODE UTF-8",
        "EVN|A04|20260306103000",
        "|".join(pid),
        "|".join(pv1),
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def admit(live: Live) -> None:
    """The three patients' visits, and a message about a fourth that is rejected (a birth date that is no date),
    through the live HL7 intake as `careloop mllp` runs it."""
    live.advance_clock(VISIT)
    intake = open_live_intake(
        "hl7",
        live.stack.bootstrap,
        live.database_url,
        live.topics,
        live.settings.data_dir,
        SourceProfiles(),
        lambda: VISIT,
        live.protection,
    )
    verdicts = [intake.accept(a04(p, f"ER-{n}"), "mllp://127.0.0.1") for n, p in enumerate(PATIENTS)]
    rejected = intake.accept(a04(REJECTED, "ER-9", birth="19XX1224"), "mllp://127.0.0.1")
    intake.close()
    assert [v.status for v in verdicts] == ["accepted"] * 3, verdicts
    assert rejected.status == "rejected", rejected
    live.driver.wait_all_consumed()


def survey_sent(live: Live) -> None:
    """The evening's surveys, sent by the dispatcher into the demo inbox; its reports back through the worker."""
    live.advance_clock(SURVEY_SENT)
    wait_for(lambda: count(live, PENDING) == 0 and count(live, SENT) > 0, "the dispatcher to send the surveys")
    wait_for(lambda: count(live, UNREPORTED) == 0, "the dispatcher to publish its reports")
    live.driver.wait_all_consumed()
    live.catch_up_projections()


# --- where patient data could rest --------------------------------------------------------------------------------


def forms(value: str) -> list[bytes]:
    """How a value can rest: UTF-8, JSON's \\u escapes, and each of those as PostgreSQL's hex form of a bytea."""
    texts = {value.encode(), json.dumps(value)[1:-1].encode()}
    return sorted(texts | {t.hex().encode() for t in texts})


def found_in(blobs: dict[str, bytes], p: Known) -> list[str]:
    """'<where>: <which value>' for every value of ``p`` found in clear."""
    return [
        f"{where}: {what}"
        for where, blob in blobs.items()
        for what, value in p.values.items()
        if any(f in blob for f in forms(value))
    ]


def everywhere(live: Live) -> dict[str, bytes]:
    """A full dump of the database, every topic of the deployment from offset 0, and every file of the data folder
    (the logs, the reject files, the key file)."""
    dump = subprocess.run(
        [str(_bin_dir() / "pg_dump"), "--dbname", live.database_url, "--no-owner"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    blobs = {f"pg_dump {where}": part for where, part in by_table(dump).items()}
    for topic in topics_of(live):
        records = read_topic(live.stack.bootstrap, topic)
        blobs[f"topic {topic}"] = b"\n".join(
            (r.key or b"") + b" " + (r.value or b"") + b"".join(v for _, v in r.headers or ()) for r in records
        )
    for path in sorted(Path(live.settings.data_dir).rglob("*")):
        if path.is_file():
            blobs[f"file {path.relative_to(live.settings.data_dir)}"] = path.read_bytes()
    return blobs


def by_table(dump: bytes) -> dict[str, bytes]:
    """The dump cut at each table's data (COPY ... FROM stdin), so a finding names its table; the schema before."""
    parts: dict[str, bytes] = {}
    where = "schema"
    for line in dump.splitlines(keepends=True):
        if line.startswith(b"COPY "):
            where = line.split(b" ")[1].decode()
        parts[where] = parts.get(where, b"") + line
    return parts


def topics_of(live: Live) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=live.stack.bootstrap, client_id="careloop-test-admin")
    try:
        prefix = f"{live.settings.topic_prefix}."
        return sorted(t for t in admin.list_topics() if t.startswith(prefix))
    finally:
        admin.close()


# --- the patients as careloop holds them ----------------------------------------------------------------------


def registrations(live: Live) -> Iterator[pa.PatientRegistered]:
    rows = live.rows(
        "SELECT convert_from(state, 'UTF8')::json -> 'payload' FROM careloop_events "
        "WHERE convert_from(state, 'UTF8')::json -> 'payload' ->> 'type' = 'patient.registered'"
    )
    for (payload,) in rows:
        event = parse_event(payload)
        assert isinstance(event, pa.PatientRegistered)
        yield event


def patient_ids(live: Live) -> dict[Known, str]:
    """Each known patient's careloop id: their registration, revealed, names them."""
    ids = {}
    for event in registrations(live):
        name = reveal_event(event, live.keys).name or ""
        ids.update({p: event.patient_id for p in PATIENTS if p.given in name})
    assert set(ids) == set(PATIENTS)
    return ids


def rows_per_table(live: Live, patient_id: str) -> dict[str, int]:
    tables = [t for p in PROJECTIONS for t in p.tables] + list(DIRECTORY) + ["outreach_demo_inbox"]
    return {t: count(live, f"SELECT count(*) FROM {t} WHERE patient_id = %s", patient_id) for t in tables}


def count(live: Live, query: str, *params: Any) -> int:
    return int(live.rows(query, *params)[0][0])


def wait_for(done: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.1)


def revealed_contacts(live: Live, patient_id: str) -> tuple[str, str]:
    ((name, phone),) = live.rows("SELECT name, phone FROM dispatch_contacts WHERE patient_id = %s", patient_id)
    reveal = [
        reveal_value(live.keys, v, patient_id, f, "dispatch_contacts")
        for v, f in ((name, "name"), (phone, "contact.phone"))
    ]
    return reveal[0], reveal[1]


def erase(live: Live, patient_id: str) -> str:
    env = {
        "CARELOOP_DATABASE_URL": live.database_url,
        "CARELOOP_KAFKA_BOOTSTRAP": live.stack.bootstrap,
        "CARELOOP_TOPIC_PREFIX": live.settings.topic_prefix,
        "CARELOOP_PARTITIONS": str(live.settings.partitions),
        "CARELOOP_DATA_DIR": str(live.settings.data_dir),
        "CARELOOP_CLOCK": "database",
    }
    result = CliRunner().invoke(app, ["erase", patient_id, "--reason", "request", "--ref", "DSR-2026-4471"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


# --- the scenario -------------------------------------------------------------------------------------------------


def test_patient_data_rests_sealed_everywhere_and_an_erased_patient_can_no_longer_be_read(live: Live) -> None:
    live.stack.spawn("dispatcher", "dispatch")
    admit(live)
    survey_sent(live)
    ids = patient_ids(live)
    for p in PATIENTS:
        assert all(rows_per_table(live, ids[p])[t] for t in EVERYONE), f"{p.given}: no rows where expected"
    # the patient erased is one the survey reached: rows in the reminder queue and the demo inbox too
    erased = next(p for p in PATIENTS if count(live, f"{SENT} WHERE patient_id = %s", ids[p]))
    kept = [p for p in PATIENTS if p is not erased]
    before = {p: rows_per_table(live, ids[p]) for p in PATIENTS}

    # (a) Nothing in clear anywhere, for any patient, the rejected one included
    blobs = everywhere(live)
    assert {k for k in blobs if k.startswith("topic ")} >= {
        f"topic {t}" for t in (live.topics.clinical, live.topics.dead_letter)
    }
    assert any(k.startswith("file rejects/") for k in blobs), "the rejected message should be in a reject file"
    assert {"file logs/worker.log", "file logs/dispatcher.log", "file logs/projections.log"} <= set(blobs)
    in_clear = [hit for p in (*PATIENTS, REJECTED) for hit in found_in(blobs, p)]
    assert in_clear == [], "\n".join(in_clear)

    # (b) Erase one of them
    done = erase(live, ids[erased])
    assert f"erased {ids[erased]}: data key epoch 1 destroyed" in done
    live.driver.wait_all_consumed()
    live.catch_up_projections()
    wait_for(lambda: not any(rows_per_table(live, ids[erased]).values()), "the read models to drop the patient")

    # what was sealed for them is unreadable for good
    (registered,) = [e for e in registrations(live) if e.patient_id == ids[erased]]
    with pytest.raises(ErasedError):
        reveal_event(registered, live.keys)
    # their rows are gone everywhere; the others are intact and still readable
    assert before[erased]["reminder_queue"] and set(rows_per_table(live, ids[erased]).values()) == {0}
    for p in kept:
        assert rows_per_table(live, ids[p]) == before[p]
        name, phone = revealed_contacts(live, ids[p])
        assert p.given in name and phone.endswith(p.phone)
    # and still nothing in clear anywhere
    after = everywhere(live)
    in_clear = [hit for p in (*PATIENTS, REJECTED) for hit in found_in(after, p)]
    assert in_clear == [], "\n".join(in_clear)
