"""`careloop bench [WORKLOAD...] [--quick]`: run the workloads, print the table, write bench/results/*.json.

In-process workloads run first (no services needed), then the live ones on one set of services. A workload
that fails is reported with its reason and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console

from bench.context import Context
from bench.report import Result, Run, describe_machine, finish_machine, print_table
from bench.services import services
from bench.sizes import FULL, QUICK, scaled
from engine.settings import Settings

# In running order: pure ones first, then throughput before rebuild (which replays the store it leaves).
WORKLOADS = ("core", "whatif", "connectors", "throughput", "rebuild", "latency", "timers", "memory", "scaling")
LIVE = frozenset({"throughput", "rebuild", "latency", "timers", "memory", "scaling"})
Workload = Callable[[Context], list[Result]]


class UnknownWorkloadError(ValueError):
    pass


def chosen(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise UnknownWorkloadError(f"unknown workload {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    return [w for w in WORKLOADS if not names or w in names]


def main(
    names: Sequence[str], quick: bool, console: Console, scale: float = 1.0, profile: bool = False, workers: int = 2
) -> int:
    workloads = chosen(names)
    base = Settings()
    data_dir = base.data_dir.absolute() / ("bench-quick" if quick else "bench")
    shutil.rmtree(data_dir, ignore_errors=True)  # every run starts from empty services
    run = Run(quick=quick, workloads=workloads, scale=scale)
    sizes = scaled(QUICK if quick else FULL, scale)
    ctx = Context(sizes, base, say=lambda text: console.print(f"[dim]{text}[/]"), profile=profile, workers=workers)
    started = time.monotonic()
    needs_services = any(w in LIVE for w in workloads)
    with services(base, data_dir) if needs_services else nullcontext() as shared:
        run.machine = describe_machine(shared.broker if shared else "-", shared.postgres if shared else "-")
        run.machine["commit"] = _commit()
        ctx.services = shared
        for name in workloads:
            console.rule(f"{name}{' (quick)' if quick else ''}")
            began = time.monotonic()
            try:
                module = importlib.import_module(f"bench.{name}")
                results: list[Result] = module.run(ctx)
            except Exception as exc:  # one workload failing must not lose the others' numbers
                run.errors[name] = f"{type(exc).__name__}: {exc}"
                console.print(f"[red]{name} failed:[/] {exc}", markup=True)
                results = []
            run.durations[name] = time.monotonic() - began
            run.results += results
            print_table(console, results, f"{name}: {run.durations[name]:.0f} s")
            finish_machine(run.machine)
            path = run.write()
    console.rule("all results")
    print_table(
        console, run.results, f"careloop bench{' --quick' if quick else ''}: {time.monotonic() - started:.0f} s"
    )
    console.print(f"machine: {run.machine['description']}")
    console.print(f"wrote {_relative(path)}")
    return 1 if run.errors else 0


def _commit() -> str:
    """The commit measured, with '+dirty' when the work tree differs from it."""
    try:
        here = Path(__file__).resolve().parents[1]
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, check=False)
    except OSError:
        return "?"
    if head.returncode != 0:
        return "?"
    return head.stdout.decode().strip() + ("+dirty" if dirty.stdout.strip() else "")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
