"""Workload 2, latency: publish-to-``reminder_queue``-row at a steady 1,000 events/s, p50 and p99.

The synthetic hospital is published at a steady rate to a running worker and projection runner. A row's arrival
time is PostgreSQL's clock_timestamp() when the projection inserted it (a bench-only column with that default,
added to this workload's own database). Which published event made a patient's first row is known exactly
from the pure core (the simulator run on the same stream, event by event), so each patient with a reminder
gives one sample: row time minus that event's send time. Same machine, same clock.

Ceiling (a floor here, lower is better): a bare faust agent configured like the worker receiving messages sent
at the same rate; the transport alone, with no store and no projection.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from bench import hospital, kafka
from bench.bare import WARM_UP
from bench.context import Context
from bench.live import Live, child, live
from bench.profile import profiled
from bench.report import Result
from engine.demo.hospital import DEFAULT_START
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from engine.processes.projections import projection_runner
from events import journey as jo
from events.base import Event

TARGET_P99_MS = 250.0


def run(ctx: Context) -> list[Result]:
    sizes, services = ctx.sizes, ctx.live()
    settings = services.workload("latency")
    with live(settings) as pipe:
        _stamp_rows(pipe)
        pipe.set_clock(DEFAULT_START - timedelta(days=30))  # before every event: no tick, only clinical events
        ctx.say("starting the worker and the projection runner; warming up")
        pipe.spawn("worker", "worker")
        pipe.spawn("projections", "projections", "run")
        _warm_up(pipe, services.bootstrap)
        light = _phase(ctx, pipe, sizes.latency_light_rate, sizes.latency_light_seconds, first=1)
        with profiled(ctx.profile, "latency-worker", pipe.pid("worker")):
            loaded = _phase(ctx, pipe, sizes.latency_rate, sizes.latency_seconds, first=1_000_001)
        ctx.say("floor: a bare faust agent at the same rate")
        floor = _floor(ctx, pipe, int(sizes.latency_rate * sizes.latency_seconds))
    out = []
    phases = ((loaded, "", TARGET_P99_MS), (light, f"_at_{sizes.latency_light_rate:g}_per_s", None))
    for (samples, note), suffix, target in phases:
        for name, q in (("p50", 50.0), ("p99", 99.0)):
            out.append(
                Result(
                    f"latency.{name}{suffix}",
                    kafka.percentile(samples, q),
                    "ms",
                    ceiling=kafka.percentile(floor, q),
                    ceiling_is=f"{name} of a bare faust agent (the worker's consumer settings) receiving "
                    f"{sizes.latency_rate:,.0f} msg/s",
                    better="lower",
                    target=target if name == "p99" else None,
                    notes=note,
                )
            )
    return out


def _phase(ctx: Context, pipe: Live, rate: float, seconds: float, first: int) -> tuple[list[float], str]:
    """Publish ``rate`` events/s for ``seconds``; each patient's first reminder row gives one sample (ms)."""
    total = max(int(rate * seconds), 10)
    stream = hospital.events(max(total // 10, 1), total, seed=first, first=first)
    causes = _first_reminders(stream, ctx)
    base = pipe.committed()
    ctx.say(f"publishing {total:,} events at {rate:,.0f}/s")
    sent_at = kafka.publish_steadily(ctx.live().bootstrap, pipe.topics.clinical, hospital.messages(stream), rate)
    achieved = (len(sent_at) - 1) / max(sent_at[-1] - sent_at[0], 1e-9)
    pipe.wait(lambda: pipe.committed() >= base + total, "the worker to commit the stream", 600 + total / 50, 0.2)
    pipe.wait(lambda: pipe.projection_lag() == 0, "projections to catch up", 600, 0.2)
    patients = list(causes)
    seen = dict(
        pipe.conn.execute(
            "SELECT patient_id, min(bench_seen_at) FROM reminder_queue WHERE patient_id = ANY(%s) GROUP BY 1",
            (patients,),
        )
    )
    samples = [(seen[p].timestamp() - sent_at[causes[p]]) * 1000 for p in patients if p in seen]
    return samples, f"{len(samples):,} patients' first reminder rows; {total:,} events sent at {achieved:,.0f}/s"


def _first_reminders(stream: list[Event], ctx: Context) -> dict[str, int]:
    """patient -> index in ``stream`` of the event whose decision first gave that patient a reminder row."""
    sim = Simulation(load_catalog(ctx.settings.journeys))
    first: dict[str, int] = {}
    for i, event in enumerate(stream):
        pid = event.patient_id
        before = len(sim.recorded.get(pid, ()))
        sim.feed([event])
        if pid not in first and any(_makes_row(e) for e in sim.recorded.get(pid, [])[before:]):
            first[pid] = i
    return first


def _makes_row(e: Event) -> bool:
    """The events the reminder_queue projection inserts a row for (projections/reminder_queue)."""
    return isinstance(e, jo.MessageRequested) or (isinstance(e, jo.WaitScheduled) and e.planned_message is not None)


def _stamp_rows(pipe: Live) -> None:
    with projection_runner(pipe.url) as runner:
        runner.setup()
    pipe.conn.execute(
        "ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS bench_seen_at timestamptz DEFAULT clock_timestamp()"
    )


def _warm_up(pipe: Live, bootstrap: str) -> None:
    """A few events of patients outside the stream until the worker commits them: it has joined and reads."""
    warm = hospital.messages(hospital.bookings(20, first=9_000_000))
    kafka.publish(bootstrap, pipe.topics.clinical, warm, lambda n: None)
    pipe.wait(lambda: pipe.committed() >= len(warm), "the worker to join and commit the warm-up", 120, 0.1)


def _floor(ctx: Context, pipe: Live, total: int) -> list[float]:
    topic = f"{pipe.settings.topic_prefix}.floor"
    bootstrap = ctx.live().bootstrap
    kafka.create_topic(bootstrap, topic, pipe.settings.partitions)
    out = pipe.stack.data_dir / "bare-latency.json"
    argv = ["-m", "bench.bare", bootstrap, topic, f"{pipe.settings.consumer_group}-floor", str(total), str(out)]
    with child([*argv, "latency"], pipe.logs / "bare-latency.log", env=pipe.stack.env()):
        ready, deadline = out.with_suffix(".ready"), time.monotonic() + 120
        while not ready.exists() and time.monotonic() < deadline:
            pipe.stack.check_children()
            kafka.publish(bootstrap, topic, [(b"w", WARM_UP)], lambda n: None)
            time.sleep(0.2)
        messages = [(str(i).encode(), b"") for i in range(total)]
        kafka.publish_steadily(bootstrap, topic, messages, ctx.sizes.latency_rate, stamped=True)
        pipe.wait(out.exists, "the bare agent to receive the stream", timeout=120, poll=0.1)
    return [x * 1000 for x in json.loads(out.read_text())["latencies"]]
