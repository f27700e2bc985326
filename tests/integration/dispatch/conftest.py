"""The dispatcher against real services: a database of its own per test on the session's embedded PostgreSQL,
topics of its own on the session's embedded broker, and test gateways on loopback (HTTP and SMTP)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connectors.sealing import Sealer
from engine.dispatch.loops import Dispatcher
from engine.dispatch.settings import DispatchConfig, DispatchSettings
from engine.embedded import EmbeddedBroker
from engine.processes.dispatcher import build_dispatcher
from engine.security.phi import SEALED
from engine.store.application import JourneyStore, postgres_env
from events import journey as jo
from events import patient as pa
from events.base import Event
from tests.builders import event
from tests.kafka_topics import read_topic as read_records
from tests.keys import postgres_protection

pytestmark = pytest.mark.integration
_numbers = itertools.count(1)

JOURNEYS = """\
journeys:
  - id: recheck
    version: 1
    name: Recheck
    entry:
      event: encounter.discharged
    steps:
      - id: remind
        message: {template: recheck-reminder, channels: [sms, email]}
outreach:
  hospital:
    name: {zh-CN: 协和医院, en: Union Hospital}
    phone: "010-6915-6114"
templates:
  recheck-reminder:
    locales:
      zh-CN:
        subject: 复诊提醒
        body: >-
          {{ patient.name }}您好，请到{{ hospital.name }}{{ encounter.department }}复诊。咨询电话 {{ hospital.phone }}。
      en:
        subject: Your recheck
        body: "Dear {{ patient.name }}, please come back to {{ hospital.name }} ({{ encounter.department }})."
"""


# --- services ------------------------------------------------------------------------------------------------


@pytest.fixture
def journeys(tmp_path: Path) -> Path:
    path = tmp_path / "journeys.yaml"
    path.write_text(JOURNEYS, encoding="utf-8")
    return path


@pytest.fixture
def settings(
    database_url: str, broker: EmbeddedBroker, journeys: Path, tmp_path: Path
) -> Callable[..., DispatchSettings]:
    """Settings of a dispatcher on this test's database and topics; keyword arguments configure dispatching."""
    prefix = f"dispatch{next(_numbers)}-{uuid.uuid4().hex[:6]}"

    def make(**dispatch: Any) -> DispatchSettings:
        dispatch.setdefault("backoff", 0.05)
        dispatch.setdefault("poll_interval", 0.05)
        return DispatchSettings(
            database_url=database_url,
            kafka_bootstrap=broker.bootstrap,
            journeys=journeys,
            topic_prefix=prefix,
            partitions=2,
            data_dir=tmp_path,
            dispatch=DispatchConfig(**dispatch),
        )

    return make


# --- the engine's side: what it recorded in the store -------------------------------------------------------


# Each test's store, and what the intakes sealed its patients' data with: the key file under the test's data
# folder, which the dispatcher reads too, and the patients' keys in the test's database.
SEALERS: weakref.WeakKeyDictionary[JourneyStore, Sealer] = weakref.WeakKeyDictionary()


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[JourneyStore]:
    journeys = JourneyStore(postgres_env(database_url))
    SEALERS[journeys] = postgres_protection(database_url, tmp_path).sealer
    yield journeys
    journeys.close()


def record(store: JourneyStore, *events: Event) -> None:
    """Append events to their patients' streams, as the worker does: clinical ones sealed, as the intakes
    published them."""
    events = tuple(SEALERS[store].event(e) if e.type in SEALED else e for e in events)
    for pid in dict.fromkeys(e.patient_id for e in events):
        aggregate = store.load([pid])[pid]
        aggregate.record([e for e in events if e.patient_id == pid])
        store.save(aggregate)


NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def registered(patient: str, language: str = "zh-CN", name: str = "王芳", **contact: str) -> pa.PatientRegistered:
    return event(
        pa.PatientRegistered,
        patient,
        NOW,
        name=name,
        language=language,
        timezone="Asia/Shanghai",
        contact=pa.Contact(**contact),
    )


def approved(
    patient: str, message_id: str, channel: str = "sms", attempt: int = 1, locale: str = "zh-CN", **fields: Any
) -> jo.MessageApproved:
    fields.setdefault("variables", {"encounter": {"department": "骨科"}})
    return event(
        jo.MessageApproved,
        patient,
        NOW,
        instance_id=f"i-{message_id}",
        journey_id="recheck",
        step_id="remind",
        message_id=message_id,
        template="recheck-reminder",
        channel=channel,
        attempt=attempt,
        locale=locale,
        category="care",
        priority=50,
        **fields,
    )


def withdrawn(patient: str, message_id: str) -> jo.MessageSuppressed:
    return event(
        jo.MessageSuppressed,
        patient,
        NOW,
        instance_id=f"i-{message_id}",
        journey_id="recheck",
        step_id="remind",
        message_id=message_id,
        template="recheck-reminder",
        rule="consent",
        withdrawn=True,
        reason="consent withdrawn for sms",
    )


# --- driving a dispatcher in this process ------------------------------------------------------------------


def step(d: Dispatcher) -> int:
    """One round of each loop; how much was done."""
    return d.follower.catch_up() + d.sender.run_once() + d.outbox.run_once()


def run_until(d: Dispatcher, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the dispatcher did not get there in time"
        if not step(d):
            time.sleep(0.02)


@pytest.fixture
def dispatcher(settings: Callable[..., DispatchSettings]) -> Iterator[Callable[..., Dispatcher]]:
    built: list[Dispatcher] = []

    def make(**dispatch: Any) -> Dispatcher:
        d = build_dispatcher(settings(**dispatch))
        d.follower.setup()
        built.append(d)
        return d

    yield make
    for d in built:
        for close in (d.follower.close, d.sender.close, d.outbox.close, d.close):
            close()


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode(), params).fetchall()


def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message on the topic, as JSON."""
    return [json.loads(m.value or b"{}") for m in read_records(bootstrap, topic)]


# --- a test HTTP gateway ------------------------------------------------------------------------------------


@dataclass
class Request:
    key: str | None
    authorization: str | None
    body: dict[str, Any]


@dataclass
class TestGateway:
    __test__ = False  # a helper, not a test class

    """An SMS gateway on loopback that honours Idempotency-Key: a repeated key gets the first answer and sends
    nothing. ``answers`` are the statuses of the next new requests (then 200); ``on_request`` runs first."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)  # what patients received, by key
    answers: deque[int] = field(default_factory=deque)
    on_request: Callable[[Request], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: list[float] = field(default_factory=list)

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(request)
            self.times.append(time.monotonic())
        if self.on_request is not None:
            self.on_request(request)
        with self.lock:
            if request.key is not None and request.key in self.delivered:
                return 200, {"id": f"gw-{request.key}"}  # the first result; nothing sent again
            status = self.answers.popleft() if self.answers else 200
            if status == 200:
                self.delivered[request.key or f"no-key-{len(self.requests)}"] = request.body
                return 200, {"id": f"gw-{request.key}"}
            return status, {"code": "invalid_number" if status == 400 else "unavailable"}


@pytest.fixture
def gateway() -> Iterator[TestGateway]:
    gw = TestGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            req = Request(self.headers.get("Idempotency-Key"), self.headers.get("Authorization"), json.loads(raw))
            status, answer = gw.handle(req)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    gw.url = f"http://127.0.0.1:{server.server_address[1]}/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gw
    server.shutdown()
    server.server_close()
