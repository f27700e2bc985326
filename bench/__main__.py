"""`python -m bench [WORKLOAD ...] [--quick] [--scale X] [--profile] [--workers N]` from a checkout: the benchmarks
are not part of the installed package (`careloop bench` runs this module from the checkout it finds)."""

from __future__ import annotations

from typing import Annotated

import typer

from bench.cli import bench


def main(
    workloads: Annotated[
        list[str] | None,
        typer.Argument(
            help="core, whatif, connectors, throughput, rebuild, latency, timers, memory, scaling (default: all)."
        ),
    ] = None,
    quick: Annotated[bool, typer.Option(help="Every workload at reduced size: a smoke run of a few minutes.")] = False,
    scale: Annotated[float, typer.Option(min=0.0001, help="Events through the worker x this.")] = 1.0,
    profile: Annotated[bool, typer.Option(help="Sample the measured processes with py-spy.")] = False,
    workers: Annotated[
        int, typer.Option(min=2, help="Worker processes the scaling workload compares with one worker.")
    ] = 2,
) -> None:
    """Benchmarks with their ceilings: prints a table and writes bench/results/<date>-<machine>.json."""
    bench(workloads or [], quick, scale, profile, workers)


if __name__ == "__main__":
    typer.run(main)
