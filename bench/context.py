"""What every workload is handed: its sizes, the base settings, the shared services and a way to say what it does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.services import Services
from bench.sizes import Sizes
from engine.settings import Settings


@dataclass
class Context:
    sizes: Sizes
    settings: Settings
    say: Callable[[str], None]
    profile: bool = False  # sample the measured processes with py-spy (bench/profile.py)
    workers: int = 2  # `--workers N`: the worker processes bench/scaling.py compares with one
    services: Services | None = None  # started by the runner before the first workload that needs them
    # What a workload leaves for a later one in the same run (throughput's store, which rebuild replays).
    keep: dict[str, Settings] = field(default_factory=dict)

    def live(self) -> Services:
        assert self.services is not None, "the runner starts the services before live workloads"
        return self.services
