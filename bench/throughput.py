"""Workload 1, end-to-end throughput: the synthetic hospital published to the clinical topic, then one worker
(and the projection runner) started on it; sustained events/s from the worker's first commit until every event
is committed, every projection has caught up with the store, and (with CARELOOP_ENGINE_TOPIC=true) the worker's
relay has published every engine decision to the engine topic.

The events are published sealed, as the intakes publish them (connectors/sealing.py; what sealing them took is in
the notes), and the same run is repeated on events in clear (CARELOOP_SEAL_PATIENT_DATA=false): the ratio is what
sealing costs end to end (target: at most 15%). Beside the rates, the CPU seconds the pipeline's processes (worker,
projections, PostgreSQL, broker) spent per event in each run: on a machine shared with other work, wall-clock
rates of two runs differ by more than sealing costs, while CPU per event does not.

The database clock stays before the first event, so no tick is sent: the core still fires every timer due
before each event as it arrives (logical time), but the rate counts clinical events only.
Ceilings, on the same topic in the same run: a bare faust agent configured like the worker (bench/bare.py), and
raw aiokafka consumption with no group and no processing.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from bench import cpu, hospital, kafka
from bench.context import Context
from bench.live import Live, child, live
from bench.profile import profiled
from bench.report import Result

TARGET = 5_000.0
MIN_RATIO = 0.6
SEALING_MIN_RATIO = 0.85  # sealing may cost at most 15% of the end-to-end rate
PIPELINE = ("worker", "projections", "postgres", "broker")  # bench/cpu.py's kinds that process the events


def run(ctx: Context) -> list[Result]:
    sizes, services, say = ctx.sizes, ctx.live(), ctx.say
    settings = services.workload("throughput")
    say(f"generating {sizes.throughput_events:,} events for {sizes.throughput_patients:,} patients")
    stream = hospital.events(sizes.throughput_patients, sizes.throughput_events)
    sealing = time.monotonic()
    messages = hospital.messages(stream, hospital.sealer())
    sealing = time.monotonic() - sealing
    first_arrival = stream[0].recorded_at
    del stream
    with live(settings) as pipe:
        pipe.set_clock(first_arrival - timedelta(minutes=1))
        say(f"publishing {len(messages):,} events to {pipe.topics.clinical}")
        published = kafka.publish(services.bootstrap, pipe.topics.clinical, messages, lambda n: None)
        say(f"published in {published:.0f} s; starting the worker and the projection runner")
        end_to_end, seconds, spent, sealed_cpu = _end_to_end(ctx, pipe, len(messages))
        ctx.keep["store"] = settings  # rebuild reuses this store rather than building its own
        say("ceilings: a bare faust agent, then raw aiokafka, on the same topic")
        bare = _bare_faust(pipe, services.bootstrap, len(messages))
        raw = kafka.raw_consume(services.bootstrap, pipe.topics.clinical, len(messages))
        notifications = pipe.scalar("SELECT coalesce(max(notification_id), 0) FROM careloop_events")
    total = len(messages)
    del messages
    clear, clear_cpu = _in_clear(ctx)
    per_event = {name: cpu_s / max(total, 1) * 1000 for name, cpu_s in (("sealed", sealed_cpu), ("clear", clear_cpu))}
    cpu_cost = sealed_cpu / max(clear_cpu, 1e-9) - 1
    return [
        Result(
            "throughput.sealing_cost",
            end_to_end,
            "events/s",
            ceiling=clear,
            ceiling_is="the same workload on events in clear (CARELOOP_SEAL_PATIENT_DATA=false)",
            target=0.0,  # no rate of its own: the ratio is the target
            min_ratio=SEALING_MIN_RATIO,
            notes=f"sealed {end_to_end:,.0f} vs clear {clear:,.0f} events/s: sealing costs "
            f"{max(0.0, 1 - end_to_end / max(clear, 1e-9)):.0%} end to end; sealing the events as the intakes do "
            f"took {sealing:.1f} s ({sizes.throughput_events / max(sealing, 1e-9):,.0f} events/s, one core)",
        ),
        Result(
            "throughput.sealing_cpu",
            total / max(sealed_cpu, 1e-9),
            "events/CPU-s",
            ceiling=total / max(clear_cpu, 1e-9),
            ceiling_is="the same workload in clear, events per CPU second of the pipeline's processes",
            target=0.0,
            min_ratio=SEALING_MIN_RATIO,
            notes=f"pipeline CPU per 1,000 events: sealed {per_event['sealed']:.2f} s, "
            f"clear {per_event['clear']:.2f} s (sealing costs {cpu_cost:+.0%} CPU)",
        ),
        Result(
            "throughput.end_to_end",
            end_to_end,
            "events/s",
            ceiling=bare,
            ceiling_is="a bare faust agent (the worker's consumer settings and batches, no work) on the same topic",
            target=TARGET,
            min_ratio=MIN_RATIO,
            notes=f"{total:,} events, {sizes.throughput_patients:,} patients, {seconds:.0f} s, "
            f"{notifications:,} store notifications projected; publishing took {published:.0f} s; {spent}",
        ),
        Result(
            "throughput.bare_faust",
            bare,
            "events/s",
            ceiling=raw,
            ceiling_is="raw aiokafka consumption (no group, no processing) of the same topic",
        ),
    ]


def _in_clear(ctx: Context) -> tuple[float, float]:
    """End-to-end events/s of the same hospital published in clear, on a workload of its own, and the CPU seconds
    the pipeline spent on it."""
    sizes, services = ctx.sizes, ctx.live()
    settings = services.workload("throughput-clear", seal_patient_data=False)
    stream = hospital.events(sizes.throughput_patients, sizes.throughput_events)
    messages, first_arrival = hospital.messages(stream), stream[0].recorded_at
    del stream
    with live(settings) as pipe:
        pipe.set_clock(first_arrival - timedelta(minutes=1))
        ctx.say(f"in clear (CARELOOP_SEAL_PATIENT_DATA=false): publishing {len(messages):,} events")
        kafka.publish(services.bootstrap, pipe.topics.clinical, messages, lambda n: None)
        rate, _, _, cpu_s = _end_to_end(ctx, pipe, len(messages))
    return rate, cpu_s


def _end_to_end(ctx: Context, pipe: Live, total: int) -> tuple[float, float, str, float]:
    timeout = 600 + total / 200  # generous: a slow machine must still finish, and report how slow
    pipe.spawn("worker", "worker")
    pipe.spawn("projections", "projections", "run")
    started = pipe.wait(lambda: pipe.committed() > 0, "the worker's first commit", timeout=120)
    before = cpu.snapshot()
    with (
        profiled(ctx.profile, "throughput-worker", pipe.pid("worker")),
        profiled(ctx.profile, "throughput-projections", pipe.pid("projections")),
    ):
        _follow(ctx, pipe, total, started, timeout)
    processed = time.monotonic()
    projected = pipe.wait(lambda: pipe.projection_lag() == 0, "projections to catch up", timeout=timeout, poll=0.2)
    phases = f"all committed after {processed - started:.0f} s, projections current after {projected - started:.0f} s"
    finished = projected
    if pipe.settings.engine_topic:  # CARELOOP_ENGINE_TOPIC: processing is done when the relay has caught up too
        finished = pipe.wait(lambda: pipe.relay_lag() == 0, "the engine-topic relay to catch up", timeout, poll=0.2)
        phases += f", relay after {finished - started:.0f} s"
    ctx.say(f"  {phases}")
    seconds = finished - started
    spent = cpu.usage(before, cpu.snapshot())
    pipeline = sum(spent.get(kind, 0.0) for kind in PIPELINE)
    return total / seconds, seconds, f"{phases}; {cpu.describe(spent, seconds)}", pipeline


def _follow(ctx: Context, pipe: Live, total: int, started: float, timeout: float) -> None:
    last_report = started
    while pipe.committed() < total:
        pipe.stack.check_children()
        time.sleep(0.5)
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            done = pipe.committed()
            ctx.say(f"  {done:,}/{total:,} committed, {done / (last_report - started):,.0f} events/s so far")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the worker committed {pipe.committed():,} of {total:,} events in {timeout:.0f} s")


def _bare_faust(pipe: Live, bootstrap: str, total: int) -> float:
    out = pipe.stack.data_dir / "bare-faust.json"
    argv = ["-m", "bench.bare", bootstrap, pipe.topics.clinical, f"{pipe.settings.consumer_group}-bare", str(total)]
    with child([*argv, str(out)], pipe.logs / "bare-faust.log", env=pipe.stack.env()):
        pipe.wait(out.exists, "the bare faust agent to read the topic", timeout=600 + total / 1000, poll=0.2)
    result = json.loads(out.read_text())
    return float(result["count"]) / max(float(result["seconds"]), 1e-9)
