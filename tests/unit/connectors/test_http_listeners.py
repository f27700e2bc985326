"""The FHIR intake's and the webhook's apps in front of fake intakes: a request without a credential, with a wrong
one or a replayed signature never reaches the intake and is answered 401 in the listener's own format; a known
client's request is handled and its name is recorded as the caller."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors import fhir_http
from connectors.live_intake import Verdict
from connectors.outreach import http as webhook
from connectors.outreach.intake import Accepted
from tests.http_credentials import as_json, bearer, signed, write_clients

PATIENT = as_json({"resourceType": "Patient", "id": "p1", "identifier": [{"system": "urn:mrn", "value": "M-1"}]})
RECEIPT = as_json({"message_id": "m-1", "channel": "sms", "status": "delivered"})
PAUSE = as_json({"patient_id": "pt-1", "reason": "asked to be left alone this month"})


class FakeLiveIntake:
    """Records what reached it."""

    max_payload_bytes = 64 * 1024
    payload_setting = "CARELOOP_MAX_BUNDLE_BYTES"

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []

    def accept(self, data: bytes, source: str) -> Verdict:
        self.received.append((data, source))
        return Verdict("accepted", events=1)


class FakeOutreachIntake:
    """Records what reached it, and from which client."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any, str | None]] = []

    def accept(self, kind: str, body: Any, caller: str | None = None) -> Accepted:
        self.received.append((kind, body, caller))
        return Accepted()


Exchange = Callable[[TestClient[web.Request, web.Application]], Awaitable[Any]]


def exchange(app: web.Application, talk: Exchange) -> Any:
    async def run() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await talk(client)

    return asyncio.run(run())


async def post(
    client: TestClient[web.Request, web.Application], path: str, body: bytes, headers: dict[str, str], ctype: str
) -> tuple[int, dict[str, Any], str | None]:
    response = await client.post(path, data=body, headers=headers | {"Content-Type": ctype})
    return response.status, json.loads(await response.text()), response.headers.get("WWW-Authenticate")


def test_the_fhir_intake_refuses_a_request_without_a_credential_with_an_operation_outcome(tmp_path: Path) -> None:
    intake = FakeLiveIntake()
    app = fhir_http.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    status, body, challenge = exchange(app, lambda c: post(c, "/fhir/Patient", PATIENT, {}, "application/fhir+json"))
    assert status == 401 and challenge == 'Bearer realm="careloop"'
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"
    assert body["issue"][0]["diagnostics"].startswith("no credential: send Authorization: Bearer <token>")
    assert intake.received == []


def test_the_fhir_intake_records_the_authenticated_client_as_the_caller(tmp_path: Path) -> None:
    intake = FakeLiveIntake()
    app = fhir_http.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    status, _, _ = exchange(app, lambda c: post(c, "/fhir/Patient", PATIENT, bearer(), "application/fhir+json"))
    assert status == 200
    ((data, source),) = intake.received
    assert data == PATIENT
    assert source == "http://his-renhe@127.0.0.1/fhir/Patient"


def test_the_fhir_intake_refuses_a_gateway_that_is_not_given_its_path_403(tmp_path: Path) -> None:
    intake = FakeLiveIntake()
    app = fhir_http.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    headers = signed("/fhir", PATIENT)
    status, body, _ = exchange(app, lambda c: post(c, "/fhir", PATIENT, headers, "application/fhir+json"))
    assert status == 403 and body["issue"][0]["code"] == "forbidden"
    assert intake.received == []


def test_the_webhook_accepts_a_signed_receipt_once_and_refuses_its_replay(tmp_path: Path) -> None:
    intake = FakeOutreachIntake()
    app = webhook.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    headers = signed("/outreach/receipts", RECEIPT)

    async def twice(client: TestClient[web.Request, web.Application]) -> list[Any]:
        first = await post(client, "/outreach/receipts", RECEIPT, headers, "application/json")
        again = await post(client, "/outreach/receipts", RECEIPT, headers, "application/json")
        return [first, again]

    first, again = exchange(app, twice)
    assert first[0] == 202
    assert again[:2] == (401, {"error": "a replay: this X-Careloop-Signature was accepted already"})
    assert intake.received == [("receipt", json.loads(RECEIPT), "sms-gateway")]  # the signer: the events' caller


def test_the_webhook_passes_the_client_with_the_bearer_token_to_the_intake_as_the_caller(tmp_path: Path) -> None:
    intake = FakeOutreachIntake()
    app = webhook.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    status, _, _ = exchange(app, lambda c: post(c, "/outreach/pause", PAUSE, bearer(), "application/json"))
    assert status == 202
    assert intake.received == [("pause", json.loads(PAUSE), "his-renhe")]


def test_the_webhook_refuses_a_wrong_signature_and_a_missing_credential_before_the_intake(tmp_path: Path) -> None:
    intake = FakeOutreachIntake()
    app = webhook.build_app(intake, write_clients(tmp_path).guard())  # type: ignore[arg-type]
    forged = signed("/outreach/receipts", RECEIPT, secret=b"a-guessed-secret-of-the-gateway")

    async def both(client: TestClient[web.Request, web.Application]) -> list[Any]:
        wrong = await post(client, "/outreach/receipts", RECEIPT, forged, "application/json")
        none = await post(client, "/outreach/pause", PAUSE, {}, "application/json")
        return [wrong, none]

    wrong, none = exchange(app, both)
    assert wrong[0] == 401 and "does not match" in wrong[1]["error"]
    assert none[0] == 401 and none[1]["error"].startswith("no credential")
    assert intake.received == []


def test_a_signed_body_over_the_limit_is_answered_413_before_its_signature_is_checked(tmp_path: Path) -> None:
    intake = FakeOutreachIntake()
    app = webhook.build_app(intake, write_clients(tmp_path).guard(), max_message_bytes=1024)  # type: ignore[arg-type]
    big = as_json({"message_id": "m-1", "channel": "sms", "status": "delivered", "gateway_ref": "x" * 2000})
    headers = signed("/outreach/receipts", big)
    status, body, _ = exchange(app, lambda c: post(c, "/outreach/receipts", big, headers, "application/json"))
    assert status == 413 and body["max_message_bytes"] == 1024
    assert intake.received == []


def test_even_the_health_check_needs_a_credential(tmp_path: Path) -> None:
    app = webhook.build_app(FakeOutreachIntake(), write_clients(tmp_path).guard())  # type: ignore[arg-type]

    async def health(client: TestClient[web.Request, web.Application]) -> tuple[int, int]:
        anonymous = await client.get("/health")
        known = await client.get("/health", headers=bearer())
        return anonymous.status, known.status

    assert exchange(app, health) == (401, 200)
