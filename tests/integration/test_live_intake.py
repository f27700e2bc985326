"""Live intake over real sockets: MLLP with ACKs only after Kafka, and FHIR over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from connectors import fhir_http, mllp
from connectors.live_intake import LiveIntake
from connectors.profiles import SourceProfiles
from engine.cli.main import app
from engine.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from engine.plumbing.topics import Topics, ensure_topics
from engine.processes.intake import Protection, open_live_intake
from engine.security.phi import reveal_event
from engine.settings import Settings
from events import parse_event
from tests import corpus
from tests.http_credentials import bearer, write_clients
from tests.kafka_topics import read_topic as read_records
from tests.keys import postgres_protection

pytestmark = pytest.mark.integration
_n = itertools.count()

# What the hospital sends, written for these tests: an inpatient discharge, an order careloop does not map, and a
# new patient POSTed by the HIS (no meta: the intake dates it on receipt). The same tests run on real public
# samples when the corpus is there.
RECEIVED = datetime(2026, 3, 2, 2, 16, tzinfo=UTC)  # when the intake received what it is sent in these tests
DISCHARGE = (
    b"MSH|^~\\&|HIS|RENHE|CARELOOP|RENHE|20260302101502+0800||ADT^A03^ADT_A03|RH20260302101502001|P|2.5|||AL|NE||"
    b"UNICODE UTF-8\r"
    b"EVN|A03|20260302101500+0800\r"
    b"PID|1||M000123^^^RENHE^MR||Li^Wei^^^^^L||19700412|M|||88 Huaihai Rd^^Shanghai^^200031^CHN||"
    b"^PRN^CP^^^^^^^^^+8613800000000\r"
    b"PV1|1|I|GSURG^0501^01^RENHE||||D0042^Zhang^Min||||||||||D0042^Zhang^Min|I|V20260301001|||||||||||||||||||||||||"
    b"20260228083000+0800|20260302101500+0800\r"
)
ORDER = (
    b"MSH|^~\\&|RIS|RENHE|CARELOOP|RENHE|20260302103000+0800||ORM^O01|RIS000812|P|2.3.1\r"
    b"PID|1||M000123^^^RENHE^MR||Li^Wei||19700412|M\r"
    b"ORC|NW|ORD448812^RIS||||||^^^202603021100+0800\r"
    b"OBR|1|ORD448812^RIS||71020^Chest X-ray 2 views^C4\r"
)
PATIENT = json.dumps(
    {
        "resourceType": "Patient",
        "id": "rh-100231",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.642.99.1", "value": "MRN-100231"}],
        "name": [{"use": "official", "family": "Chen", "given": ["Mei"]}],
        "gender": "female",
        "birthDate": "1956-08-19",
    }
).encode()
SAMPLES = ["own", pytest.param("corpus", marks=pytest.mark.corpus)]


def sample(source: str, kind: str) -> bytes:
    """One of the messages above, or its counterpart among the public samples (read only inside a corpus test)."""
    if source == "own":
        return {"discharge": DISCHARGE, "order": ORDER, "patient": PATIENT}[kind]
    name = {
        "discharge": "hl7v2/ADT_A03__fhirconv__ADT-A03-02.hl7",
        "order": "hl7v2/ORM_O01__v2tofhir__O01-IHE-RAD-4-Message-v2.3.1.hl7",
        "patient": "fhir/spec-examples/Patient-example.json",
    }[kind]
    return corpus.path(name).read_bytes()


def control_id(message: bytes) -> str:
    """MSH-10, which the ACK's MSA-2 must echo."""
    header = re.split(rb"\r\n|\r|\n", message.removeprefix(b"\xef\xbb\xbf"), maxsplit=1)[0]
    return header.split(b"|")[9].decode()


class Server:
    """Runs an asyncio intake server in a thread of its own, as `careloop mllp` / `fhir-intake` would."""

    def __init__(self, serve: Callable[..., Any], intake: LiveIntake, **options: Any) -> None:
        """``options``: the listener's transport security (guard, tls), as `careloop` gives them."""
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            started = asyncio.Event()
            task = asyncio.create_task(serve(intake, "127.0.0.1", self.port, started, self._stop, **options))
            await started.wait()
            ready.set()
            await task

        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(main(),), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the server did not start"

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@dataclass
class Opened:
    intake: LiveIntake
    topics: Topics
    database_url: str
    protection: Protection


Channel = Callable[[str], Opened]


@pytest.fixture
def channel(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Channel:
    """Opens a live intake for a format, with its own database and topics."""

    def open_channel(fmt: str) -> Opened:
        n = next(_n)
        name = f"intake_{n}"
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
        settings = Settings(topic_prefix=f"intake{n}-{tmp_path.name[-6:]}", partitions=3, data_dir=tmp_path)
        topics = ensure_topics(settings, broker.bootstrap)
        keys = postgres_protection(url, tmp_path)
        return Opened(
            open_live_intake(fmt, broker.bootstrap, url, topics, tmp_path, SourceProfiles(), lambda: RECEIVED, keys),
            topics,
            url,
            keys,
        )

    return open_channel


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    return [(m.key, m.value or b"", dict(m.headers)) for m in read_records(bootstrap, topic)]


def mllp_exchange(port: int, message: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x0b" + message + b"\x1c\r")
        reply = b""
        while not reply.endswith(b"\x1c\r"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the ACK"
            reply += chunk
    return reply[1:-2].decode()


def msa(ack: str) -> list[str]:
    return next(seg for seg in ack.split("\r") if seg.startswith("MSA")).split("|")


@pytest.mark.parametrize("source", SAMPLES)
def test_mllp_acknowledges_good_messages_after_kafka_and_rejects_bad_ones_with_a_reason(
    channel: Channel, broker: EmbeddedBroker, source: str
) -> None:
    discharge, order = sample(source, "discharge"), sample(source, "order")
    opened = channel("hl7")
    intake, topics = opened.intake, opened.topics
    server = Server(mllp.serve, intake)
    try:
        ack = msa(mllp_exchange(server.port, discharge))
        assert ack[1:3] == ["AA", control_id(discharge)]

        rejected = msa(mllp_exchange(server.port, order))
        assert rejected[1] == "AR" and "ORM" in rejected[3]

        garbage = msa(mllp_exchange(server.port, b"this is not HL7"))
        assert garbage[1] == "AR" and garbage[3]
    finally:
        server.close()

    published = read_topic(broker.bootstrap, topics.clinical)
    types = [json.loads(value)["type"] for _, value, _ in published]
    assert "encounter.discharged" in types
    keys = {key for key, _, _ in published}
    assert all(key and key.startswith(b"pt-") for key in keys)  # keyed by canonical patient id
    # every patient-identifying field rests sealed: revealing refuses a clear one (NotSealedError)
    assert all(reveal_event(parse_event(json.loads(value)), opened.protection.keys) for _, value, _ in published)
    dead = read_topic(broker.bootstrap, topics.dead_letter)
    assert len(dead) == 2
    # unkeyed, so spread over partitions: compare as a set; each the original bytes, sealed with the intake key
    values = sorted(opened.protection.sealer.reveal_original(value.decode()) for _, value, _ in dead)
    assert b"ORM^O01" in values[0] and values[1] == b"this is not HL7"
    assert all(headers["careloop-reason"] and headers["careloop-origin"] == b"connector:hl7" for _, _, headers in dead)


def post(port: int, body: bytes, content_type: str = "application/fhir+json") -> tuple[int, dict[str, Any]]:
    """POST as the hospital's HIS, with its bearer token."""
    headers = {"Content-Type": content_type} | bearer()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/fhir", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("source", SAMPLES)
def test_fhir_intake_accepts_resources_and_answers_problems_with_an_operation_outcome(
    channel: Channel, broker: EmbeddedBroker, source: str, tmp_path: Path
) -> None:
    patient = sample(source, "patient")
    opened = channel("fhir")
    intake, topics = opened.intake, opened.topics
    server = Server(fhir_http.serve, intake, guard=write_clients(tmp_path / "clients").guard())
    try:
        status, body = post(server.port, patient)
        assert status == 200 and body["resourceType"] == "OperationOutcome"
        status, body = post(server.port, b'{"resourceType": "Patient", "birthDate": "not a date"')
        assert status == 422 and body["issue"][0]["severity"] == "error" and body["issue"][0]["diagnostics"]
        status, body = post(server.port, b"<Patient/>", content_type="application/xml")
        assert status == 415
    finally:
        server.close()
    published = read_topic(broker.bootstrap, topics.clinical)
    assert any(json.loads(value)["type"] == "patient.registered" for _, value, _ in published)
    assert len(read_topic(broker.bootstrap, topics.dead_letter)) == 1


@pytest.mark.parametrize("source", SAMPLES)
def test_dead_letters_can_be_listed_and_replayed_after_a_fix(
    channel: Channel, broker: EmbeddedBroker, source: str, tmp_path: Path
) -> None:
    order = sample(source, "order")
    opened = channel("hl7")
    intake, topics = opened.intake, opened.topics
    assert intake.accept(order, "test").status == "rejected"
    prefix = topics.clinical.removesuffix(".clinical")
    env = {"CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap, "CARELOOP_TOPIC_PREFIX": prefix}
    listed = CliRunner().invoke(app, ["dlq", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "connector:hl7" in listed.output and "ORM^O01 is not supported" in listed.output
    assert f"1 dead-lettered message(s) on {topics.dead_letter}" in listed.output

    # Replaying re-maps it: ORM is still unsupported, so it says so and exits non-zero.
    # (the key file reveals the letters: the command finds it under the data folder, as every careloop process)
    replayed = CliRunner().invoke(
        app,
        ["dlq", "replay", "--all"],
        env={**env, "CARELOOP_DATABASE_URL": opened.database_url, "CARELOOP_DATA_DIR": str(tmp_path)},
    )
    assert replayed.exit_code == 1
    assert "still rejected" in replayed.output and "replayed 1 dead letter(s); 1 still rejected" in replayed.output


def erase_keys_and_identifiers(opened: Opened, patient: str) -> None:
    """What `careloop erase` does at the intake's side: the patient's data key destroyed, their identifiers gone
    from the index (engine/security/erasure.py; the rest, patient.erased and the read models, is the worker's)."""
    assert opened.protection.keys.shred(patient).had_key
    with psycopg.connect(opened.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM patient_identifiers WHERE patient_id = %s", (patient,))


def test_an_erased_patients_message_is_answered_ar_and_dead_lettered_until_the_patient_is_renewed(
    channel: Channel, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    opened = channel("hl7")
    server = Server(mllp.serve, opened.intake)
    env = {"CARELOOP_DATABASE_URL": opened.database_url, "CARELOOP_DATA_DIR": str(tmp_path)}
    try:
        assert msa(mllp_exchange(server.port, DISCHARGE))[1] == "AA"
        [(key, _, _)] = read_topic(broker.bootstrap, opened.topics.clinical)
        patient = (key or b"").decode()
        erase_keys_and_identifiers(opened, patient)

        # the hospital sends the discharge again: rejected for good (AR), not an error to resend (AE)
        rejected = msa(mllp_exchange(server.port, DISCHARGE))
        assert rejected[1] == "AR" and f"patient {patient} was erased (careloop erase)" in rejected[3]
        assert "M000123" not in rejected[3] and "Li" not in rejected[3]

        # the patient comes back: their key is renewed on purpose, and the same message is taken again
        renewed = CliRunner().invoke(app, ["keys", "renew", patient], env=env)
        assert renewed.exit_code == 0, renewed.output
        assert f"renewed {patient}: data key epoch 2" in renewed.output
        assert msa(mllp_exchange(server.port, DISCHARGE))[1] == "AA"
    finally:
        server.close()
    # nothing was lost: the rejected original, replayed from its dead letter, is published now
    prefix = opened.topics.clinical.removesuffix(".clinical")
    dlq = {**env, "CARELOOP_KAFKA_BOOTSTRAP": broker.bootstrap, "CARELOOP_TOPIC_PREFIX": prefix}
    replayed = CliRunner().invoke(app, ["dlq", "replay", "--all"], env=dlq)
    assert replayed.exit_code == 0, replayed.output

    again = CliRunner().invoke(app, ["keys", "renew", patient], env=env)
    assert again.exit_code == 1 and f"{patient} was not erased: their data key is live" in again.output
    with psycopg.connect(opened.database_url) as conn:
        audited = conn.execute(
            "SELECT action, purpose FROM careloop_audit WHERE patient_id = %s ORDER BY id", (patient,)
        ).fetchall()
    assert audited == [("keys.renew", "care")]  # the refused renewal was stopped before the trail
    published = read_topic(broker.bootstrap, opened.topics.clinical)
    assert [json.loads(value)["type"] for _, value, _ in published] == ["encounter.discharged"] * 3
    (dead,) = read_topic(broker.bootstrap, opened.topics.dead_letter)
    assert dead[2]["careloop-reason-kind"] == b"erased"
    assert opened.protection.sealer.reveal_original(dead[1].decode()) == DISCHARGE
