"""An erasure request over the API is checked as `careloop erase` checks its options: the ground is a reason code,
the reference a request's id, the patient an id careloop makes; what is not is refused naming the field, and the
value given is never repeated (it may be words about the patient)."""

from __future__ import annotations

import pytest

from engine.security.erasure import Request
from engine.security.erasure_requests import InvalidRequestError, erasure_request

LI_FANG = "pt-3f9c2a71b04e8d56c1a0"


def refusal(patient_id: str, body: object) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as refused:
        erasure_request(patient_id, body, "dpo-portal")
    return refused.value


def test_a_reason_code_and_a_register_reference_make_a_request_asked_by_the_client() -> None:
    request = erasure_request(LI_FANG, {"reason": "consent_withdrawn", "ref": "DSR-2026/0042"}, "dpo-portal")

    assert request == Request(LI_FANG, "consent_withdrawn", "DSR-2026/0042", "dpo-portal")


def test_the_reference_may_be_left_out_as_on_the_command_line() -> None:
    assert erasure_request(LI_FANG, {"reason": "request"}, "dpo-portal").ref is None


def test_a_ground_in_words_is_refused_naming_the_reason_field_and_the_codes() -> None:
    refused = refusal(LI_FANG, {"reason": "李芳 asked at the desk"})

    assert refused.field == "reason"
    assert "request, retention, consent_withdrawn, purpose_fulfilled, legal_obligation" in str(refused)
    assert "李芳" not in str(refused)


def test_a_request_without_a_ground_is_refused() -> None:
    refused = refusal(LI_FANG, {"ref": "DSR-2026-0042"})

    assert (refused.field, str(refused).startswith("required")) == ("reason", True)


@pytest.mark.parametrize("ref", ["李芳 phoned on Monday", "", "-leading-dash", "x" * 65, 20260042])
def test_a_reference_that_is_not_a_register_id_is_refused_without_repeating_it(ref: object) -> None:
    refused = refusal(LI_FANG, {"reason": "request", "ref": ref})

    assert refused.field == "ref"
    assert "letters, digits and . _ : / -, at most 64" in str(refused)
    assert "phoned" not in str(refused)


def test_a_field_the_request_does_not_have_is_refused_rather_than_ignored() -> None:
    refused = refusal(LI_FANG, {"reason": "request", "note": "she moved to Chengdu"})

    assert refused.field == "note"
    assert "Chengdu" not in str(refused)


@pytest.mark.parametrize("body", [["request"], "request", None])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    refused = refusal(LI_FANG, body)

    assert refused.field is None and "a JSON object" in str(refused)


@pytest.mark.parametrize(
    "patient_id", ["pt-3F9C2A71B04E8D56C1A0", "pt-3f9c2a71", "MRN-0417", "pt-3f9c2a71b04e8d56c1a0x"]
)
def test_a_patient_id_careloop_would_not_make_is_refused(patient_id: str) -> None:
    refused = refusal(patient_id, {"reason": "request"})

    assert refused.field == "patient_id" and "MRN" not in str(refused)
