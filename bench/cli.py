"""The `careloop bench` command's body: usage errors exit 2, a failed workload exits 1."""

from __future__ import annotations

import shutil

import typer
from rich.console import Console

from bench.runner import UnknownWorkloadError, chosen, main


def bench(workloads: list[str], quick: bool, scale: float = 1.0, profile: bool = False, workers: int = 2) -> None:
    try:
        chosen(workloads)
    except UnknownWorkloadError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # Wide enough for the table when the output is a CI log rather than a terminal.
    console = Console(highlight=False, width=max(shutil.get_terminal_size((140, 40)).columns, 140))
    code = main(workloads, quick, console, scale, profile, workers)
    if code:
        raise typer.Exit(code)
