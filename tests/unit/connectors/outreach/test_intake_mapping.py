"""The outreach intake's mapping: receipts, replies, questionnaires and care-team requests become events whose
ids stay the same when a sender retries, with errors naming the field at fault and nothing published then."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from connectors.outreach.directory import MemoryDirectory, Sent
from connectors.outreach.errors import PayloadError, UnavailableError, UnknownMessageError
from connectors.outreach.intake import OutreachIntake
from connectors.sealing import Sealer
from engine.journeys.policy import ConsentByReply
from engine.security.cipher import is_sealed
from engine.security.phi import reveal_event
from events import findings as fi
from events import outreach as ou
from events.base import Event
from tests.builders import at
from tests.keys import memory_keys

SENT = Sent("m-day3", "P-1", instance_id="i-1", channel="sms", attempt=2)


class Published:
    """A fake publisher: records what it was given, or refuses like a broker that is away."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail

    def publish(self, events: Sequence[Event], timeout: float = 60.0) -> dict[int, int]:
        if self.fail:
            raise TimeoutError("no acknowledgement within 30 s")
        self.events += events
        return {0: len(self.events)}


class Clock:
    def __init__(self) -> None:
        self.now = at("2026-03-05 10:05")

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=7)  # every request arrives a little later: a retry is a new arrival
        return self.now


KEYS = memory_keys()
KEYWORDS = ConsentByReply().classify  # the default stop and start words, as a journeys file without its own


def intake(published: Published | None = None) -> OutreachIntake:
    directory = MemoryDirectory(SENT)
    return OutreachIntake(directory, published or Published(), "careloop-webhook", Sealer(KEYS), KEYWORDS, Clock())


def test_a_delivery_receipt_retried_by_the_gateway_keeps_its_event_id():
    published = Published()
    webhook = intake(published)
    receipt = {"message_id": "m-day3", "channel": "sms", "status": "delivered", "gateway_ref": "gw-991"}

    first = webhook.accept("receipt", receipt)
    retry = webhook.accept("receipt", receipt)

    assert first.event_ids == retry.event_ids
    delivered, again = published.events
    assert isinstance(delivered, ou.OutreachDelivered)
    assert (delivered.patient_id, delivered.instance_id, delivered.message_id) == ("P-1", "i-1", "m-day3")
    assert delivered.source.system == "careloop-webhook"
    assert again.recorded_at > delivered.recorded_at  # a new arrival, the same fact


def test_a_read_receipt_becomes_outreach_read_apart_from_the_delivery_receipt_of_the_same_message():
    webhook = intake()
    receipt = {"message_id": "m-day3", "channel": "wechat", "status": "delivered", "at": "2026-03-05T10:06:00+08:00"}
    opened = receipt | {"status": "read", "at": "2026-03-05T10:41:00+08:00"}

    (delivered,) = (m.event for m in webhook.map("receipt", receipt).mapped)
    (read,) = (m.event for m in webhook.map("receipt", opened).mapped)

    assert isinstance(read, ou.OutreachRead)
    assert (read.patient_id, read.instance_id, read.message_id, read.channel) == ("P-1", "i-1", "m-day3", "wechat")
    assert read.occurred_at == at("2026-03-05 10:41")
    assert read.event_id != delivered.event_id  # two facts about one message, neither taken for a retry of the other
    assert webhook.map("receipt", opened).event_ids == [read.event_id]


def test_a_failure_receipt_carries_the_current_attempt_and_a_gateway_receipt_id_names_the_event():
    webhook = intake()
    failed = {"message_id": "m-day3", "channel": "sms", "status": "failed", "reason": "number unreachable"}

    (event,) = (m.event for m in webhook.map("receipt", failed | {"receipt_id": "r-1"}).mapped)
    other = webhook.map("receipt", failed | {"receipt_id": "r-2"})

    assert isinstance(event, ou.OutreachFailed)
    assert (event.reason, event.final, event.attempt) == ("number unreachable", True, 2)
    assert event.source.message_id == "receipt:r-1"
    assert other.event_ids != [event.event_id]


def test_a_receipt_for_a_message_careloop_never_sent_is_refused_naming_message_id():
    with pytest.raises(UnknownMessageError) as raised:
        intake().map("receipt", {"message_id": "m-nope", "channel": "sms", "status": "delivered"})

    assert raised.value.field == "message_id"
    assert "'m-nope' is not a message careloop requested" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"message_id": "m-day3", "channel": "sms", "status": "failed"}, None, "a failed receipt needs a reason"),
        ({"message_id": "m-day3", "channel": "fax", "status": "delivered"}, "channel", "'sms', 'wechat'"),
        ({"message_id": "m-day3", "channel": "email", "status": "opened"}, "status", "'delivered', 'read' or 'failed'"),
        ({"message_id": "m-day3", "channel": "sms"}, "status", "Field required"),
        ({"message_id": "m-day3", "channel": "sms", "status": "delivered", "colour": 1}, "colour", "Extra inputs"),
        ({"message_id": "m-day3", "channel": "sms", "status": "delivered", "at": "2026-03-05T10:00"}, "at", "timezone"),
    ],
)
def test_a_malformed_receipt_is_refused_naming_the_field(body: dict[str, object], field: str | None, words: str):
    with pytest.raises(PayloadError) as raised:
        intake().map("receipt", body)

    assert raised.value.field == field
    assert words in str(raised.value)
    assert str(raised.value).startswith("receipt: ")


def test_a_reply_to_a_message_goes_to_its_patient_and_the_same_text_twice_is_one_event():
    webhook = intake()
    reply = {"message_id": "m-day3", "channel": "sms", "text": "Wound is fine, thank you"}

    (first,) = webhook.map("reply", reply).mapped
    assert webhook.map("reply", reply).event_ids == [first.event.event_id]
    assert webhook.map("reply", reply | {"text": "Actually it hurts"}).event_ids != [first.event.event_id]

    assert isinstance(first.event, ou.OutreachReplied)
    assert (first.event.patient_id, first.event.message_id, first.event.text) == (
        "P-1",
        "m-day3",
        "Wound is fine, thank you",
    )


def test_a_reply_is_published_with_its_text_sealed_for_its_patient_and_a_stop_word_classified_as_its_keyword():
    published = Published()
    webhook = intake(published)

    webhook.accept("reply", {"message_id": "m-day3", "channel": "sms", "text": " Ｓｔｏｐ！"})
    webhook.accept("reply", {"message_id": "m-day3", "channel": "sms", "text": "please don't stop my reminders"})

    stop, sentence = published.events
    assert isinstance(stop, ou.OutreachReplied) and isinstance(sentence, ou.OutreachReplied)
    assert is_sealed(stop.text or "") and is_sealed(sentence.text or "")
    assert (stop.keyword, sentence.keyword) == ("stop", None)  # only a reply that is a word, whole
    assert reveal_event(stop, KEYS).text == "Ｓｔｏｐ！"


def test_what_staff_type_when_pausing_is_published_sealed_and_their_staff_id_stays_clear():
    published = Published()

    intake(published).accept("pause", {"patient_id": "P-1", "reason": "patient in hospice care", "by": "nurse.chen"})

    (paused,) = published.events
    assert isinstance(paused, ou.OutreachPaused)
    assert is_sealed(paused.reason)
    assert paused.by == "nurse.chen"
    assert reveal_event(paused, KEYS).reason == "patient in hospice care"


def test_a_reply_naming_another_patient_than_its_message_is_refused():
    with pytest.raises(PayloadError) as raised:
        intake().map("reply", {"message_id": "m-day3", "patient_id": "P-2", "channel": "sms", "text": "hi"})

    assert raised.value.field == "patient_id"


def test_an_unprompted_reply_gets_an_inbound_message_id_and_the_gateways_id_makes_it_recognisable():
    webhook = intake()
    unprompted = {"patient_id": "P-7", "channel": "wechat", "text": "Can I move my appointment?", "reply_id": "wx-5"}

    (mapped,) = webhook.map("reply", unprompted).mapped

    assert (mapped.event.patient_id, mapped.event.message_id) == ("P-7", "inbound:wx-5")  # type: ignore[attr-defined]
    assert webhook.map("reply", unprompted).event_ids == [mapped.event.event_id]
    with pytest.raises(PayloadError, match="names the message it answers"):
        webhook.map("reply", {"channel": "wechat", "text": "hello?"})


def test_an_epds_of_15_becomes_questionnaire_completed_with_its_score_and_a_stable_response_id():
    webhook = intake()
    items = {"q1": 2, "q2": 2, "q3": 2, "q4": 2, "q5": 2, "q6": 2, "q7": 1, "q8": 1, "q9": 1, "q10": 0}
    response = {"patient_id": "P-1", "instrument": "epds", "items": items, "message_id": "m-day3"}

    accepted = webhook.map("questionnaire", response)
    (mapped,) = accepted.mapped

    assert isinstance(mapped.event, fi.QuestionnaireCompleted)
    assert (mapped.event.instrument, mapped.event.score, mapped.event.message_id) == ("epds", 15, "m-day3")
    assert mapped.event.items == items
    # Posted again (the form retried): same response id, same event id, so the escalation opens one task only
    again = webhook.map("questionnaire", response).mapped[0].event
    assert (again.response_id, again.event_id) == (mapped.event.response_id, mapped.event.event_id)  # type: ignore[attr-defined]
    assert accepted.as_json()["results"] == [
        {
            "event_id": mapped.event.event_id,
            "type": "questionnaire.completed",
            "response_id": mapped.event.response_id,
            "score": 15,
            "band": "probable depression",
            "warnings": [],
        }
    ]


def test_a_questionnaire_with_an_out_of_range_item_or_an_unknown_instrument_is_refused_naming_it():
    items = {f"q{n}": 1 for n in range(1, 11)} | {"q3": 7}

    with pytest.raises(PayloadError) as bad_item:
        intake().map("questionnaire", {"patient_id": "P-1", "instrument": "epds", "items": items})
    with pytest.raises(PayloadError) as bad_instrument:
        intake().map("questionnaire", {"patient_id": "P-1", "instrument": "gad-7", "items": {"q1": 1}})

    assert (bad_item.value.field, str(bad_item.value)) == (
        "items.q3",
        "EPDS item q3: 7 is not allowed; answers are a whole number from 0 to 3",
    )
    assert bad_instrument.value.field == "instrument"


def test_pausing_twice_at_different_times_is_two_events_and_a_retried_request_id_is_one():
    webhook = intake()
    pause = {"patient_id": "P-1", "reason": "patient in hospice care", "by": "nurse.chen"}

    first, second = (webhook.map("pause", pause).event_ids[0] for _ in range(2))
    with_id = [webhook.map("pause", pause | {"request_id": "req-1"}).event_ids[0] for _ in range(2)]

    assert first != second
    assert with_id[0] == with_id[1]


def test_consent_changes_and_resume_map_to_their_events():
    webhook = intake()
    (withdrawn,) = webhook.map("consent", {"patient_id": "P-1", "channel": "sms", "status": "withdrawn"}).mapped
    (granted,) = webhook.map(
        "consent", {"patient_id": "P-1", "channel": "all", "status": "granted", "purpose": "research"}
    ).mapped
    (resumed,) = webhook.map("resume", {"patient_id": "P-1", "by": "nurse.chen"}).mapped

    assert isinstance(withdrawn.event, ou.ConsentWithdrawn) and withdrawn.event.channel == "sms"
    assert isinstance(granted.event, ou.ConsentGranted) and granted.event.purpose == "research"
    assert isinstance(resumed.event, ou.OutreachResumed) and resumed.event.by == "nurse.chen"


def test_a_batch_with_one_bad_request_is_refused_whole_naming_its_index_and_nothing_is_published():
    published = Published()
    batch = [
        {"message_id": "m-day3", "channel": "sms", "status": "delivered"},
        {"message_id": "m-day3", "channel": "pigeon", "status": "delivered"},
    ]

    with pytest.raises(PayloadError) as raised:
        intake(published).accept("receipt", batch)
    with pytest.raises(PayloadError, match="array is empty"):
        intake(published).accept("receipt", [])

    assert raised.value.field == "[1].channel"
    assert published.events == []


def test_a_broker_that_does_not_acknowledge_is_unavailable_not_a_bad_request():
    with pytest.raises(UnavailableError, match="Kafka did not acknowledge"):
        intake(Published(fail=True)).accept("resume", {"patient_id": "P-1"})


def test_the_events_name_the_authenticated_client_that_sent_them_as_their_source_and_the_intake_without_one() -> None:
    published = Published()
    webhook = intake(published)

    webhook.accept("reply", {"message_id": "m-day3", "channel": "sms", "text": "ok"}, caller="sms-gateway")
    webhook.accept("resume", {"patient_id": "P-1", "by": "nurse.chen"})

    from_gateway, unnamed = published.events
    assert from_gateway.source.system == "sms-gateway"
    assert unnamed.source.system == "careloop-webhook"
    assert webhook.map("resume", {"patient_id": "P-1"}, "care-team-app").mapped[0].event.source.system == (
        "care-team-app"
    )


def test_a_request_about_an_erased_patient_is_refused_as_a_bad_request_naming_the_patient_and_the_renewal() -> None:
    keys, published = memory_keys(), Published()
    webhook = OutreachIntake(MemoryDirectory(SENT), published, "careloop-webhook", Sealer(keys), KEYWORDS, Clock())
    keys.erase("P-1")
    reply = {"message_id": "m-day3", "channel": "sms", "text": "please call me back"}

    with pytest.raises(PayloadError) as sealed_reply:  # a reply's text would be sealed: there is no key
        webhook.accept("reply", reply)
    batch = [{"patient_id": p, "channel": "sms", "status": "withdrawn"} for p in ("P-7", "P-1")]
    with pytest.raises(PayloadError) as consent:  # nothing to seal: refused all the same
        webhook.accept("consent", batch)

    assert sealed_reply.value.field == "patient_id" and consent.value.field == "[1].patient_id"
    assert "patient P-1 was erased" in str(consent.value) and "careloop keys renew P-1" in str(consent.value)
    assert "please call me back" not in str(sealed_reply.value)
    assert published.events == []

    keys.renew("P-1")  # the patient came back: the webhook takes their requests again
    webhook.accept("reply", reply)
    assert [e.patient_id for e in published.events] == ["P-1"]
