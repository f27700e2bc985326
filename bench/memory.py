"""Workload 7, memory: the worker's peak resident set (VmHWM) after a million patients have passed through it.

Each patient books one appointment (the appointment-reminders journey starts and schedules a timer), so every
patient has state in the store and the worker loads and saves each one once. What the worker keeps in memory
is bounded by its aggregate cache (CARELOOP_AGGREGATE_CACHE_SIZE), not by the number of patients: this checks it.
Ceiling (a floor here): the peak resident set of the bare faust agent reading the same topic.
"""

from __future__ import annotations

import json
import time

from bench import hospital, kafka
from bench.context import Context
from bench.live import Live, child, live, peak_rss_mb
from bench.report import Result
from engine.demo.hospital import DEFAULT_START

TARGET_MB = 300.0


def run(ctx: Context) -> list[Result]:
    sizes, services = ctx.sizes, ctx.live()
    settings = services.workload("memory")
    patients = sizes.memory_patients
    with live(settings) as pipe:
        pipe.set_clock(DEFAULT_START)
        ctx.say(f"publishing one booking for each of {patients:,} patients")
        chunk = 100_000  # generated and published in chunks: the whole stream would cost the bench GBs
        for first in range(1, patients + 1, chunk):
            batch = hospital.messages(hospital.bookings(min(chunk, patients - first + 1), first=first))
            kafka.publish(services.bootstrap, pipe.topics.clinical, batch, lambda n: None)
        pipe.spawn("worker", "worker")
        pipe.spawn("projections", "projections", "run")
        worker = pipe.pid("worker")
        started = time.monotonic()
        samples = _follow(pipe, patients, worker, ctx)
        peak = peak_rss_mb(worker)
        seconds = time.monotonic() - started
        ctx.say("ceiling: the bare faust agent's peak on the same topic")
        floor = _bare_peak(pipe, services.bootstrap, patients)
    return [
        Result(
            "memory.worker_peak_rss",
            peak,
            "MB",
            ceiling=floor,
            ceiling_is="peak RSS of the bare faust agent reading the same topic",
            better="lower",
            target=TARGET_MB,
            notes=f"{patients:,} patients in {seconds:.0f} s ({patients / seconds:,.0f} events/s); RSS on the way: "
            + ", ".join(f"{n:,}: {mb:.0f} MB" for n, mb in samples),
        )
    ]


def _follow(pipe: Live, total: int, pid: int, ctx: Context) -> list[tuple[int, float]]:
    """Wait for every booking to be committed, noting the resident set at each tenth of the way."""
    samples: list[tuple[int, float]] = []
    step = max(total // 10, 1)
    deadline = time.monotonic() + 600 + total / 100
    while (done := pipe.committed()) < total:
        if done >= (len(samples) + 1) * step:
            samples.append((done, peak_rss_mb(pid)))
            ctx.say(f"  {done:,}/{total:,} patients, peak RSS {samples[-1][1]:.0f} MB")
        pipe.stack.check_children()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker committed {done:,} of {total:,} patients in time")
        time.sleep(0.5)
    return samples


def _bare_peak(pipe: Live, bootstrap: str, total: int) -> float:
    out = pipe.stack.data_dir / "bare-memory.json"
    argv = ["-m", "bench.bare", bootstrap, pipe.topics.clinical, f"{pipe.settings.consumer_group}-bare", str(total)]
    with child([*argv, str(out)], pipe.logs / "bare-memory.log", env=pipe.stack.env()) as proc:
        pipe.wait(out.exists, "the bare faust agent to read the topic", timeout=600 + total / 1000, poll=0.2)
        peak = peak_rss_mb(proc.pid)
    json.loads(out.read_text())  # written whole: the agent did read everything
    return peak
