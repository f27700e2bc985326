"""Fault injection on the live pipeline, one seeded scenario per broker.

A realistic 90-day hospital stream goes through the stepped driver while the worker is SIGKILLed at every
chunk, the projection runner is SIGKILLed and restarted, events are published twice, poison messages are
mixed in, some events arrive late or out of order, a second worker shares the group throughout and a third joins
it, is SIGKILLed and joins again (forced rebalances), PostgreSQL restarts mid-run and (Apache Kafka only) the
broker restarts with every client connected. Then the invariants: the event store equals `careloop
simulate` on the accepted events in their arrival order, every message request is in the queue once, every
projection equals a rebuild from scratch, and every poison message is on the dead-letter topic with its
reason. Counts go to tests/faults/.last-run.json; `python -m tests.faults.report` renders docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from engine.cli.main import app
from engine.cli.runtime import wait_for_dispatcher
from engine.demo.compare import compare
from engine.demo.hospital import generate
from engine.embedded import EmbeddedPostgres, free_port
from events.base import Event
from tests.e2e.conftest import Live
from tests.faults.conftest import bootstrap_for
from tests.faults.report import LAST_RUN, record
from tests.integration.dispatch.conftest import TestGateway, gateway  # noqa: F401 - the gateway fixture

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3 on Python 3.11
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parents[2]
SEEDS = {"tansu": 20260311, "apache": 20260312}
WORKER_KILLS = 50
DISPATCHER_KILLS = 12
TABLES = {
    "reminder_queue": "message_id",
    "churn_flags": "patient_id, journey_id, reason",
    "journey_instances": "instance_id",
    "tasks": "task_id",
    "patient_timeline": "event_id",
}


@dataclass
class Poison:
    kind: str  # the careloop-reason-kind the worker must give it
    key: bytes
    value: bytes
    partition: int = -1
    offset: int = -1


@dataclass
class Faults:
    counts: Counter[str] = field(default_factory=Counter)
    poison: list[Poison] = field(default_factory=list)


def arrival_order(events: list[Event], rng: random.Random, late: int, swapped: int) -> tuple[list[Event], int, int]:
    """The stream as it will arrive: some patients' first event late, some patients' events swapped.

    A late event is a patient's first one, moved to just before the patient's second: it arrives after
    events recorded later for other patients, and after the database clock passed its recorded_at. A swap
    puts a patient's next event right before the one recorded earlier (adjacent, so the same chunk: the
    clock does not move between them).
    """
    out = list(events)
    positions: dict[str, list[int]] = {}
    for i, e in enumerate(out):
        positions.setdefault(e.patient_id, []).append(i)
    gaps = [p for p, idx in positions.items() if len(idx) >= 2 and idx[1] - idx[0] > 10]
    moved = 0
    for patient in rng.sample(sorted(gaps), min(late, len(gaps))):
        first = next(i for i, e in enumerate(out) if e.patient_id == patient)
        event = out.pop(first)
        second = next(i for i, e in enumerate(out) if e.patient_id == patient)
        out.insert(second, event)
        moved += 1
    swaps = 0
    candidates = [i for i in range(len(out) - 1) if out[i].patient_id == out[i + 1].patient_id]
    candidates += [
        i
        for i in range(len(out) - 2)
        if out[i].patient_id == out[i + 2].patient_id and out[i + 1].patient_id != out[i].patient_id
    ]
    for i in rng.sample(sorted(set(candidates)), min(swapped, len(set(candidates)))):
        j = i + 1 if out[i + 1].patient_id == out[i].patient_id else i + 2
        if out[i].patient_id != out[j].patient_id or out[i].recorded_at >= out[j].recorded_at:
            continue
        # The later one first, the earlier right after it.
        later = out.pop(j)
        out.insert(i, later)
        swaps += 1
    return out, moved, swaps


def poison_messages(rng: random.Random, n: int) -> list[Poison]:
    tag = f"{n}-{rng.randrange(10**6)}"
    return [
        Poison("decode", f"POISON-JSON-{tag}".encode(), b'{"type": "encounter.discharged", "patient_id": "P'),
        Poison(
            "validation",
            f"POISON-TYPE-{tag}".encode(),
            json.dumps({"type": "encounter.teleported", "patient_id": f"POISON-TYPE-{tag}", "version": 1}).encode(),
        ),
    ]


def wrong_key(event: Event, tag: str) -> Poison:
    # A valid event keyed by another patient: it would land on the wrong partition, so it is refused.
    return Poison("key-mismatch", f"SOMEONE-ELSE-{tag}".encode(), event.model_dump_json().encode())


def send_poison(bootstrap: str, topic: str, poison: list[Poison]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=10)
    try:
        for p in poison:
            meta = producer.send(topic, key=p.key, value=p.value).get(timeout=60)
            p.partition, p.offset = meta.partition, meta.offset
    finally:
        producer.close(timeout=10)


def kill(live: Live, name: str) -> None:
    for child, proc in list(live.stack._children):
        if child == name:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            live.stack._children.remove((child, proc))


def dispatch_env(gw: TestGateway) -> dict[str, str]:
    """The dispatcher sends SMS and WeChat to the counting gateway on loopback. The stepped clock leaps a chunk at
    a time, so approvals would be stale by the time it looks: it sends them anyway (as in `careloop demo`)."""
    return {
        "CARELOOP_DISPATCH__GATEWAYS": json.dumps({"gw": {"kind": "http", "url": gw.url}}),
        "CARELOOP_DISPATCH__CHANNELS": json.dumps({"sms": "gw", "wechat": "gw", "email": "gw", "app": "gw"}),
        "CARELOOP_DISPATCH__SEND_STALE": "true",
        "CARELOOP_DISPATCH__POLL_INTERVAL": "0.1",
    }


def _running(live: Live, name: str) -> bool:
    return any(child == name for child, _ in live.stack._children)


def restart_postgres(live: Live, postgres: EmbeddedPostgres, down: float) -> None:
    """Fast shutdown of the session's PostgreSQL, a pause, and a start on the same port (same URL)."""
    port = postgres._port
    postgres.stop()
    time.sleep(down)
    postgres._requested_port = port  # the children and the driver keep their URL
    try:
        postgres.start()
    finally:
        postgres._requested_port = None
    live.conn = psycopg.connect(live.database_url, autocommit=True)
    live.driver._conn = psycopg.connect(live.database_url, autocommit=True)


@dataclass
class Supervisor:
    """What an orchestrator would do: restart a child that exited, and remember it (a crash is a finding)."""

    live: Live
    dispatch_env: dict[str, str] = field(default_factory=dict)
    chunk: int = 0
    crashes: list[tuple[int, str, int]] = field(default_factory=list)

    def spawn(self, name: str) -> None:
        if name == "dispatcher":
            self.live.stack.spawn(name, "dispatch", env=self.dispatch_env)
        elif name != "worker" and name.startswith("worker"):  # its own metrics port: the first worker's is taken
            self.live.stack.spawn(name, "worker", env={"CARELOOP_METRICS_PORT": str(free_port())})
        elif name.startswith("worker"):
            self.live.stack.spawn(name, "worker")
        else:
            self.live.stack.spawn(name, "projections", "run")

    def check(self) -> None:
        for name, proc in list(self.live.stack._children):
            code = proc.poll()
            if code is not None:
                self.crashes.append((self.chunk, name, code))
                self.live.stack._children.remove((name, proc))
                self.spawn(name)


def dead_letters(bootstrap: str, topic: str) -> list[tuple[int, int, bytes, dict[str, bytes]]]:
    async def read() -> list[tuple[int, int, bytes, dict[str, bytes]]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        out: list[tuple[int, int, bytes, dict[str, bytes]]] = []
        try:
            idle = 0
            while idle < 3:
                batches = await consumer.getmany(timeout_ms=1000)
                got = [m for msgs in batches.values() for m in msgs]
                idle = 0 if got else idle + 1
                for m in got:
                    headers = dict(m.headers)
                    origin = (int(headers["careloop-origin-partition"]), int(headers["careloop-origin-offset"]))
                    out.append((*origin, m.value, headers))
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def dump(live: Live) -> dict[str, list[tuple[Any, ...]]]:
    return {t: live.rows(f"SELECT * FROM {t} ORDER BY {k}") for t, k in TABLES.items()}


def test_the_pipeline_survives_kills_restarts_duplicates_poison_and_late_events(
    faulty_live: Live,
    broker_kind: str,
    postgres: EmbeddedPostgres,
    gateway: TestGateway,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    live = faulty_live
    seed = SEEDS[broker_kind]
    rng = random.Random(seed)
    began = time.monotonic()
    faults = Faults()

    events = generate(patients=150, seed=seed, days=90)
    arrival, late, swaps = arrival_order(events, rng, late=6, swapped=8)
    faults.counts["late event"] = late
    faults.counts["out-of-order arrival"] = swaps
    until = max(e.recorded_at for e in events) + timedelta(days=31)

    size = max(1, len(arrival) // (WORKER_KILLS + 4))
    chunks = [arrival[i : i + size] for i in range(0, len(arrival), size)]
    special = rng.sample(range(2, len(chunks) - 2), 13)
    pg_restart_at, broker_restart_at = special[0], special[1]
    projection_kills_at = set(special[2:5])
    poison_at = special[5:8]
    # Beside the standing second worker (tests/faults/conftest.py), a third in the same group joins, is SIGKILLed,
    # and joins again: each forces a rebalance while all consume, so partitions move between workers mid-stream.
    second_joins_at, second_killed_at = {special[10], special[12]}, special[11]
    duplicates_at = set(rng.sample(range(3, len(chunks)), 8))
    dispatcher_kills_at = set(rng.sample(range(1, len(chunks)), DISPATCHER_KILLS))

    supervisor = Supervisor(live, dispatch_env(gateway))
    supervisor.spawn("dispatcher")
    live.driver._check = supervisor.check
    accepted: list[Event] = []  # what the worker must apply, in the order it was published
    live.advance_clock(arrival[0].recorded_at - timedelta(minutes=1))
    clock = arrival[0].recorded_at - timedelta(minutes=1)
    for n, chunk in enumerate(chunks):
        supervisor.chunk = n
        batch = list(chunk)
        if n in duplicates_at:
            # Already-published events, again: a connector retrying, a replayed file.
            again = rng.sample(accepted, min(6, len(accepted)))
            batch = rng.sample(batch + again, len(batch) + len(again))
            # Keep each patient's own order within the chunk as it was, duplicates after their originals.
            order = {e.event_id: i for i, e in enumerate(chunk)}
            batch.sort(key=lambda e: (e.patient_id, order.get(e.event_id, -1)))
            batch = _interleave(batch, rng)
            faults.counts["duplicate event"] += len(again)
        if n in poison_at:
            poison = [*poison_messages(rng, n), wrong_key(rng.choice(accepted), f"{n}")]
            send_poison(live.stack.bootstrap, live.topics.clinical, poison)
            faults.poison += poison
            for p in poison:
                faults.counts[f"poison ({p.kind})"] += 1
        accepted += batch
        live.publish(batch, wait=False)
        if n == pg_restart_at:
            time.sleep(rng.uniform(0.0, 0.5))
            restart_postgres(live, postgres, down=rng.uniform(1.0, 2.0))
            faults.counts["PostgreSQL restart"] += 1
            time.sleep(1.0)  # let a child that lost its database notice before the supervisor looks
        elif n == broker_restart_at and broker_kind == "apache":
            time.sleep(rng.uniform(0.0, 0.5))
            request.getfixturevalue("apache_kafka").restart()
            faults.counts["broker restart"] += 1
        else:
            # SIGKILL the worker somewhere in consuming, deciding and committing the chunk.
            time.sleep(rng.uniform(0.0, 0.8))
            kill(live, "worker")
            live.stack.spawn("worker", "worker")
            faults.counts["worker SIGKILL"] += 1
        if n in second_joins_at and not _running(live, "worker-2"):
            supervisor.spawn("worker-2")
            faults.counts["second worker joined (rebalance)"] += 1
        elif n == second_killed_at and _running(live, "worker-2"):
            time.sleep(rng.uniform(0.0, 0.5))
            kill(live, "worker-2")
            faults.counts["second worker SIGKILL (rebalance)"] += 1
        if n in dispatcher_kills_at:
            # Somewhere in following the log, sending (between a gateway's answer and its record) or publishing.
            time.sleep(rng.uniform(0.0, 0.6))
            kill(live, "dispatcher")
            supervisor.spawn("dispatcher")
            faults.counts["dispatcher SIGKILL"] += 1
        if n in projection_kills_at:
            time.sleep(rng.uniform(0.0, 0.3))
            kill(live, "projections")
            live.stack.spawn("projections", "projections", "run")
            faults.counts["projection runner SIGKILL"] += 1
        live.driver.wait_consumed()
        clock = max(clock, *(e.recorded_at for e in chunk))
        live.advance_clock(clock)
    live.advance_clock(until)
    assert wait_for_dispatcher(live.database_url, live.stack, timeout=180), "the dispatcher did not finish"
    live.driver.wait_all_consumed()  # the dispatcher's last reports are applied too
    supervisor.check()
    live.driver._check = live.stack.check_children

    # Every accepted clinical event is reflected exactly once: the store equals simulate on the same arrivals.
    comparison = compare(live.database_url, accepted, until, live.keys)
    # Every approved message reached its patient exactly once (the gateway honours Idempotency-Key as real ones
    # do: a re-send after a kill is recognised), and nothing else was delivered.
    approved = Counter(
        p["message_id"]
        for stream in comparison.live.values()
        for p in stream
        if p["type"] == "message.approved" and p["channel"] != "phone"
    )
    delivered = Counter(body["message_id"] for body in gateway.delivered.values())
    requested = sorted(
        e.message_id  # type: ignore[attr-defined]
        for recorded in comparison.simulated.values()
        for e in recorded
        if e.type == "message.requested"
    )

    # Every projection is caught up, then equals a rebuild from scratch.
    live.catch_up_projections(timeout=120)
    before = dump(live)
    reached = "status NOT IN ('scheduled', 'skipped', 'cancelled')"  # due, or decided on by the outreach policy
    due = [r[0] for r in live.rows(f"SELECT message_id FROM reminder_queue WHERE {reached} ORDER BY 1")]
    clinical_ids = {e.event_id for e in accepted}
    timeline_ids = {r[0] for r in live.rows("SELECT event_id FROM patient_timeline")}
    live.stop_projections()
    result = CliRunner().invoke(app, ["projections", "rebuild"], env={"CARELOOP_DATABASE_URL": live.database_url})
    assert result.exit_code == 0, result.output
    after = dump(live)

    dead = dead_letters(live.stack.bootstrap, live.topics.dead_letter)
    dead_at = Counter((p, o) for p, o, _, _ in dead)
    missing_poison = [p for p in faults.poison if dead_at[(p.partition, p.offset)] == 0]
    wrong_reason = [
        (p.kind, h.get("careloop-reason-kind"))
        for part, off, value, h in dead
        for p in faults.poison
        if (part, off) == (p.partition, p.offset)
        and (h.get("careloop-reason-kind") != p.kind.encode() or value != p.value or not h.get("careloop-reason"))
    ]
    lost = sum(max(0, comparison.simulated_effects[k] - comparison.live_effects[k]) for k in comparison.live_effects)
    lost += len(set(requested) - set(due))
    lost += len(set(approved) - set(delivered))
    duplicated = sum(
        max(0, comparison.live_effects[k] - comparison.simulated_effects[k]) for k in comparison.live_effects
    )
    duplicated += len(due) - len(set(due))
    duplicated += sum(n - 1 for n in delivered.values() if n > 1) + len(set(delivered) - set(approved))

    record(
        LAST_RUN,
        f"live pipeline on {broker_kind}",
        {
            "broker": broker_kind,
            "seed": seed,
            "stream": "generate(patients=150, days=90)",
            "faults": dict(sorted(faults.counts.items())),
            "clinical events accepted": len(accepted),
            "distinct clinical events": len(clinical_ids),
            "effects (simulate)": comparison.simulated_effects,
            "message requests due": len(due),
            "messages approved and sent (gateway)": len(delivered),
            "gateway requests (incl. in-doubt re-sends)": len(gateway.requests),
            "lost": lost,
            "duplicated effects": duplicated,
            "patients differing from simulate": len(comparison.differences),
            "projection tables differing from rebuild": sum(before[t] != after[t] for t in TABLES),
            "poison messages dead-lettered": len(faults.poison) - len(missing_poison),
            "dead letters (incl. redelivered copies)": len(dead),
            "most copies of one poison message": max(
                (dead_at[(p.partition, p.offset)] for p in faults.poison), default=0
            ),
            "child crashes restarted by the test's supervisor": [
                f"{name} exit {code} in chunk {n}" for n, name, code in supervisor.crashes
            ],
            "duration_s": round(time.monotonic() - began, 1),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )

    assert faults.counts["worker SIGKILL"] >= WORKER_KILLS
    assert faults.counts["second worker joined (rebalance)"] >= 1
    # Nothing may crash a child process: kills are the test's own, everything else is ridden out.
    assert supervisor.crashes == []
    assert comparison.differences == []
    assert comparison.live_effects == comparison.simulated_effects
    assert comparison.live_effects["message.requested"] > 100
    assert due == requested  # every message request once: none lost, none duplicated
    assert faults.counts["dispatcher SIGKILL"] >= DISPATCHER_KILLS // 2
    assert set(delivered) == set(approved) and all(n == 1 for n in delivered.values())
    assert len(delivered) > 100
    assert clinical_ids <= timeline_ids
    for table in TABLES:
        assert after[table] == before[table], table
    assert missing_poison == []
    assert wrong_reason == []


def _interleave(batch: list[Event], rng: random.Random) -> list[Event]:
    """Shuffle patients together while each patient's events keep their order."""
    queues: dict[str, list[Event]] = {}
    for e in batch:
        queues.setdefault(e.patient_id, []).append(e)
    out: list[Event] = []
    while queues:
        patient = rng.choice(sorted(queues))
        out.append(queues[patient].pop(0))
        if not queues[patient]:
            del queues[patient]
    return out


def test_a_broker_restart_with_clients_connected_loses_no_acknowledged_event(request: pytest.FixtureRequest) -> None:
    """Apache Kafka: produce with acks=all while the broker restarts; every acknowledged message is there."""
    kafka = request.getfixturevalue("apache_kafka")
    bootstrap = bootstrap_for(request, "apache")
    began = time.monotonic()
    topic = f"faults-restart-{random.Random().randrange(10**9)}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        retries=2**31 - 1,
        max_in_flight_requests_per_connection=1,
        delivery_timeout_ms=120_000,
        request_timeout_ms=10_000,
        reconnect_backoff_max_ms=500,
    )
    acked: set[int] = set()
    failed: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def on_ack(i: int) -> Any:
        def done(_: Any) -> None:
            with lock:
                acked.add(i)

        return done

    def produce() -> None:
        i = 0
        while not stop.is_set():
            future = producer.send(topic, key=f"P{i % 37}".encode(), value=str(i).encode())
            future.add_callback(on_ack(i))
            future.add_errback(lambda _e, i=i: failed.append(i))
            i += 1
            time.sleep(0.002)

    thread = threading.Thread(target=produce)
    thread.start()
    time.sleep(2.0)
    before = len(acked)
    kafka.restart()
    time.sleep(3.0)
    stop.set()
    thread.join()
    producer.flush(timeout=120)
    producer.close(timeout=30)

    async def read() -> set[int]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        seen: set[int] = set()
        try:
            idle = 0
            while idle < 3:
                batches = await consumer.getmany(timeout_ms=1000)
                got = [int(m.value) for msgs in batches.values() for m in msgs]
                seen.update(got)
                idle = 0 if got else idle + 1
        finally:
            await consumer.stop()
        return seen

    consumed = asyncio.run(read())
    lost = sorted(acked - consumed)
    record(
        LAST_RUN,
        "acknowledged writes across an Apache Kafka restart",
        {
            "broker": "apache",
            "seed": None,
            "faults": {"broker restart": 1},
            "messages acknowledged": len(acked),
            "acknowledged before the restart": before,
            "failed (not acknowledged, allowed to be absent)": len(failed),
            "lost": len(lost),
            "duration_s": round(time.monotonic() - began, 1),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    assert len(acked) > before > 100
    assert lost == []


@pytest.mark.parametrize("broker_kind", ["tansu"])
def test_the_worker_and_projection_runner_ride_out_a_postgresql_restart(
    faulty_live: Live, postgres: EmbeddedPostgres
) -> None:
    live = faulty_live
    events = generate(patients=10, seed=5, days=30)
    live.advance_clock(events[0].recorded_at - timedelta(minutes=1))
    live.publish(events[: len(events) // 2])
    restart_postgres(live, postgres, down=1.5)
    time.sleep(3.0)
    assert live.stack.exited() == []
    live.publish(events[len(events) // 2 :])
