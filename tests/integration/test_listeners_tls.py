"""The listeners over TLS, on real sockets, with a certificate authority made for each run: the hospital's HIS posts
FHIR over HTTPS with its bearer token, the SMS gateway signs its callbacks to the webhook over HTTPS, the HIS's
interface engine sends HL7 over MLLP with mutual TLS. Whatever comes without a credential, with a wrong or replayed
one, or from a client that does not trust the listener's CA or shows no certificate it trusts, is refused; what
comes with a good one is accepted."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors import fhir_http, mllp, serving
from connectors.outreach import http as webhook
from connectors.outreach.intake import Accepted
from engine.cli import outreach
from engine.cli.main import app
from engine.embedded import EmbeddedBroker, free_port
from engine.plumbing.tls import Pem, client_context, server_context
from tests.certificates import Authority, authority
from tests.http_credentials import Credentials, as_json, bearer, https_post, signed, write_clients
from tests.integration.test_live_intake import (  # noqa: F401  # channel: the fixture, used by name
    DISCHARGE,
    PATIENT,
    Channel,
    Server,
    channel,
    control_id,
    msa,
    read_topic,
)

pytestmark = pytest.mark.integration
RECEIPT = as_json({"message_id": "m-20260302-0001", "channel": "sms", "status": "delivered", "gateway_ref": "SM88"})


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("hospital-ca"), "hospital-ca")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """Another CA: what an attacker's certificates, or a client set up for another deployment, trust."""
    return authority(tmp_path_factory.mktemp("other-ca"), "other-ca")


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    return write_clients(tmp_path / "clients")


def listener_tls(ca: Authority, mutual: bool = False) -> ssl.SSLContext:
    issued = ca.server("localhost")
    client_ca = Pem("CARELOOP_TLS_CLIENT_CA", ca.cert) if mutual else None
    return server_context(Pem("CARELOOP_TLS_CERT", issued.cert), Pem("CARELOOP_TLS_KEY", issued.key), None, client_ca)


def trusting(ca: Authority, certificate_of: str | None = None) -> ssl.SSLContext:
    """A client's context that trusts ``ca``; with ``certificate_of``, showing a certificate ``ca`` issued it."""
    if certificate_of is None:
        return client_context(Pem("ca", ca.cert))
    issued = ca.client(certificate_of)
    return client_context(Pem("ca", ca.cert), Pem("cert", issued.cert), Pem("key", issued.key))


def test_the_fhir_intake_over_https_accepts_only_a_known_clients_token(
    channel: Channel,  # noqa: F811
    broker: EmbeddedBroker,
    ca: Authority,
    stranger: Authority,
    credentials: Credentials,
) -> None:
    opened = channel("fhir")
    server = Server(fhir_http.serve, opened.intake, guard=credentials.guard(), tls=listener_tls(ca))
    his = trusting(ca)
    fhir = "application/fhir+json"
    try:
        anonymous = https_post(server.port, "/fhir/Patient", PATIENT, {}, his, fhir)
        guessed = https_post(server.port, "/fhir/Patient", PATIENT, bearer("his-renhe-guessed-token"), his, fhir)
        accepted = https_post(server.port, "/fhir/Patient", PATIENT, bearer(), his, fhir)
        with pytest.raises(urllib.error.URLError) as untrusted:  # the listener's certificate is not the one it trusts
            https_post(server.port, "/fhir/Patient", PATIENT, bearer(), trusting(stranger), fhir)
    finally:
        server.close()

    assert anonymous[0] == 401 and anonymous[1]["issue"][0]["code"] == "login"
    assert (
        guessed[0] == 401 and guessed[1]["issue"][0]["diagnostics"] == "the bearer token is not one of a known client"
    )
    assert accepted[0] == 200
    assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
    published = [json.loads(value) for _, value, _ in read_topic(broker.bootstrap, opened.topics.clinical)]
    assert [e["type"] for e in published] == ["patient.registered"]  # the accepted one alone


class RecordingOutreachIntake:
    """The webhook's intake, reduced to what reached it: this test is about who gets through."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any, str | None]] = []

    def accept(self, kind: str, body: Any, caller: str | None = None) -> Accepted:
        self.received.append((kind, body, caller))
        return Accepted()


def test_the_webhook_over_https_takes_a_gateways_signed_receipt_once(ca: Authority, credentials: Credentials) -> None:
    intake = RecordingOutreachIntake()
    server = Server(webhook.serve, intake, guard=credentials.guard(), tls=listener_tls(ca))  # type: ignore[arg-type]
    gateway = trusting(ca)
    headers = signed("/outreach/receipts", RECEIPT)
    forged = signed("/outreach/receipts", RECEIPT, secret=b"the-gateway-secret-guessed-wrong")
    try:
        unsigned = https_post(server.port, "/outreach/receipts", RECEIPT, {}, gateway, "application/json")
        wrong = https_post(server.port, "/outreach/receipts", RECEIPT, forged, gateway, "application/json")
        first = https_post(server.port, "/outreach/receipts", RECEIPT, headers, gateway, "application/json")
        replayed = https_post(server.port, "/outreach/receipts", RECEIPT, headers, gateway, "application/json")
    finally:
        server.close()

    assert unsigned[0] == 401 and unsigned[1]["error"].startswith("no credential")
    assert wrong == (401, {"error": "X-Careloop-Signature does not match the request signed with the client's secret"})
    assert first[0] == 202
    assert replayed == (401, {"error": "a replay: this X-Careloop-Signature was accepted already"})
    assert intake.received == [("receipt", json.loads(RECEIPT), "sms-gateway")]


def mllp_over_tls(port: int, message: bytes, context: ssl.SSLContext) -> str:
    """Send one message over MLLP over TLS and read its ACK; raises ssl.SSLError or ConnectionError when the
    listener will not talk to this client."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(b"\x0b" + message + b"\x1c\r")
        reply = b""
        while not reply.endswith(b"\x1c\r"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection without an ACK")
            reply += chunk
    return reply[1:-2].decode()


@pytest.fixture
def mllp_mutual(channel: Channel, ca: Authority) -> Iterator[tuple[Server, Any]]:  # noqa: F811
    opened = channel("hl7")
    server = Server(mllp.serve, opened.intake, tls=listener_tls(ca, mutual=True))
    try:
        yield server, opened
    finally:
        server.close()


def test_mllp_with_mutual_tls_acknowledges_a_sender_with_a_certificate_of_the_hospitals_ca(
    mllp_mutual: tuple[Server, Any], broker: EmbeddedBroker, ca: Authority
) -> None:
    server, opened = mllp_mutual
    ack = msa(mllp_over_tls(server.port, DISCHARGE, trusting(ca, certificate_of="his-interface-engine")))
    assert ack[1:3] == ["AA", control_id(DISCHARGE)]
    published = [json.loads(value) for _, value, _ in read_topic(broker.bootstrap, opened.topics.clinical)]
    assert "encounter.discharged" in [e["type"] for e in published]


def test_mllp_with_mutual_tls_refuses_a_sender_without_a_certificate(
    mllp_mutual: tuple[Server, Any], broker: EmbeddedBroker, ca: Authority
) -> None:
    server, opened = mllp_mutual
    with pytest.raises((ssl.SSLError, ConnectionError)):
        mllp_over_tls(server.port, DISCHARGE, trusting(ca))
    assert read_topic(broker.bootstrap, opened.topics.clinical) == []


def test_mllp_with_mutual_tls_refuses_a_certificate_another_ca_issued(
    mllp_mutual: tuple[Server, Any], broker: EmbeddedBroker, ca: Authority, stranger: Authority
) -> None:
    server, opened = mllp_mutual
    impostor = stranger.client("his-interface-engine")
    context = client_context(Pem("ca", ca.cert), Pem("cert", impostor.cert), Pem("key", impostor.key))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        mllp_over_tls(server.port, DISCHARGE, context)
    assert read_topic(broker.bootstrap, opened.topics.clinical) == []


def test_an_mllp_sender_that_does_not_trust_the_listeners_ca_fails_the_handshake(
    mllp_mutual: tuple[Server, Any], stranger: Authority
) -> None:
    server, _ = mllp_mutual
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        mllp_over_tls(server.port, DISCHARGE, trusting(stranger, certificate_of="his-interface-engine"))


def test_careloop_webhook_serves_https_to_known_clients_from_its_settings(
    ca: Authority, credentials: Credentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `careloop webhook` as an operator starts it: TLS and the clients file from CARELOOP_* settings; the intake
    # behind it records what reaches it (Kafka is another test's business).
    intake, port, answers = RecordingOutreachIntake(), free_port(), []
    monkeypatch.setattr(outreach, "_intake", lambda system, settings=None: intake)

    def serve_once(serve: Any, announce: Any) -> None:
        async def main() -> None:
            ready, stop = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(serve(ready, stop))
            await ready.wait()
            announce()
            for headers in ({}, bearer()):
                body = as_json({"patient_id": "pt-1", "reason": "moved to another city"})
                call = partial(https_post, port, "/outreach/pause", body, headers, trusting(ca), "application/json")
                answers.append(await asyncio.to_thread(call))
            stop.set()
            await task

        asyncio.run(main())

    monkeypatch.setattr(serving, "run_until_signalled", serve_once)
    issued = ca.server("localhost")
    env = {
        "CARELOOP_TLS_CERT": str(issued.cert),
        "CARELOOP_TLS_KEY": str(issued.key),
        "CARELOOP_HTTP_CLIENTS": str(credentials.clients_file),
    }
    result = CliRunner().invoke(app, ["webhook", "--port", str(port)], env=env)

    assert result.exit_code == 0, result.output
    assert f"listening on https://127.0.0.1:{port}" in " ".join(result.output.split())
    assert answers[0][0] == 401 and answers[1][0] == 202
    assert intake.received == [("pause", {"patient_id": "pt-1", "reason": "moved to another city"}, "his-renhe")]
