"""Messages to relatives on real PostgreSQL (issue 18 §2): an approval whose recipient is a guardian is sent to the
guardian's own contact, revealed with the relation key, and recorded per recipient; a link that ends takes back
what is unsent to that relative; a relative who is a patient and whose link records no contact is reached as that
patient is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.dispatch.loops import Dispatcher
from engine.store.application import JourneyStore
from events import journey as jo
from events import patient as pa
from events import relationships as rl
from tests.builders import event
from tests.integration.dispatch.conftest import TestGateway, record, registered, rows, run_until, step

pytestmark = pytest.mark.integration
Make = Callable[..., Dispatcher]
NOW = datetime(2027, 3, 2, 2, 0, tzinfo=UTC)
MOTHER = "rel-3f2a9c1d7e"

JOURNEYS = """\
journeys:
  - id: child-vaccination
    version: 1
    name: Child vaccination
    entry:
      event: patient.registered
    steps:
      - id: ipv-2
        message: {template: vaccine-ipv-2, channels: [sms]}
outreach:
  hospital:
    name: {zh-CN: 首儿所, en: Children's Hospital}
templates:
  vaccine-ipv-2:
    locales:
      zh-CN:
        body: "{{ patient.name }}小朋友，该打第二剂脊灰疫苗了。{{ hospital.name }}"
      en:
        body: "{{ patient.name }}, your second polio dose is due."
    relative:
      zh-CN:
        body: "{{ recipient.name }}您好：{{ patient.name }}该打第二剂脊灰疫苗。{{ hospital.name }}"
"""


@pytest.fixture
def journeys(tmp_path: Path) -> Path:
    """This module's journeys file, in place of the dispatch suite's."""
    path = tmp_path / "journeys.yaml"
    path.write_text(JOURNEYS, encoding="utf-8")
    return path


def sms(gateway: TestGateway) -> dict[str, Any]:
    return {
        "gateways": {"sms-gw": {"kind": "http", "url": gateway.url, "token": "t0ken"}},
        "channels": {"sms": "sms-gw"},
    }


def relative(patient: str, relation_id: str = MOTHER, **fields: Any) -> rl.RelationshipRecorded:
    fields.setdefault("person", rl.Person(name="李秀英", contact=pa.Contact(phone="+8613800138000"), language="zh-CN"))
    return event(
        rl.RelationshipRecorded, patient, NOW, relation_id=relation_id, role="parent", legal_guardian=True, **fields
    )


def to_guardian(patient: str, message_id: str, relation_id: str = MOTHER) -> jo.MessageApproved:
    return event(
        jo.MessageApproved,
        patient,
        NOW,
        instance_id="i-vaccination",
        journey_id="child-vaccination",
        step_id="ipv-2",
        message_id=message_id,
        template="vaccine-ipv-2",
        channel="sms",
        attempt=1,
        locale="zh-CN",
        category="care",
        priority=50,
        variables={},
        recipient=rl.Recipient(relation_id=relation_id, role="guardian"),
        information="vaccinations",
    )


def status(url: str, message_id: str) -> str | None:
    found = rows(url, "SELECT status FROM dispatch_messages WHERE message_id = %s", message_id)
    return found[0][0] if found else None


def test_a_guardians_copy_goes_to_the_guardians_phone_revealed_with_the_relation_key(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    # A child of 0 with no phone of his own; his mother, his legal guardian, recorded with hers (sealed at intake)
    record(store, registered("CHILD-1", name="王小明"), relative("CHILD-1"), to_guardian("CHILD-1", "m-ipv2+mother"))
    d = dispatcher(**sms(gateway))

    run_until(d, lambda: status(database_url, "m-ipv2+mother") == "sent")

    # The gateway got one SMS, to her number, addressing her (recipient.name) about him (patient.name)
    (request,) = gateway.requests
    assert request.body["to"] == "+8613800138000"
    assert request.body["body"] == "李秀英您好：王小明该打第二剂脊灰疫苗。首儿所"
    # Recorded per recipient: the send is the guardian's (the link and role), and her contact rests sealed
    assert rows(
        database_url,
        "SELECT recipient_relation_id, recipient_role, status FROM dispatch_messages WHERE message_id = %s",
        "m-ipv2+mother",
    ) == [(MOTHER, "guardian", "sent")]
    [(name, phone)] = rows(
        database_url, "SELECT name, phone FROM dispatch_relative_contacts WHERE relation_id = %s", MOTHER
    )
    assert name.startswith("enc1:") and phone.startswith("enc1:")
    # ...sealed under her own relation key, not the child's: the child's key cannot read it
    [(child_name,)] = rows(database_url, "SELECT name FROM dispatch_contacts WHERE patient_id = 'CHILD-1'")
    assert child_name.startswith("enc1:") and child_name != name
    run_until(d, lambda: not rows(database_url, "SELECT 1 FROM dispatch_outbox WHERE published_at IS NULL"))
    [(payload,)] = rows(database_url, "SELECT payload FROM dispatch_outbox")
    assert (payload["type"], payload["message_id"], payload["patient_id"]) == (
        "outreach.sent",
        "m-ipv2+mother",
        "CHILD-1",
    )


def test_a_link_that_ends_takes_back_what_is_still_unsent_to_that_relative(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("CHILD-2", name="赵婷婷"), relative("CHILD-2"))
    d = dispatcher(**sms(gateway))
    for _ in range(3):
        step(d)
    # The approval and the link's end arrive in one page: the follower applies both before the sender looks
    ended = event(rl.RelationshipEnded, "CHILD-2", NOW, relation_id=MOTHER, reason="subject_request")
    record(store, to_guardian("CHILD-2", "m-ipv2+ended"), ended)
    d.follower.catch_up()

    assert status(database_url, "m-ipv2+ended") == "withdrawn"
    assert rows(database_url, "SELECT 1 FROM dispatch_relative_contacts WHERE patient_id = 'CHILD-2'") == []
    for _ in range(3):
        step(d)
    assert gateway.requests == []


def test_a_relative_who_is_a_patient_without_a_contact_on_the_link_is_reached_as_that_patient(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    # The father is a patient of the hospital too (NK1-33), with his phone on his own record only
    record(store, registered("FATHER-3", name="赵刚", phone="+8613900139000"))
    father = relative("CHILD-3", "rel-father", person=rl.Person(name="赵刚"), related_patient_id="FATHER-3")
    record(store, registered("CHILD-3", name="赵婷婷"), father, to_guardian("CHILD-3", "m-ipv2+father", "rel-father"))
    d = dispatcher(**sms(gateway))

    run_until(d, lambda: status(database_url, "m-ipv2+father") == "sent")

    (request,) = gateway.requests
    assert request.body["to"] == "+8613900139000"
    assert request.body["body"].startswith("赵刚您好：赵婷婷该打")


def test_a_relative_with_no_way_to_reach_them_fails_saying_so_and_never_falls_back_to_the_patient(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    no_phone = relative("CHILD-4", person=rl.Person(name="李秀英"))
    record(store, registered("CHILD-4", name="王小红", phone="+8613700137000"), no_phone)
    record(store, to_guardian("CHILD-4", "m-ipv2+nophone"))
    d = dispatcher(**sms(gateway))

    run_until(d, lambda: status(database_url, "m-ipv2+nophone") == "failed")

    assert gateway.requests == []
    [(error,)] = rows(database_url, "SELECT last_error FROM dispatch_messages WHERE message_id = 'm-ipv2+nophone'")
    assert error == "the relative has no phone number for the sms channel"
