"""Who is calling (connectors/http_auth.py): a bearer token of a known client, or a request signed with a client's
secret within the replay window; anything else is refused with the reason, 401, and a known client outside its
paths 403."""

from __future__ import annotations

from pathlib import Path

import pytest
from multidict import CIMultiDict

from connectors.http_auth import (
    NO_CREDENTIAL,
    SIGNATURE,
    TIMESTAMP,
    Guard,
    NoClientsFileError,
    RefusedError,
    Request,
    http_guard,
)
from tests.http_credentials import GATEWAY_SECRET, as_json, bearer, signed, write_clients

NOW = 1_775_000_000.0  # 2026-03-31T23:33:20Z
RECEIPT = as_json({"message_id": "m-1", "channel": "sms", "status": "delivered"})


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(tmp_path: Path, clock: Clock) -> Guard:
    return write_clients(tmp_path).guard(window=300, clock=clock)


def request(path: str, headers: dict[str, str], body: bytes = b"{}", target: str | None = None) -> Request:
    return Request("POST", path, target or path, CIMultiDict(headers), body)


def refusal(guard: Guard, seen: Request) -> tuple[int, str]:
    with pytest.raises(RefusedError) as refused:
        guard.caller(seen)
    return refused.value.status, str(refused.value)


def test_a_request_without_a_credential_is_refused_401_saying_how_to_authenticate(guard: Guard) -> None:
    assert refusal(guard, request("/fhir", {})) == (401, NO_CREDENTIAL)


def test_a_known_bearer_token_names_its_client(guard: Guard) -> None:
    assert guard.caller(request("/fhir/Patient", bearer())) == "his-renhe"


def test_an_unknown_bearer_token_is_refused_401(guard: Guard) -> None:
    assert refusal(guard, request("/fhir", bearer("his-renhe-guessed"))) == (
        401,
        "the bearer token is not one of a known client",
    )


def test_an_authorization_header_that_is_not_a_bearer_token_is_refused_401(guard: Guard) -> None:
    status, reason = refusal(guard, request("/fhir", {"Authorization": "Basic aGlzOnB3"}))
    assert (status, reason) == (401, "the Authorization header is not 'Bearer <token>'")


def test_a_known_client_calling_a_path_it_is_not_given_is_refused_403(guard: Guard) -> None:
    status, reason = refusal(guard, request("/outreach/receipts", bearer()))
    assert status == 403
    assert reason == "client his-renhe may not call /outreach/receipts (CARELOOP_HTTP_CLIENTS: its paths)"


def test_a_path_that_only_begins_like_a_given_one_is_not_given(guard: Guard) -> None:
    assert refusal(guard, request("/fhirx/Patient", bearer()))[0] == 403


def test_a_signed_callback_within_the_window_names_its_gateway(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW - 299)
    assert guard.caller(request("/outreach/receipts", headers, RECEIPT)) == "sms-gateway"


def test_the_same_signed_callback_sent_again_is_refused_as_a_replay(guard: Guard, clock: Clock) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW)
    assert guard.caller(request("/outreach/receipts", headers, RECEIPT)) == "sms-gateway"
    clock.now = NOW + 60
    status, reason = refusal(guard, request("/outreach/receipts", headers, RECEIPT))
    assert (status, reason) == (401, f"a replay: this {SIGNATURE} was accepted already")
    # the gateway's retry, signed afresh, is a new request
    again = signed("/outreach/receipts", RECEIPT, at=NOW + 60)
    assert guard.caller(request("/outreach/receipts", again, RECEIPT)) == "sms-gateway"


def test_a_replay_after_the_window_is_refused_by_its_timestamp(guard: Guard, clock: Clock) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW)
    guard.caller(request("/outreach/receipts", headers, RECEIPT))
    clock.now = NOW + 301
    status, reason = refusal(guard, request("/outreach/receipts", headers, RECEIPT))
    assert (status, reason) == (401, f"{TIMESTAMP} is 301 s off the listener's clock (CARELOOP_SIGNATURE_WINDOW)")


def test_a_timestamp_from_the_future_beyond_the_window_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW + 400)
    assert refusal(guard, request("/outreach/receipts", headers, RECEIPT)) == (
        401,
        f"{TIMESTAMP} is -400 s off the listener's clock (CARELOOP_SIGNATURE_WINDOW)",
    )


def test_a_signature_over_another_body_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW)
    failed = as_json({"message_id": "m-1", "channel": "sms", "status": "failed", "reason": "x"})
    status, reason = refusal(guard, request("/outreach/receipts", headers, failed))
    assert (status, reason) == (401, f"{SIGNATURE} does not match the request signed with the client's secret")


def test_a_signature_for_another_path_or_query_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW)
    assert refusal(guard, request("/outreach/replies", headers, RECEIPT))[0] == 401
    assert refusal(guard, request("/outreach/receipts", headers, RECEIPT, "/outreach/receipts?batch=2"))[0] == 401


def test_a_signature_made_with_another_secret_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW, secret=GATEWAY_SECRET[::-1])
    assert refusal(guard, request("/outreach/receipts", headers, RECEIPT))[0] == 401


def test_a_signature_naming_a_client_that_does_not_sign_is_refused(guard: Guard) -> None:
    headers = signed("/fhir", RECEIPT, at=NOW, client="his-renhe")
    assert refusal(guard, request("/fhir", headers, RECEIPT)) == (
        401,
        "X-Careloop-Client: no client of that name signs its requests",
    )


def test_a_signature_without_its_timestamp_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW)
    del headers[TIMESTAMP]
    assert refusal(guard, request("/outreach/receipts", headers, RECEIPT))[0] == 401


def test_a_timestamp_that_is_not_unix_seconds_is_refused(guard: Guard) -> None:
    headers = signed("/outreach/receipts", RECEIPT, at=NOW) | {TIMESTAMP: "2026-03-31T23:33:20Z"}
    assert refusal(guard, request("/outreach/receipts", headers, RECEIPT)) == (
        401,
        f"{TIMESTAMP} is not Unix seconds (an integer)",
    )


def test_a_listener_without_a_clients_file_does_not_start() -> None:
    with pytest.raises(NoClientsFileError, match=r"^CARELOOP_HTTP_CLIENTS is not set: every request"):
        http_guard(None, 300)


def test_signatures_are_forgotten_once_their_window_has_passed(guard: Guard, clock: Clock) -> None:
    for n in range(5):
        guard.caller(request("/outreach/receipts", signed("/outreach/receipts", RECEIPT, at=NOW + n), RECEIPT))
    clock.now = NOW + 302  # the first two (at NOW, NOW + 1) are past their window
    guard.caller(request("/outreach/receipts", signed("/outreach/receipts", RECEIPT, at=NOW + 302), RECEIPT))
    assert len(guard._seen) == 4
