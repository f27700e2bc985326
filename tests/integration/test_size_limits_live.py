"""CARELOOP_MAX_MESSAGE_BYTES on the live intakes, over real sockets, the embedded broker and PostgreSQL.

MLLP: a large but legal message is acknowledged AA; one over the limit AR with the reason, dead-lettered (its
first bytes) and written to the reject file, and the next message on the same connection is acknowledged AA.
HTTP: the FHIR intake and the outreach webhook answer 413 naming the limit, and accept a 70 KiB body.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors import fhir_http, mllp
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES
from connectors.live_intake import LiveIntake
from connectors.outreach import http as webhook
from connectors.profiles import SourceProfiles
from engine.embedded import EmbeddedBroker
from engine.journeys.policy import ConsentByReply
from engine.plumbing.clock import SystemClock
from engine.plumbing.topics import Topics, ensure_topics
from engine.processes.intake import open_live_intake, open_outreach_intake
from engine.security.cipher import is_sealed
from engine.security.phi import reveal_event
from engine.settings import Settings
from events import parse_event
from events.findings import ObservationRecorded
from tests.http_credentials import bearer, write_clients
from tests.integration.test_live_intake import Server, read_topic
from tests.keys import postgres_protection
from tests.large_messages import glucose_result, pathology_report, report_text

pytestmark = pytest.mark.integration
KIB = 1024
MIB = 1024 * KIB
_n = itertools.count()

Opener = Callable[..., tuple[LiveIntake, Topics]]


@pytest.fixture
def open_intake(broker: EmbeddedBroker, database_url: str, tmp_path: Path) -> Opener:
    """A live intake for a format with a limit, on topics of its own created with that limit."""

    def opened(fmt: str, limit: int, bundle_limit: int | None = None) -> tuple[LiveIntake, Topics]:
        prefix = f"size{next(_n)}-{tmp_path.name[-6:]}"
        settings = Settings(topic_prefix=prefix, partitions=3, data_dir=tmp_path, max_message_bytes=limit)
        topics = ensure_topics(settings, broker.bootstrap)
        opened = open_live_intake(
            fmt,
            broker.bootstrap,
            database_url,
            topics,
            tmp_path,
            SourceProfiles(),
            SystemClock().now,
            postgres_protection(database_url, tmp_path),
            limit,
            bundle_limit,
        )
        return opened, topics

    return opened


class MllpConnection:
    """One sender's connection: messages one after the other, each waiting for its ACK, as interfaces do."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=60)

    def send(self, message: bytes) -> list[str]:
        """The ACK's MSA fields."""
        self._sock.sendall(b"\x0b" + message + b"\x1c\r")
        reply = b""
        while not reply.endswith(b"\x1c\r"):
            chunk = self._sock.recv(65536)
            assert chunk, "the connection closed before the ACK"
            reply += chunk
        return next(s for s in reply[1:-2].decode().split("\r") if s.startswith("MSA")).split("|")

    def close(self) -> None:
        self._sock.close()


MllpStarter = Callable[[int], tuple[MllpConnection, Topics]]


@pytest.fixture
def mllp_server(open_intake: Opener) -> Iterator[MllpStarter]:
    """`careloop mllp --max-message-bytes N` and a sender connected to it."""
    servers: list[Server] = []
    connections: list[MllpConnection] = []

    def start(limit: int) -> tuple[MllpConnection, Topics]:
        intake, topics = open_intake("hl7", limit)
        servers.append(Server(mllp.serve, intake))
        connections.append(MllpConnection(servers[-1].port))
        return connections[-1], topics

    yield start
    for connection in connections:
        connection.close()
    for server in servers:
        server.close()


def test_mllp_answers_a_message_over_the_limit_ar_and_the_same_connection_goes_on(
    mllp_server: MllpStarter, broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    connection, topics = mllp_server(DEFAULT_MAX_MESSAGE_BYTES)
    large, too_large, after = (
        pathology_report("PATH-70K", 70 * KIB),
        pathology_report("PATH-1200K", 1200 * KIB),
        glucose_result("GLU-AFTER"),
    )

    # A 70 KiB report (over asyncio's 64 KiB stream limit) is on Kafka before its AA
    assert connection.send(large)[1:3] == ["AA", "PATH-70K"]

    # A 1.2 MB report is refused with the reason, not dropped with the connection
    refused = connection.send(too_large)
    reason = f"message is {len(too_large)} bytes, over the limit of 921600 bytes set by CARELOOP_MAX_MESSAGE_BYTES"
    assert refused[1:4] == ["AR", "PATH-1200K", reason]

    # The interface goes on with its next message on the same connection
    assert connection.send(after)[1:3] == ["AA", "GLU-AFTER"]

    published = [json.loads(value) for _, value, _ in read_topic(broker.bootstrap, topics.clinical)]
    assert sorted(e["source"]["message_id"] for e in published) == ["GLU-AFTER", "PATH-70K"]
    [(_, letter, headers)] = read_topic(broker.bootstrap, topics.dead_letter)
    sealer = postgres_protection(database_url, tmp_path).sealer
    kept = sealer.reveal_original(letter.decode())  # sealed with the intake key, and still under Kafka's limit
    assert len(letter) <= 921600 and kept == too_large[: len(kept)] and len(kept) > 600 * KIB
    assert headers["careloop-original"] == f"first {len(kept)} of {len(too_large)} bytes".encode()
    assert (headers["careloop-reason"], headers["careloop-reason-kind"]) == (reason.encode(), b"too_large")
    [reject_file] = (tmp_path / "rejects").glob("hl7-live-*.jsonl")
    [line] = [json.loads(text) for text in reject_file.read_text().splitlines()]
    assert (line["category"], line["reason"], line["original_size"]) == ("too_large", reason, len(too_large))
    assert sealer.reveal_original(line["original_sealed"]) == too_large[:921600]


def test_mllp_configured_for_several_megabytes_accepts_a_3_mb_report_whole(
    mllp_server: MllpStarter, broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    connection, topics = mllp_server(4 * MIB)
    report = pathology_report("PATH-3M", 3 * MIB)

    assert connection.send(report)[1:3] == ["AA", "PATH-3M"]  # its 3 MB event went through the producer

    [(_, value, _)] = read_topic(broker.bootstrap, topics.clinical)
    event = parse_event(json.loads(value))
    assert isinstance(event, ObservationRecorded) and is_sealed(event.narrative)  # the report: free text, sealed
    keys = postgres_protection(database_url, tmp_path).keys
    assert reveal_event(event, keys).narrative == report_text(3 * MIB).replace("\\.br\\", "\n")


def post(port: int, path: str, body: bytes, content_type: str) -> tuple[int, str, dict[str, Any]]:
    """Status, Content-Type and JSON body of a POST with a Content-Length."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers={"Content-Type": content_type} | bearer()
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get_content_type(), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), json.loads(exc.read())


def post_chunked(port: int, path: str, body: bytes, content_type: str) -> tuple[int, str, dict[str, Any]]:
    """The same without a Content-Length: the server learns the size only by reading."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        chunks = (body[start : start + 64 * KIB] for start in range(0, len(body), 64 * KIB))
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"} | bearer(),
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.headers.get_content_type(), json.loads(response.read())
    finally:
        connection.close()


def patients_bundle(size: int) -> bytes:
    """A transaction Bundle of registrations, as a registration system sends a day's batch: about ``size`` bytes."""

    def entry(n: int) -> dict[str, Any]:
        patient = {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": f"MRN-{n:06d}"}],
            "name": [{"family": "Zhang", "given": ["Min"]}],
            "gender": "female",
            "birthDate": "1984-06-02",
            "telecom": [{"system": "phone", "value": "+86 138 0013 8000", "use": "mobile"}],
            "address": [{"line": ["88 Renmin Road"], "city": "Shanghai", "postalCode": "200000", "country": "CN"}],
        }
        full_url = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        return {"fullUrl": full_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}}

    entries = [entry(n) for n in range(size // 500 + 1)]
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}).encode()


def test_the_fhir_intake_answers_a_body_over_the_limit_413_with_an_operation_outcome(
    open_intake: Opener, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # Bundles may be large (a patient's whole history); each resource in one is still bounded by the message limit.
    intake, topics = open_intake("fhir", DEFAULT_MAX_MESSAGE_BYTES, 2000 * KIB)
    server = Server(fhir_http.serve, intake, guard=write_clients(tmp_path / "clients").guard())
    fhir = "application/fhir+json"
    batch, large_batch, too_large = patients_bundle(70 * KIB), patients_bundle(1200 * KIB), patients_bundle(2100 * KIB)
    one_huge_patient = json.dumps(
        json.loads(patients_bundle(1))["entry"][0]["resource"]
        | {
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * (950 * KIB) + "</div>",
            }
        }
    ).encode()
    try:
        accepted = post(server.port, "/fhir", batch, fhir)
        accepted_large = post(server.port, "/fhir", large_batch, fhir)
        declared = post(server.port, "/fhir", too_large, fhir)
        chunked = post_chunked(server.port, "/fhir", too_large, fhir)
        huge_resource = post(server.port, "/fhir", one_huge_patient, fhir)
        still_serving = post(server.port, "/fhir", patients_bundle(1), fhir)
    finally:
        server.close()

    assert len(batch) > 70 * KIB and accepted[0] == 200
    assert len(large_batch) > 1024 * KIB and accepted_large[0] == 200, "a bundle over 1 MiB of small resources"
    assert declared[:2] == (413, fhir)
    [issue] = declared[2]["issue"]
    assert (declared[2]["resourceType"], issue["severity"], issue["code"]) == ("OperationOutcome", "error", "too-long")
    assert issue["diagnostics"] == (
        f"the body is {len(too_large)} bytes, over the limit of 2048000 bytes set by CARELOOP_MAX_BUNDLE_BYTES"
    )
    assert chunked[:2] == (413, fhir)
    assert chunked[2]["issue"][0]["diagnostics"] == (
        "the body is over the limit of 2048000 bytes set by CARELOOP_MAX_BUNDLE_BYTES"
    )
    assert huge_resource[:2] == (413, fhir)
    assert huge_resource[2]["issue"][0]["diagnostics"].startswith(
        f"message is {len(one_huge_patient)} bytes, over the limit of 921600 bytes set by CARELOOP_MAX_MESSAGE_BYTES"
    )
    assert still_serving[0] == 200
    registered = read_topic(broker.bootstrap, topics.clinical)
    entries = len(json.loads(batch)["entry"]) + len(json.loads(large_batch)["entry"])
    assert len(registered) == entries + 1  # the two batches and the last one; nothing refused
    assert len(read_topic(broker.bootstrap, topics.dead_letter)) == 1  # the huge resource, dead-lettered


def test_the_webhook_answers_a_body_over_the_limit_413_naming_the_limit(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(topic_prefix=f"size{next(_n)}-{tmp_path.name[-6:]}", partitions=3, data_dir=tmp_path)
    topics = ensure_topics(settings, broker.bootstrap)
    keys = postgres_protection(database_url, tmp_path)
    intake = open_outreach_intake(
        broker.bootstrap,
        database_url,
        topics.clinical,
        "careloop-webhook",
        DEFAULT_MAX_MESSAGE_BYTES,
        keys,
        ConsentByReply().classify,
    )
    guard = write_clients(tmp_path / "clients").guard()
    server = Server(webhook.serve, intake, guard=guard)  # type: ignore[arg-type]  # it runs any intake's serve
    # A care-team tool pausing a ward's patients at once: an array of pause requests
    pauses = [{"patient_id": f"P-{n:05d}", "reason": "ward closed for renovation; patients moved"} for n in range(900)]
    batch = json.dumps(pauses).encode()
    too_large = json.dumps(pauses * 16).encode()
    try:
        accepted = post(server.port, "/outreach/pause", batch, "application/json")
        refused = post(server.port, "/outreach/pause", too_large, "application/json")
        chunked = post_chunked(server.port, "/outreach/pause", too_large, "application/json")
    finally:
        server.close()

    assert len(batch) > 70 * KIB and accepted[0] == 202 and len(accepted[2]["event_ids"]) == 900
    reason = f"the body is {len(too_large)} bytes, over the limit of 921600 bytes set by CARELOOP_MAX_MESSAGE_BYTES"
    assert refused == (413, "application/json", {"error": reason, "max_message_bytes": 921600})
    assert chunked[:2] == (413, "application/json") and chunked[2]["max_message_bytes"] == 921600
    assert len(read_topic(broker.bootstrap, topics.clinical)) == 900
