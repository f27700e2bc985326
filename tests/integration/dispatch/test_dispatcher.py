"""The dispatcher in this process, step by step, on real PostgreSQL and the embedded broker, sending through a
test HTTP gateway on loopback: sending, retrying, failing, withdrawals, rate limits, and a replayed log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from engine.dispatch.channels.demo_inbox import reveal
from engine.dispatch.follower import Follower
from engine.dispatch.loops import Dispatcher
from engine.dispatch.settings import DispatchSettings
from engine.store.application import JourneyStore
from projections.source import StoreSource
from tests.integration.dispatch.conftest import (
    SEALERS,
    TestGateway,
    approved,
    read_topic,
    record,
    registered,
    rows,
    run_until,
    step,
    withdrawn,
)

pytestmark = pytest.mark.integration
Make = Callable[..., Dispatcher]


def sms_gateway(gateway: TestGateway, **extra: Any) -> dict[str, Any]:
    return {
        "gateways": {"sms-gw": {"kind": "http", "url": gateway.url, "token": "s3cret", **extra}},
        "channels": {"sms": "sms-gw", "app": "demo"},
    }


def status(url: str, message_id: str, attempt: int = 1) -> str | None:
    found = rows(
        url, "SELECT status FROM dispatch_messages WHERE message_id = %s AND attempt = %s", message_id, attempt
    )
    return found[0][0] if found else None


def published(d: Dispatcher, settings: DispatchSettings) -> list[dict[str, Any]]:
    return [e for e in read_topic(settings.kafka_bootstrap or "", f"{settings.topic_prefix}.clinical")]


def test_an_approved_sms_reaches_the_patient_once_and_the_engine_hears_it_was_sent(
    store: JourneyStore,
    gateway: TestGateway,
    dispatcher: Make,
    settings: Callable[..., DispatchSettings],
    database_url: str,
) -> None:
    # The engine approved a recheck reminder by SMS for a registered patient
    record(store, registered("P-1", phone="+8613800000001"), approved("P-1", "m-1"))
    d = dispatcher(**sms_gateway(gateway))

    # The dispatcher sends it through the gateway, authenticated, with the approval's idempotency key
    run_until(d, lambda: status(database_url, "m-1") == "sent")
    (request,) = gateway.requests
    assert request.key == "m-1:1"
    assert request.authorization == "Bearer s3cret"
    assert request.body["to"] == "+8613800000001"
    assert request.body["locale"] == "zh-CN"
    assert request.body["body"] == "王芳您好，请到协和医院骨科复诊。咨询电话 010-6915-6114。"
    # (revealed in memory for this send: the contact directory keeps her name and number sealed)
    [(name, phone)] = rows(database_url, "SELECT name, phone FROM dispatch_contacts WHERE patient_id = 'P-1'")
    assert name.startswith("enc1:") and phone.startswith("enc1:")

    # ...and the engine gets one outreach.sent on the clinical topic, keyed to the approval
    run_until(d, lambda: not rows(database_url, "SELECT 1 FROM dispatch_outbox WHERE published_at IS NULL"))
    (sent,) = published(d, settings())
    assert (sent["type"], sent["message_id"], sent["attempt"], sent["channel"]) == ("outreach.sent", "m-1", 1, "sms")
    assert (sent["gateway"], sent["gateway_ref"], sent["patient_id"]) == ("sms-gw", "gw-m-1:1", "P-1")

    # Nothing more happens however often the dispatcher looks again
    for _ in range(3):
        step(d)
    assert len(gateway.requests) == 1


def test_a_gateway_that_is_down_for_a_while_gets_the_message_once_when_it_is_back(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("P-2", phone="+8613800000002"), approved("P-2", "m-2"))
    gateway.answers.extend([503, 500])
    d = dispatcher(**sms_gateway(gateway), max_tries=5, backoff=0.2)
    started = time.monotonic()
    run_until(d, lambda: status(database_url, "m-2") == "sent")

    # Two failures, then success: three requests, backing off 0.2 s then 0.4 s, and one message delivered
    assert len(gateway.requests) == 3
    assert time.monotonic() - started >= 0.55
    assert gateway.times[2] - gateway.times[1] >= 0.35
    assert list(gateway.delivered) == ["m-2:1"]
    assert rows(database_url, "SELECT tries FROM dispatch_messages WHERE message_id = 'm-2'") == [(3,)]


def test_a_gateway_that_keeps_failing_ends_in_a_final_failure_with_the_reason(
    store: JourneyStore,
    gateway: TestGateway,
    dispatcher: Make,
    settings: Callable[..., DispatchSettings],
    database_url: str,
) -> None:
    record(store, registered("P-3", phone="+8613800000003"), approved("P-3", "m-3", fallbacks=("email",)))
    gateway.answers.extend([503, 503, 503])
    d = dispatcher(**sms_gateway(gateway), max_tries=3)
    run_until(d, lambda: status(database_url, "m-3") == "failed")
    run_until(d, lambda: not rows(database_url, "SELECT 1 FROM dispatch_outbox WHERE published_at IS NULL"))

    # Three tries, nothing delivered; the engine hears a final failure of attempt 1 on sms, with the reason
    assert len(gateway.requests) == 3
    assert gateway.delivered == {}
    (failed,) = published(d, settings())
    assert (failed["type"], failed["final"], failed["attempt"], failed["channel"]) == (
        "outreach.failed",
        True,
        1,
        "sms",
    )
    assert failed["reason"] == "gateway sms-gw answered HTTP 503 (unavailable) (gave up after 3 tries)"


def test_an_invalid_number_fails_at_once_and_a_later_attempt_on_another_channel_is_sent(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("P-4", phone="+86000"), approved("P-4", "m-4"))
    gateway.answers.append(400)
    d = dispatcher(**sms_gateway(gateway), max_tries=5)
    run_until(d, lambda: status(database_url, "m-4") == "failed")
    assert len(gateway.requests) == 1  # a 4xx is not retried
    assert rows(database_url, "SELECT last_error FROM dispatch_messages WHERE message_id = 'm-4'") == [
        ("gateway sms-gw answered HTTP 400 (invalid_number)",)
    ]

    # The engine falls back: attempt 2 on the app (through the demo inbox here), sent on its own
    record(store, approved("P-4", "m-4", channel="app", attempt=2))
    run_until(d, lambda: status(database_url, "m-4", 2) == "sent")
    [(key, channel, recipient, body)] = rows(
        database_url, "SELECT idempotency_key, channel, recipient, body FROM outreach_demo_inbox"
    )
    keys = SEALERS[store].keys  # the inbox rests sealed with the patient's key, like the contact directory
    assert (key, channel, reveal(keys, "P-4", "recipient", recipient)) == ("m-4:2", "app", "P-4")
    assert "王芳" not in body and reveal(keys, "P-4", "body", body).startswith("王芳您好")


def test_a_withdrawn_approval_is_never_sent(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    # Approved, then consent withdrawn before the dispatcher got to it
    record(store, registered("P-5", phone="+8613800000005"), approved("P-5", "m-5"), withdrawn("P-5", "m-5"))
    record(store, registered("P-6", phone="+8613800000006"), approved("P-6", "m-6"))
    d = dispatcher(**sms_gateway(gateway))
    run_until(d, lambda: status(database_url, "m-6") == "sent")
    for _ in range(3):
        step(d)

    assert status(database_url, "m-5") == "withdrawn"
    assert [r.key for r in gateway.requests] == ["m-6:1"]


def test_phone_approvals_are_left_to_staff_and_a_patient_without_a_number_fails_with_a_clear_reason(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("P-7", email="p7@example.org"), approved("P-7", "m-7"), approved("P-7", "m-8", "phone"))
    d = dispatcher(**sms_gateway(gateway))
    run_until(d, lambda: status(database_url, "m-7") == "failed")

    assert gateway.requests == []
    assert status(database_url, "m-8") == "staff"
    assert rows(database_url, "SELECT last_error FROM dispatch_messages WHERE message_id = 'm-7'") == [
        ("the patient has no phone number for the sms channel",)
    ]


def test_a_contact_the_intakes_did_not_seal_is_not_sent_to_and_the_reason_names_the_field_not_the_value(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    # A contact row written in clear (by hand, or by an earlier careloop) is not what the intakes publish
    record(store, registered("P-11", phone="+8613800000011"), approved("P-11", "m-11"))
    d = dispatcher(**sms_gateway(gateway))
    d.follower.catch_up()  # the directory has her sealed number; it is then overwritten in clear
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE dispatch_contacts SET phone = '+8613800000011' WHERE patient_id = 'P-11'")
    run_until(d, lambda: status(database_url, "m-11") == "failed")

    assert gateway.requests == []
    [(error,)] = rows(database_url, "SELECT last_error FROM dispatch_messages WHERE message_id = 'm-11'")
    assert error == "dispatch_contacts: contact.phone holds a clear value where a sealed one was expected"


def test_a_message_that_cannot_be_rendered_fails_instead_of_going_out_blank(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("P-9", phone="+8613800000009"), approved("P-9", "m-9", variables={}))
    d = dispatcher(**sms_gateway(gateway))
    run_until(d, lambda: status(database_url, "m-9") == "failed")

    assert gateway.requests == []
    (error,) = rows(database_url, "SELECT last_error FROM dispatch_messages WHERE message_id = 'm-9'")[0]
    assert error.startswith("cannot render the message: template 'recheck-reminder' (zh-CN)")
    assert "encounter.department" in error


def test_a_rate_limited_gateway_is_not_sent_more_than_its_rate(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    patients = [f"P-r{n}" for n in range(8)]
    record(store, *(e for p in patients for e in (registered(p, phone="+861380000"), approved(p, f"m-{p}"))))
    d = dispatcher(**sms_gateway(gateway, rate=5.0, burst=2))
    started = time.monotonic()
    run_until(d, lambda: len(gateway.delivered) == 8)

    # 8 messages, 2 at once, then 5 per second: at least (8 - 2) / 5 = 1.2 s
    assert time.monotonic() - started >= 1.1
    assert gateway.times[-1] - gateway.times[0] >= 1.1


def test_following_the_same_page_of_the_log_again_changes_nothing(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    record(store, registered("P-10", phone="+8613800000010"), approved("P-10", "m-10"), withdrawn("P-10", "m-10"))
    record(store, approved("P-10", "m-11"))
    d = dispatcher(**sms_gateway(gateway))
    d.follower.catch_up()
    tables = "SELECT * FROM dispatch_messages ORDER BY message_id", "SELECT * FROM dispatch_contacts"
    before = [rows(database_url, t) for t in tables]

    # The same page applied again by a second follower that thinks it starts at 0: refused, nothing written
    source = StoreSource(store)
    page = source.read(0, 100)
    again = Follower(database_url, source)
    assert again.apply_page(page) is False

    # ...and even forced through (tracking reset), its statements change nothing
    rows(database_url, "UPDATE dispatch_tracking SET position = 0 RETURNING position")
    assert again.apply_page(page) is True
    again.close()
    assert [rows(database_url, t) for t in tables] == before
    assert [s for (s,) in rows(database_url, "SELECT status FROM dispatch_messages ORDER BY message_id")] == [
        "withdrawn",
        "pending",
    ]


def test_two_dispatchers_running_at_once_share_the_work_and_send_each_message_once(
    store: JourneyStore, gateway: TestGateway, dispatcher: Make, database_url: str
) -> None:
    patients = [f"P-t{n}" for n in range(30)]
    record(store, *(e for p in patients for e in (registered(p, phone="+861380000"), approved(p, f"m-{p}"))))
    first, second = dispatcher(**sms_gateway(gateway)), dispatcher(**sms_gateway(gateway))
    stop = threading.Event()
    threads = [threading.Thread(target=d.run, args=(stop,)) for d in (first, second)]
    for t in threads:
        t.start()
    try:
        sent = "SELECT count(*) FROM dispatch_messages WHERE status = 'sent'"
        deadline = time.monotonic() + 60
        while rows(database_url, sent) != [(30,)]:
            assert time.monotonic() < deadline, "the dispatchers did not send everything in time"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    # Each approval was requested from the gateway once: no in-flight send was taken for an in-doubt one
    keys = [r.key for r in gateway.requests]
    assert sorted(keys) == sorted(f"m-{p}:1" for p in patients)
