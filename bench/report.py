"""Results: one row per measure, the machine they were measured on, the table and the JSON file.

Every row carries the ceiling it is compared with, measured in the same run. ``ratio`` always reads "fraction of
the ceiling reached": value / ceiling when more is better (events/s), ceiling / value when less is better
(latency, memory), so 1.0 means as good as the ceiling and the table needs no second convention.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
Better = Literal["higher", "lower"]


@dataclass
class Result:
    name: str  # "workload.measure", e.g. "throughput.end_to_end"
    value: float
    unit: str
    ceiling: float | None
    ceiling_is: str  # what the ceiling is, in words
    better: Better = "higher"
    target: float | None = None  # the target for ``value`` (same unit), None when it sets none
    min_ratio: float | None = None  # a target on ``ratio`` as well (end-to-end vs bare faust)
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ceiling is None or self.value <= 0 or self.ceiling <= 0:
            return None
        return self.value / self.ceiling if self.better == "higher" else self.ceiling / self.value

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        text = f"{'>=' if self.better == 'higher' else '<='} {_number(self.target)}"
        return text + (f", ratio >= {self.min_ratio:g}" if self.min_ratio is not None else "")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        ok = self.value >= self.target if self.better == "higher" else self.value <= self.target
        if self.min_ratio is not None:
            ok = ok and (self.ratio or 0.0) >= self.min_ratio
        return ok

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ratio=_round(self.ratio), target_text=self.target_text, met=self.met)
        out["value"] = _round(self.value)
        out["ceiling"] = _round(self.ceiling)
        return out


@dataclass
class Run:
    """A whole `careloop bench` invocation: what ran, on what, with which results."""

    quick: bool
    workloads: list[str]
    scale: float = 1.0  # of the event volumes through the worker; 1.0 is the sizes
    machine: dict[str, Any] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)  # seconds per workload, setup included
    errors: dict[str, str] = field(default_factory=dict)  # workload -> why it did not finish
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "scale": self.scale,
            "started": self.started,
            "workloads": self.workloads,
            "machine": self.machine,
            "results": [r.as_json() for r in self.results],
            "durations_s": {k: round(v, 1) for k, v in self.durations.items()},
            "errors": self.errors,
        }

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        """bench/results/<date>-<machine>[-quick].json, rewritten after each workload so a long run that
        stops half-way still leaves what it measured."""
        directory.mkdir(parents=True, exist_ok=True)
        date = self.started[:10]
        kind = "-quick" if self.quick else ("" if self.scale == 1.0 else f"-scale{self.scale:g}")
        path = directory / f"{date}-{self.machine.get('slug', 'machine')}{kind}.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        return path


def table(results: list[Result], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for column in ("measure", "value", "unit", "ceiling", "ratio", "target", "met"):
        t.add_column(column, justify="left" if column in ("measure", "unit", "target") else "right")
    for r in results:
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[r.met]
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        ceiling = _number(r.ceiling) if r.ceiling is not None else "-"
        t.add_row(r.name, _number(r.value), r.unit, ceiling, ratio, r.target_text, met)
    return t


def print_table(console: Console, results: list[Result], title: str) -> None:
    console.print(table(results, title))
    for r in results:
        console.print(f"  {r.name}: ceiling = {r.ceiling_is}" + (f"; {r.notes}" if r.notes else ""), markup=False)


def markdown(results: list[Result]) -> str:
    """The table as Markdown, for BENCHMARKS.md."""
    lines = [
        "| measure | value | unit | ceiling | ratio | target | met |",
        "| --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        ceiling = _number(r.ceiling) if r.ceiling is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(f"| {r.name} | {_number(r.value)} | {r.unit} | {ceiling} | {ratio} | {r.target_text} | {met} |")
    return "\n".join(lines)


def describe_machine(broker: str, postgres: str) -> dict[str, Any]:
    """Enough to tell two result files' machines apart, and whether this one was busy."""
    cpu = _cpu_model()
    cores = os.cpu_count() or 0
    memory_gb = _memory_gb()
    slug = re.sub(r"[^a-z0-9]+", "-", f"{cpu}-{cores}c-{round(memory_gb)}gb".lower()).strip("-")
    return {
        "slug": slug,
        "cpu": cpu,
        "cores": cores,
        "memory_gb": round(memory_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "broker": broker,
        "postgres": postgres,
        "packages": {name: _version(name) for name in ("faust-streaming", "aiokafka", "eventsourcing", "psycopg")},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "description": f"{cpu}, {cores} cores, {memory_gb:.0f} GB; broker {broker}; {postgres}; all on this machine",
    }


def finish_machine(machine: dict[str, Any]) -> None:
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["finished"] = datetime.now(UTC).isoformat(timespec="seconds")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _number(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:.3g}"


def _round(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.4g}")


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def main(argv: list[str]) -> None:
    """`python -m bench.report FILE.json`: a results file's table as Markdown (how BENCHMARKS.md gets it)."""
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(markdown([Result.from_json(r) for r in data["results"]]))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
