"""Referral events: the code given and the hand-overs are clinical inputs, the decisions engine events; a code not
in its printed form, or an answer whose refusal has no reason (or an acceptance with one), is refused naming the
field."""

from __future__ import annotations

import pytest

from events import CLINICAL_TYPES, ENGINE_TYPES, EventValidationError, parse_event
from events.catalog import parse_clinical
from events.referrals import REFERRAL_INPUTS, referral_id
from tests.unit.events.referral_samples import CODE, REFEREE, REFERRAL_ID, REFERRAL_PAYLOADS
from tests.unit.events.test_events import envelope

DECISIONS = {"referral.claimed", "referral.accepted", "referral.attributed", "referral.refused"}


def test_the_code_and_the_hand_overs_are_clinical_inputs_and_the_decisions_are_engine_events() -> None:
    assert set(REFERRAL_INPUTS) <= set(CLINICAL_TYPES) and not set(REFERRAL_INPUTS) & set(ENGINE_TYPES)
    assert set(ENGINE_TYPES) >= DECISIONS and not DECISIONS & set(CLINICAL_TYPES)
    for type_ in sorted(DECISIONS):
        with pytest.raises(EventValidationError, match=f"unknown event type '{type_}'"):
            parse_clinical({**envelope(type_), **REFERRAL_PAYLOADS[type_]})


def test_a_referral_is_identified_by_its_referee_and_code() -> None:
    assert referral_id(REFEREE, CODE) == REFERRAL_ID != referral_id(REFEREE, "PFBP-667B-T4SR")


@pytest.mark.parametrize("code", ["53nz-c24f-v7xv", "53NZC24FV7XV", "53NZ-C24F-V7X", "53NZ-C24F-V7XU"])
def test_a_code_not_in_its_printed_form_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(EventValidationError, match="code: Value error, must be a referral code in its printed form"):
        parse_clinical({**envelope("referral.submitted"), **REFERRAL_PAYLOADS["referral.submitted"], "code": code})


@pytest.mark.parametrize(
    ("outcome", "code_reason"), [("refused", None), ("accepted", "code_used_up")], ids=["refused", "accepted"]
)
def test_an_answer_carries_a_reason_exactly_when_it_refuses(outcome: str, code_reason: str | None) -> None:
    answered = {**REFERRAL_PAYLOADS["referral.answered"], "outcome": outcome, "code_reason": code_reason}
    with pytest.raises(EventValidationError, match="code_reason is required when the outcome is refused"):
        parse_event({**envelope("referral.answered"), **answered})
