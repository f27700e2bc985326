"""The live pipeline end to end: embedded broker, PostgreSQL, the real worker and projection runner."""

from __future__ import annotations

import asyncio
import json
import random
import time
import warnings
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from engine.cli.eventfile import read_events
from engine.cli.main import app
from engine.demo.compare import compare
from engine.demo.hospital import generate
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from events import patient as pa
from tests import corpus
from tests.builders import at, booked, cancelled, discharge, event, registered
from tests.e2e.conftest import Live, live_careloop

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3 on Python 3.11
    from kafka import KafkaProducer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CST = timezone(timedelta(hours=8))


def reminders(live: Live, patient: str) -> list[tuple[str, str, str]]:
    live.catch_up_projections()
    return [
        (template, due.astimezone(CST).strftime("%Y-%m-%d %H:%M"), status)
        for template, due, status in live.rows(
            "SELECT template, due_at, status FROM reminder_queue WHERE patient_id = %s ORDER BY due_at, template",
            patient,
        )
    ]


def test_a_discharge_puts_day_3_and_day_7_reminders_in_the_queue_and_a_cancellation_cancels(live: Live) -> None:
    # A surgical patient is discharged on 2 March at 10:00 Shanghai time.
    live.publish(
        [
            registered("POSTOP1", at("2026-03-01 09:00")),
            discharge("POSTOP1", at("2026-03-02 10:00"), department="orthopedics"),
        ]
    )
    live.advance_clock(at("2026-03-02 12:00"))
    assert reminders(live, "POSTOP1") == [("postop-day3-care", "2026-03-05 10:00", "scheduled")]

    # A week later both messages have come due, at 10:00 local time on day 3 and day 7, and outreach policy
    # approved them for sending (no dispatcher runs here, so they stay approved).
    live.advance_clock(at("2026-03-10 12:00"))
    assert reminders(live, "POSTOP1") == [
        ("postop-day3-care", "2026-03-05 10:00", "approved"),
        ("postop-day7-rehab", "2026-03-09 10:00", "approved"),
    ]

    # An appointment booked for 20 March gets its 3-day reminder planned; cancelling it cancels the reminder.
    live.publish([booked("APPT1", at("2026-03-10 14:00"), start_at=at("2026-03-20 09:30"), appointment_id="A-1")])
    live.advance_clock(at("2026-03-10 15:00"))
    assert reminders(live, "APPT1") == [("appointment-reminder-3d", "2026-03-17 09:00", "scheduled")]
    live.publish([cancelled("APPT1", at("2026-03-12 09:00"), start_at=at("2026-03-20 09:30"), appointment_id="A-1")])
    live.advance_clock(at("2026-03-25 00:00"))
    assert reminders(live, "APPT1") == [("appointment-reminder-3d", "2026-03-17 09:00", "cancelled")]


def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_partition_keeps_flowing(live: Live) -> None:
    producer = KafkaProducer(bootstrap_servers=live.stack.bootstrap, acks="all")
    poison = b'{"type": "encounter.discharged", "patient_id": "POISON1"'  # truncated JSON
    meta = producer.send(live.topics.clinical, key=b"POISON1", value=poison).get(timeout=30)
    producer.close()
    live.publish([discharge("POISON1", at("2026-03-02 10:00"), department="urology")])
    live.advance_clock(at("2026-03-02 12:00"))
    assert reminders(live, "POISON1") == [("postop-day3-care", "2026-03-05 10:00", "scheduled")]

    async def read_dead_letters() -> list[tuple[bytes, dict[str, bytes]]]:
        consumer = AIOKafkaConsumer(
            live.topics.dead_letter, bootstrap_servers=live.stack.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=5000)
            return [(m.value, dict(m.headers)) for msgs in batches.values() for m in msgs]
        finally:
            await consumer.stop()

    dead = asyncio.run(read_dead_letters())
    assert len(dead) == 1
    value, headers = dead[0]
    assert value == poison
    assert headers["careloop-origin-topic"].decode() == live.topics.clinical
    assert headers["careloop-origin-partition"].decode() == str(meta.partition)
    assert headers["careloop-origin-offset"].decode() == str(meta.offset)
    assert b"not valid UTF-8 JSON" in headers["careloop-reason"]

    # The worker counts it, and exposes its throughput and timers to Prometheus.
    metrics = live.metrics()
    assert 'careloop_dead_letters_total{reason="decode"} 1.0' in metrics
    assert 'careloop_events_processed_total{kind="clinical"} 1.0' in metrics
    assert "careloop_batch_seconds_count" in metrics


def _dump(live: Live, table: str, key: str) -> list[tuple[object, ...]]:
    return live.rows(f"SELECT * FROM {table} ORDER BY {key}")


TABLES = {
    "reminder_queue": "message_id",
    "churn_flags": "patient_id, journey_id, reason",
    "journey_instances": "instance_id",
    "tasks": "task_id",
    "patient_timeline": "event_id",
}


def test_sigkill_of_the_worker_mid_batch_loses_and_duplicates_nothing(live: Live) -> None:
    events = generate(patients=120, seed=11, days=60)
    until = max(e.recorded_at for e in events) + timedelta(days=31)
    rng = random.Random(3)
    start = events[0].recorded_at - timedelta(minutes=1)
    live.advance_clock(start)
    chunks = [events[i : i + 60] for i in range(0, len(events), 60)]
    kills = 0
    for n, chunk in enumerate(chunks):
        live.publish(chunk, wait=False)
        if n % 2 == 0:
            # Kill the worker while it is in the middle of consuming, deciding and committing.
            time.sleep(rng.uniform(0.0, 1.2))
            live.kill_worker()
            kills += 1
            live.start_worker()
        live.driver.wait_consumed()
        live.advance_clock(max(e.recorded_at for e in chunk))
    live.advance_clock(until)
    assert kills >= 3

    # Every patient's recorded history equals an uninterrupted run of the same events.
    comparison = compare(live.database_url, events, until, live.keys)
    assert comparison.differences == []
    assert comparison.live_effects == comparison.simulated_effects
    assert comparison.live_effects["message.requested"] > 100

    # No duplicated rows, and a rebuild from scratch gives the same tables.
    live.catch_up_projections()
    before = {t: _dump(live, t, k) for t, k in TABLES.items()}
    assert len(before["reminder_queue"]) == len({r[0] for r in before["reminder_queue"]})
    live.stop_projections()
    result = CliRunner().invoke(app, ["projections", "rebuild"], env={"CARELOOP_DATABASE_URL": live.database_url})
    assert result.exit_code == 0, result.output
    after = {t: _dump(live, t, k) for t, k in TABLES.items()}
    for table in TABLES:
        assert after[table] == before[table], table


def test_the_same_event_file_through_simulate_and_the_live_pipeline_gives_the_same_results(live: Live) -> None:
    events = read_events(ROOT / "docs" / "samples" / "hospital.jsonl")
    until = max(e.recorded_at for e in events) + timedelta(days=365)
    live.driver.run(events, until, timedelta(days=7))
    comparison = compare(live.database_url, events, until, live.keys)
    assert comparison.differences == []
    assert comparison.live_effects["message.requested"] == comparison.simulated_effects["message.requested"] > 20
    assert comparison.live_effects["task.created"] == comparison.simulated_effects["task.created"] > 5
    assert comparison.live_effects["churn.flagged"] == comparison.simulated_effects["churn.flagged"] > 5


def test_with_the_engine_topic_on_engine_decisions_are_published_to_it_keyed_by_patient(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    with live_careloop(broker, postgres, tmp_path, "topic", extra_env={"CARELOOP_ENGINE_TOPIC": "true"}) as live:
        expected = _day3_message(live, "OUT1")
        published = asyncio.run(_read_engine_topic(live, "OUT1", until="message.requested"))
    types = [e["type"] for e in published]
    assert types[0] == "journey.started"
    assert {e["message_id"] for e in published if e["type"] == "message.requested"} == expected
    assert len({e["event_id"] for e in published}) == len(published)


def test_with_the_engine_topic_off_by_default_decisions_are_recorded_and_nothing_is_published(live: Live) -> None:
    assert len(_day3_message(live, "OUT2")) == 1  # decided, recorded and projected as ever
    assert asyncio.run(_read_engine_topic(live, "OUT2", until=None)) == []


def _day3_message(live: Live, patient: str) -> set[str]:
    """A surgical discharge taken through to its day-3 care message: the message's id."""
    live.publish([discharge(patient, at("2026-03-02 10:00"), department="orthopedics")])
    live.advance_clock(at("2026-03-06 00:00"))
    live.catch_up_projections()
    # Requested: past 'scheduled' (the outreach policy may already have approved or deferred it)
    due = (
        "SELECT message_id FROM reminder_queue "
        "WHERE patient_id = %s AND status NOT IN ('scheduled', 'skipped', 'cancelled')"
    )
    expected = {r[0] for r in live.rows(due, patient)}
    assert len(expected) == 1  # the day-3 care message
    return expected


async def _read_engine_topic(live: Live, patient: str, until: str | None) -> list[dict[str, Any]]:
    """The engine topic's events of ``patient``, read from the start until one of type ``until`` arrives (None: for
    ten seconds)."""
    consumer = AIOKafkaConsumer(
        live.topics.engine, bootstrap_servers=live.stack.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        out: list[dict[str, Any]] = []
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            out += [json.loads(m.value) for msgs in batches.values() for m in msgs if m.key == patient.encode()]
            if until is not None and any(e["type"] == until for e in out):
                break
        return out
    finally:
        await consumer.stop()


def publish_fhir(live: Live, folder: Path, events: int) -> dict[str, int]:
    """`careloop publish fhir FOLDER` into the live pipeline; once the worker has consumed every event and the
    projections caught up, the number of journey instances per journey."""
    env = {
        "CARELOOP_KAFKA_BOOTSTRAP": live.stack.bootstrap,
        "CARELOOP_DATABASE_URL": live.database_url,
        "CARELOOP_TOPIC_PREFIX": live.settings.topic_prefix,
        "CARELOOP_PARTITIONS": str(live.settings.partitions),
        "CARELOOP_DATA_DIR": str(live.settings.data_dir),
        "CARELOOP_CLOCK": "database",  # undated resources are recorded at the stack's 'now', as the worker sees it
    }
    result = CliRunner().invoke(app, ["publish", "fhir", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert f"{events} event(s) published, 0 rejected" in result.output

    deadline = time.monotonic() + 90
    consumed = "SELECT coalesce(sum(next_offset), 0) FROM careloop_offsets WHERE topic = %s"
    while live.rows(consumed, live.topics.clinical)[0][0] < events:
        assert time.monotonic() < deadline, "the worker did not consume the published history in time"
        time.sleep(0.5)
    # The history is older than the stack's clock, so its timers are all due: wait for them to fire, or what the
    # count holds races the worker's timer loop (a points release three days after a visit reaching a tier, say).
    ((now,),) = live.rows("SELECT now FROM careloop_clock")
    live.advance_clock(now)
    live.catch_up_projections()
    return dict(live.rows("SELECT journey_id, count(*) FROM journey_instances GROUP BY 1"))


def journeys_of_the_deceased(live: Live) -> list[tuple[int]]:
    return live.rows(
        "SELECT count(*) FROM journey_instances WHERE patient_id IN "
        "(SELECT patient_id FROM patient_timeline WHERE kind = 'patient.deceased')"
    )


HL7_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
SNOMED = "http://snomed.info/sct"


# Two patients' histories as a HIS's FHIR server exports them: one transaction bundle per patient, references
# by urn:uuid inside the bundle, the Patient first (as Synthea and most exports write them), each resource with
# meta.lastUpdated, when the server recorded it (the time careloop applies it at).
def _entry(uuid: str, resource: dict[str, Any], recorded: str) -> dict[str, Any]:
    resource = {"id": uuid, "meta": {"lastUpdated": recorded}, **resource}
    return {
        "fullUrl": f"urn:uuid:{uuid}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def _patient(uuid: str, mrn: str, name: tuple[str, str], born: str, recorded: str, **more: Any) -> dict[str, Any]:
    mr = {"coding": [{"system": f"{HL7_TERMINOLOGY}/v2-0203", "code": "MR"}]}
    return _entry(uuid, {
        "resourceType": "Patient",
        "identifier": [{"type": mr, "system": "urn:oid:2.16.840.1.113883.4.642.99.1", "value": mrn}],
        "name": [{"use": "official", "family": name[0], "given": [name[1]]}],
        "birthDate": born,
        **more,
    }, recorded)  # fmt: skip


def _visit(uuid: str, patient: str, start: str, end: str, recorded: str) -> dict[str, Any]:
    return _entry(uuid, {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": f"{HL7_TERMINOLOGY}/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": SNOMED, "code": "185349003", "display": "Check up"}]}],
        "subject": {"reference": f"urn:uuid:{patient}"},
        "period": {"start": start, "end": end},
    }, recorded)  # fmt: skip


def _hypertension(uuid: str, patient: str, visit: str, diagnosed: str, recorded: str) -> dict[str, Any]:
    return _entry(uuid, {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": f"{HL7_TERMINOLOGY}/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "59621000", "display": "Essential hypertension"}]},
        "subject": {"reference": f"urn:uuid:{patient}"},
        "encounter": {"reference": f"urn:uuid:{visit}"},
        "onsetDateTime": diagnosed,
        "recordedDate": diagnosed,
    }, recorded)  # fmt: skip


def _bundle(*entries: dict[str, Any]) -> str:
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": list(entries)})


MEI, JIAN = "5b1f6a7e-2c1d-4e8a-9f3b-0a1c2d3e4f01", "9c2e7b8f-3d2e-4f9b-8a4c-1b2d3e4f5a01"
HISTORIES = {
    # Diagnosed with hypertension at her first visit (the visit comes first in the bundle), then two check-ups.
    "mei.json": _bundle(
        _patient(MEI, "MRN-100231", ("Chen", "Mei"), "1956-08-19", "2024-03-01T08:55:00+08:00", gender="female"),
        _visit("5b1f6a7e-0000-4000-8000-000000000002", MEI, "2024-03-01T09:00:00+08:00", "2024-03-01T09:30:00+08:00",
               "2024-03-01T09:31:00+08:00"),
        _hypertension("5b1f6a7e-0000-4000-8000-000000000003", MEI, "5b1f6a7e-0000-4000-8000-000000000002",
                      "2024-03-01T09:30:00+08:00", "2024-03-01T09:32:00+08:00"),
        _visit("5b1f6a7e-0000-4000-8000-000000000004", MEI, "2024-06-03T10:00:00+08:00", "2024-06-03T10:20:00+08:00",
               "2024-06-03T10:21:00+08:00"),
        _visit("5b1f6a7e-0000-4000-8000-000000000005", MEI, "2024-09-02T14:00:00+08:00", "2024-09-02T14:15:00+08:00",
               "2024-09-02T14:16:00+08:00"),
    ),
    # Hypertensive too, but his record says first that he died: nothing may start for him.
    "jian.json": _bundle(
        _patient(JIAN, "MRN-100877", ("Wang", "Jian"), "1938-01-27", "2024-02-10T06:05:00+08:00", gender="male",
                 deceasedDateTime="2024-02-10T05:40:00+08:00"),
        _visit("9c2e7b8f-0000-4000-8000-000000000002", JIAN, "2023-05-04T08:30:00+08:00", "2023-05-04T09:00:00+08:00",
               "2023-05-04T09:01:00+08:00"),
        _hypertension("9c2e7b8f-0000-4000-8000-000000000003", JIAN, "9c2e7b8f-0000-4000-8000-000000000002",
                      "2023-05-04T09:00:00+08:00", "2023-05-04T09:02:00+08:00"),
    ),
}  # fmt: skip


def test_a_published_fhir_history_drives_the_journeys_its_encounters_call_for(live: Live, tmp_path: Path) -> None:
    export = tmp_path / "fhir-export"  # not tmp_path itself: the live stack keeps its files there
    export.mkdir()
    for name, text in HISTORIES.items():
        (export / name).write_text(text, encoding="utf-8")

    # Mei: registered, three visits, one diagnosis; Jian: registered, deceased, one visit, one diagnosis.
    journeys = publish_fhir(live, export, events=9)

    # Each of Mei's visits starts a satisfaction survey (months apart, so the last one had ended). The diagnosis
    # starts her hypertension cycle; it comes after her first visit, so the 12-month absence watch starts at her
    # second visit and restarts at the third. Her three visits earn the shipped loyalty programme's 300 qualifying
    # points once the last is released, reaching silver (tier-welcome). Nothing starts for Jian (deceased).
    assert journeys == {"post-visit-satisfaction": 3, "hypertension-cycle": 1, "we-miss-you": 2, "tier-welcome": 1}
    assert journeys_of_the_deceased(live) == [(0,)]
    assert live.rows("SELECT count(DISTINCT patient_id) FROM patient_identifiers") == [(2,)]


@pytest.mark.corpus
def test_a_published_synthea_history_drives_the_journeys_its_encounters_call_for(live: Live) -> None:
    journeys = publish_fhir(live, corpus.folder("fhir/synthea"), events=802)

    # Two of the six Synthea patients have essential hypertension (SNOMED 59621000). The living one enters the
    # cycle; the other's bundle says first that he died, so no journey ever starts for him. The bundles carry no
    # meta.lastUpdated: the history arrives at the import's time, so decades-old outpatient visits are far past the
    # satisfaction survey's max_age (3d) and nobody is surveyed about them; the chronic patient's visits start the
    # 12-month absence watch, which has no max_age.
    assert journeys.get("hypertension-cycle") == 1
    assert journeys_of_the_deceased(live) == [(0,)]
    assert journeys.get("post-visit-satisfaction", 0) == 0
    assert journeys.get("we-miss-you", 0) > 10
    identities = live.rows("SELECT count(DISTINCT patient_id) FROM patient_identifiers")
    assert identities == [(6,)]


def test_a_merge_moves_a_running_journey_to_the_surviving_patient_as_a_hand_over(live: Live) -> None:
    live.publish([discharge("DUP1", at("2026-03-02 10:00"), department="orthopedics", encounter_id="E-M")])
    live.advance_clock(at("2026-03-02 12:00"))
    live.publish([event(pa.PatientMerged, "DUP1", at("2026-03-03 08:00"), into_patient_id="KEEP1")])
    deadline = time.monotonic() + 60
    while not live.rows("SELECT 1 FROM journey_instances WHERE patient_id = 'KEEP1'"):
        assert time.monotonic() < deadline, "the survivor never received the handed-over journey"
        live.catch_up_projections()
        time.sleep(0.3)
    live.advance_clock(at("2026-03-10 00:00"))
    assert reminders(live, "KEEP1") == [
        ("postop-day3-care", "2026-03-05 10:00", "approved"),
        ("postop-day7-rehab", "2026-03-09 10:00", "approved"),
    ]
    assert reminders(live, "DUP1") == [("postop-day3-care", "2026-03-05 10:00", "cancelled")]
