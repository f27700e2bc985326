"""A relative's consent through the outreach intake (POST /relationships/consent, `careloop family consent`): the
patient's separate consent that one relative may receive messages of some purposes about some information, its
withdrawal, and a relative's own channel opt-out (consent with relation_id). Errors name the field at fault."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.outreach.errors import PayloadError
from events import outreach as ou
from events import relationships as rl
from tests.unit.connectors.outreach.test_intake_mapping import Published, intake

MOTHER = "rel-57f08c107401277658cdbbc8"
GRANT: dict[str, Any] = {
    "patient_id": "P-1",
    "relation_id": MOTHER,
    "status": "granted",
    "purposes": ["care", "transactional"],
    "information": ["vaccinations", "appointments"],
    "granted_by": "guardian",
    "basis_ref": "F-2027-0042",
    "expires_on": "2033-06-10",
    "request_id": "consent-form-0042",
}


def test_a_guardians_signed_consent_for_vaccinations_becomes_relationship_consent_granted() -> None:
    published = Published()
    first = intake(published).accept("relationship_consent", GRANT)
    retried = intake(published).accept("relationship_consent", GRANT)

    granted, _ = published.events
    assert isinstance(granted, rl.RelationshipConsentGranted)
    assert (granted.patient_id, granted.relation_id) == ("P-1", MOTHER)
    assert granted.purposes == ("care", "transactional")
    assert granted.information == ("vaccinations", "appointments")
    assert (granted.delivery, granted.granted_by, granted.basis_ref) == ("also", "guardian", "F-2027-0042")
    assert granted.expires_on == date(2033, 6, 10)
    assert first.event_ids == retried.event_ids  # the form's id: a retried request is the same event


def test_withdrawing_a_relatives_consent_for_everything_of_a_purpose_names_no_information() -> None:
    published = Published()
    request = {
        "patient_id": "P-1",
        "relation_id": MOTHER,
        "status": "withdrawn",
        "purposes": ["care"],
        "by": "nurse.li",
    }
    intake(published).accept("relationship_consent", request)

    [withdrawn] = published.events
    assert isinstance(withdrawn, rl.RelationshipConsentWithdrawn)
    assert (withdrawn.relation_id, withdrawn.purposes, withdrawn.information, withdrawn.by) == (
        MOTHER,
        ("care",),
        (),
        "nurse.li",
    )


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"information": []}, None, "names the kinds of information"),
        ({"granted_by": None}, None, "who gave it"),
        ({"information": ["vaccination"]}, "information.0", "Input should be"),
        ({"purposes": []}, "purposes", "at least 1"),
        ({"delivery": "sometimes"}, "delivery", "Input should be"),
        ({"status": "withdrawn"}, None, "a withdrawal takes no 'granted_by'"),
    ],
)
def test_a_consent_request_that_does_not_say_enough_is_refused_naming_the_field(
    change: dict[str, Any], field: str | None, why: str
) -> None:
    request = {k: v for k, v in {**GRANT, **change}.items() if v is not None}
    published = Published()
    with pytest.raises(PayloadError) as refused:
        intake(published).accept("relationship_consent", request)

    assert why in str(refused.value)
    if field is not None:
        assert refused.value.field == field
    assert published.events == []


def test_a_relatives_own_stop_on_a_channel_is_a_consent_withdrawal_naming_the_relation() -> None:
    published = Published()
    stop = {"patient_id": "P-1", "channel": "sms", "status": "withdrawn", "at": "2026-03-05T10:00:00+08:00"}
    intake(published).accept("consent", {**stop, "relation_id": MOTHER})
    intake(published).accept("consent", stop)

    relative, patient = published.events
    assert isinstance(relative, ou.ConsentWithdrawn) and relative.relation_id == MOTHER
    assert isinstance(patient, ou.ConsentWithdrawn) and patient.relation_id is None
    assert relative.event_id != patient.event_id  # at the same moment: two requests, not a retry
