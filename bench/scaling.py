"""Scaling out: the end-to-end throughput workload's hospital through 1 worker, then through N (`--workers N`,
default 2) worker processes in one consumer group, each run on topics and a database of its own. Reported: the
workers' events/s for each (the clock runs from the first commit until every clinical event is committed; the
projection runner follows, its catch-up is in the notes), and CPU seconds per clinical event of every process
(each worker, the projection runner, PostgreSQL, the broker), from /proc.

The ceiling of N workers is N times one worker's rate (perfect scaling, as far as partitions and cores allow).
CPU per event is what the model in BENCHMARKS.md ("Many workers") needs: on a machine where the workers do not
share cores with PostgreSQL and the broker, throughput(N) = min(partitions, N x cores) / (worker CPU s per event).
The N workers start together on a topic that already holds every event, so the window includes the group's first
rebalance (a few seconds: negligible at full size, not in --quick).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bench import cpu, hospital, kafka
from bench.context import Context
from bench.live import Live, live
from bench.report import Result
from engine.processes.stack import worker_names

OTHERS = ("projections", "postgres", "broker")  # bench/cpu.py's kinds beside the workers
QUICK_FLOOR = 2_000  # --quick's throughput size: not divided further


def run(ctx: Context) -> list[Result]:
    n = max(2, ctx.workers)
    patients, total = _size(ctx.sizes.throughput_patients), _size(ctx.sizes.throughput_events)
    ctx.say(f"generating {total:,} events for {patients:,} patients")
    stream = hospital.events(patients, total)
    messages, first_arrival = hospital.messages(stream, hospital.sealer()), stream[0].recorded_at
    del stream
    one_rate, one_cpu, one_notes = _measured(ctx, 1, messages, first_arrival)
    many_rate, many_cpu, many_notes = _measured(ctx, n, messages, first_arrival)
    return [
        Result("scaling.workers_1", one_rate, "events/s", ceiling=None, ceiling_is="-", notes=one_notes),
        Result(
            f"scaling.workers_{n}",
            many_rate,
            "events/s",
            ceiling=one_rate * n,
            ceiling_is=f"{n} x one worker's rate in the same run (perfect scaling)",
            notes=many_notes,
        ),
        *_cpu_results(1, one_cpu),
        *_cpu_results(n, many_cpu),
    ]


def _size(throughput: int) -> int:
    """A tenth of the throughput workload's size (two runs of it would double the full run), as --quick's at least:
    100,000 events for 10,000 patients at full size, the size the issue's reference figures were measured at."""
    return max(min(throughput, QUICK_FLOOR), throughput // 10)


def _measured(
    ctx: Context, workers: int, messages: list[kafka.Message], first_arrival: datetime
) -> tuple[float, dict[str, float], str]:
    """Events/s of ``workers`` workers on their own workload, CPU seconds per event by process, and the notes."""
    services = ctx.live()
    settings = services.workload(f"scaling-{workers}")
    names = worker_names(workers, settings.partitions)
    with live(settings) as pipe:
        pipe.set_clock(first_arrival - timedelta(minutes=1))
        ctx.say(f"{workers} worker(s): publishing {len(messages):,} events to {pipe.topics.clinical}")
        kafka.publish(services.bootstrap, pipe.topics.clinical, messages, lambda _: None)
        for name in names:
            pipe.spawn(name, "worker")
        pipe.spawn("projections", "projections", "run")
        timeout = 600 + len(messages) / 200
        started = pipe.wait(lambda: pipe.committed() > 0, "the workers' first commit", timeout=120)
        before = cpu.snapshot()
        committed = pipe.wait(lambda: pipe.committed() >= len(messages), "every event committed", timeout, poll=0.2)
        after = cpu.snapshot()
        projected = pipe.wait(lambda: pipe.projection_lag() == 0, "projections to catch up", timeout, poll=0.2)
        seconds = committed - started
        per_event = _per_event(pipe, names, before, after, len(messages))
    notes = (
        f"{len(messages):,} events, {settings.partitions} partitions, committed in {seconds:.1f} s, projections "
        f"current {projected - started:.1f} s after the first commit; {cpu.describe(cpu.usage(before, after), seconds)}"
    )
    ctx.say(f"  {workers} worker(s): {len(messages) / seconds:,.0f} events/s")
    return len(messages) / max(seconds, 1e-9), per_event, notes


def _per_event(pipe: Live, names: list[str], before: cpu.Snapshot, after: cpu.Snapshot, total: int) -> dict[str, float]:
    """CPU seconds per clinical event: each worker process by name, every worker together, and the other kinds."""
    out: dict[str, float] = {}
    for name in names:
        pid = pipe.pid(name)
        spent = after.get(pid, ("", 0.0))[1] - before.get(pid, ("", 0.0))[1]
        out[name] = spent / max(total, 1)
    out["workers"] = sum(out[name] for name in names)
    spent_by_kind = cpu.usage(before, after)
    for kind in OTHERS:
        out[kind] = spent_by_kind.get(kind, 0.0) / max(total, 1)
    return out


def _cpu_results(workers: int, per_event: dict[str, float]) -> list[Result]:
    """One row per process: CPU milliseconds per clinical event (lower is better; no ceiling of its own)."""
    return [
        Result(
            f"scaling.cpu_ms_per_event.{workers}_workers.{process}",
            seconds * 1000,
            "CPU ms/event",
            ceiling=None,
            ceiling_is="-",
            better="lower",
            notes="all worker processes together" if process == "workers" else "",
        )
        for process, seconds in per_event.items()
    ]
