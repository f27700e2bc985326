"""`python -m bench.projection_split [--patients P] [--events E] [--runners 1,2,...]`: the projection runners' CPU per
clinical event with the projections in one runner against split over N (`careloop projections run --group K/N`),
for the model in BENCHMARKS.md ("Many workers").

Each entry of --runners is one run on a database and topics of its own: the scaling workload's hospital (bench/
hospital.py) through one worker, with that many runners following it live as child processes (as `careloop up
--projection-runners N` starts them). CPU seconds come from /proc, from the worker's first commit until every
projection is at the store's head, per runner and per clinical event; PostgreSQL's too. Repeat a count (1,2,1,2)
to compare them within the same minutes on a shared machine. Prints its lines; writes no results file.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from bench import cpu, hospital, kafka
from bench.live import live
from bench.services import Services, services
from engine.processes.stack import runner_children
from engine.settings import Settings


def main(
    patients: Annotated[int, typer.Option(min=1, help="Patients of the hospital.")] = 10_000,
    events: Annotated[int, typer.Option(min=1, help="Clinical events through the worker.")] = 100_000,
    runners: Annotated[str, typer.Option(help="Runner counts, one run each, in this order.")] = "1,2,1,2",
) -> None:
    """One run per count in --runners; per runner its CPU ms per clinical event and per notification."""
    counts = [int(n) for n in runners.split(",")]
    for n in counts:
        runner_children(n)  # a count the split refuses fails here, before the services start
    stream = hospital.events(patients, events)
    messages, first_arrival = hospital.messages(stream, hospital.sealer()), stream[0].recorded_at
    del stream
    with services(Settings(), Path(tempfile.mkdtemp(prefix="careloop-split-"))) as svc:
        for run, n in enumerate(counts, start=1):
            typer.echo(_measured(svc, run, n, messages, first_arrival))


def _measured(svc: Services, run: int, n: int, messages: list[kafka.Message], first_arrival: datetime) -> str:
    with live(svc.workload(f"split{n}x{run}")) as pipe:
        pipe.set_clock(first_arrival - timedelta(minutes=1))
        kafka.publish(svc.bootstrap, pipe.topics.clinical, messages, lambda _: None)
        children = runner_children(n)
        pipe.spawn("worker", "worker")
        for name, args in children:
            pipe.spawn(name, *args)
        timeout = 600 + len(messages) / 200
        started = pipe.wait(lambda: pipe.committed() > 0, "the worker's first commit", timeout=120)
        before = cpu.snapshot()
        committed = pipe.wait(lambda: pipe.committed() >= len(messages), "every event committed", timeout, poll=0.2)
        current = pipe.wait(lambda: pipe.projection_lag() == 0, "every projection current", timeout, poll=0.2)
        after = cpu.snapshot()
        head = int(pipe.scalar("SELECT max(notification_id) FROM careloop_events"))
        per_event = 1000 / len(messages)

        def spent(name: str) -> float:
            pid = pipe.pid(name)
            return after.get(pid, ("", 0.0))[1] - before.get(pid, ("", 0.0))[1]

        lines = [
            f"run {run}: {n} runner(s), {len(messages):,} events, {head:,} notifications; committed in "
            f"{committed - started:.1f} s, projections current {current - started:.1f} s after the first commit",
            f"  worker {spent('worker') * per_event:.3f} ms/event, PostgreSQL "
            f"{cpu.usage(before, after).get('postgres', 0.0) * per_event:.3f} ms/event",
        ]
        together = 0.0
        for name, args in children:
            seconds = spent(name)
            together += seconds
            lines.append(
                f"  {name:<14} {' '.join(args[2:]) or 'every projection':<16} {seconds:7.1f} CPU s "
                f"{seconds * per_event:.3f} ms/event {seconds * 1000 / head:.4f} ms/notification"
            )
        lines.append(f"  runners together {together * per_event:.3f} ms/event")
        return "\n".join(lines)


if __name__ == "__main__":
    typer.run(main)
