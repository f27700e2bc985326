"""`careloop webhook` over a real socket on the embedded broker and PostgreSQL: a patient's reply and an EPDS
response land on the clinical topic keyed by patient, 202 only after Kafka acknowledged; bad requests get a
422 naming the field, and a broker that is away a 503."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES
from connectors.outreach import http
from connectors.outreach.directory import PostgresDirectory
from connectors.outreach.intake import OutreachIntake
from connectors.publisher import EventPublisher
from engine.embedded import EmbeddedBroker
from engine.journeys.policy import ConsentByReply
from engine.plumbing.topics import ensure_topics
from engine.processes.intake import open_outreach_intake
from engine.settings import Settings
from engine.store.application import JourneyStore
from projections.runner import Runner
from tests.builders import at
from tests.http_credentials import bearer, signed, write_clients
from tests.integration.outreach.conftest import message_requested, record
from tests.integration.test_live_intake import Server, read_topic
from tests.keys import postgres_protection

pytestmark = pytest.mark.integration
_n = itertools.count()
GATEWAY_PATHS = ("/outreach/receipts", "/outreach/replies")
EPDS_15 = {"q1": 2, "q2": 2, "q3": 2, "q4": 2, "q5": 2, "q6": 2, "q7": 1, "q8": 1, "q9": 1, "q10": 0}


def post(port: int, path: str, body: Any, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    """POST as a gateway would (receipts and replies, signed) or a form or care-team tool (a bearer token)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    credential = signed(path, data) if path in GATEWAY_PATHS else bearer()
    headers = {"Content-Type": content_type} | credential
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def topics_for(broker: EmbeddedBroker, tmp_path: Path) -> Any:
    settings = Settings(topic_prefix=f"webhook{next(_n)}-{tmp_path.name[-6:]}", partitions=3, data_dir=tmp_path)
    return ensure_topics(settings, broker.bootstrap)


@contextmanager
def webhook(publisher: EventPublisher, database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The webhook's HTTP server over an outreach intake built by hand on ``publisher`` (the test's to close), with
    the messages looked up in the test's database; stopped when the block ends."""
    keys = postgres_protection(database_url, tmp_path)
    intake = OutreachIntake(
        PostgresDirectory(database_url), publisher, "careloop-webhook", keys.sealer, ConsentByReply().classify
    )
    server = Server(http.serve, intake, guard=write_clients(tmp_path / "clients").guard())
    try:
        yield server
    finally:
        server.close()


def test_a_reply_and_an_epds_of_15_reach_the_clinical_topic_keyed_by_patient(
    broker: EmbeddedBroker, store: JourneyStore, runner: Runner, database_url: str, tmp_path: Path
) -> None:
    # The engine asked patient P-W to fill in the month-1 EPDS; the reminder queue knows the message
    record(store, message_requested("P-W", "m-epds-w", at("2026-04-01 10:00")))
    runner.catch_up()
    topics = topics_for(broker, tmp_path)
    server = Server(
        http.serve,
        open_outreach_intake(
            broker.bootstrap,
            database_url,
            topics.clinical,
            "careloop-webhook",
            DEFAULT_MAX_MESSAGE_BYTES,
            postgres_protection(database_url, tmp_path),
            ConsentByReply().classify,
        ),
        guard=write_clients(tmp_path / "clients").guard(),
    )
    try:
        # She replies to the message, then submits the questionnaire (and her phone submits it twice)
        reply = {"message_id": "m-epds-w", "channel": "wechat", "text": "Filling it in now"}
        replied = post(server.port, "/outreach/replies", reply)
        response = {"patient_id": "P-W", "instrument": "epds", "items": EPDS_15, "message_id": "m-epds-w"}
        scored = post(server.port, "/questionnaires", response)
        again = post(server.port, "/questionnaires", response)

        # Bad requests are refused with the field at fault; nothing of theirs is published
        unknown = post(
            server.port, "/outreach/receipts", {"message_id": "m-x", "channel": "sms", "status": "delivered"}
        )
        out_of_range = post(server.port, "/questionnaires", response | {"items": EPDS_15 | {"q10": 4}})
        not_json = post(server.port, "/outreach/pause", b"{patient", "application/json")
    finally:
        server.close()

    assert replied[0] == 202
    assert scored[0] == 202
    (result,) = scored[1]["results"]
    assert (result["type"], result["score"], result["band"]) == ("questionnaire.completed", 15, "probable depression")
    assert again == scored  # a retry is recognised: the same event id and response id
    assert unknown[0] == 422 and unknown[1]["field"] == "message_id"
    assert out_of_range == (422, {"error": out_of_range[1]["error"], "field": "items.q10"})
    assert "EPDS item q10: 4 is not allowed" in out_of_range[1]["error"]
    assert not_json[0] == 422 and not_json[1]["error"].startswith("the body is not JSON")

    on_topic = [(key, json.loads(value)) for key, value, _ in read_topic(broker.bootstrap, topics.clinical)]
    assert [(key, e["type"]) for key, e in on_topic] == [
        (b"P-W", "outreach.replied"),
        (b"P-W", "questionnaire.completed"),
        (b"P-W", "questionnaire.completed"),
    ]
    replied_event, completed, resent = (e for _, e in on_topic)
    assert (replied_event["message_id"], replied_event["instance_id"]) == ("m-epds-w", "i-m-epds-w")
    assert replied_event["event_id"] == replied[1]["event_ids"][0]
    assert (completed["instrument"], completed["score"], completed["message_id"]) == ("epds", 15, "m-epds-w")
    assert resent["event_id"] == completed["event_id"] == result["event_id"]


def test_a_broker_that_is_away_gets_a_503_and_the_sender_is_told_to_resend(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    topics = topics_for(broker, tmp_path)
    publisher = EventPublisher(broker.bootstrap, topics.clinical)
    publisher.close()  # the producer can no longer reach Kafka
    with webhook(publisher, database_url, tmp_path) as server:
        status, body = post(server.port, "/outreach/pause", {"patient_id": "P-Z", "reason": "moved abroad"})

    assert status == 503
    assert body["error"].startswith("Kafka did not acknowledge the events")
    assert read_topic(broker.bootstrap, topics.clinical) == []


def test_a_wechat_read_receipt_reaches_the_clinical_topic_as_outreach_read_keyed_by_patient(
    broker: EmbeddedBroker, store: JourneyStore, runner: Runner, database_url: str, tmp_path: Path
) -> None:
    record(store, message_requested("P-R", "m-read-r", at("2026-04-01 10:00")))
    runner.catch_up()
    topics = topics_for(broker, tmp_path)
    publisher = EventPublisher(broker.bootstrap, topics.clinical)
    receipt = {"message_id": "m-read-r", "channel": "wechat", "receipt_id": "wx-77"}
    try:
        with webhook(publisher, database_url, tmp_path) as server:
            delivered = post(server.port, "/outreach/receipts", receipt | {"status": "delivered"})
            read = post(server.port, "/outreach/receipts", receipt | {"status": "read", "receipt_id": "wx-78"})
            opened = post(server.port, "/outreach/receipts", receipt | {"status": "opened"})
    finally:
        publisher.close()

    assert (delivered[0], read[0]) == (202, 202)
    assert opened[0] == 422 and opened[1]["field"] == "status"
    on_topic = [(key, json.loads(value)) for key, value, _ in read_topic(broker.bootstrap, topics.clinical)]
    assert [(key, e["type"]) for key, e in on_topic] == [(b"P-R", "outreach.delivered"), (b"P-R", "outreach.read")]
    read_event = on_topic[1][1]
    assert (read_event["message_id"], read_event["channel"]) == ("m-read-r", "wechat")
    assert read_event["event_id"] == read[1]["event_ids"][0]
