"""How big each workload is: the issue's sizes for a full run, and reduced ones for `--quick` (a smoke run)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    throughput_patients: int = 100_000
    throughput_events: int = 1_000_000
    latency_rate: float = 1_000.0  # events/s, steady
    latency_seconds: float = 30.0
    latency_light_rate: float = 100.0  # a second, light load: the pipeline's own latency, without queueing
    latency_light_seconds: float = 30.0
    timers_pending: int = 1_000_000
    # Patients whose reminders (three timers each) come due while the clock moves: ~300 timers/s over the window,
    # below what the worker fires per second, so the lag is the pipeline's and not a queue's.
    timers_firing: int = 4_000
    timers_window: float = 40.0  # seconds of wall time the due times are spread over
    timers_burst: int = 10_000  # due at once, for timers fired per second
    rebuild_patients: int = 20_000  # used only when no earlier workload of the run left a store behind
    rebuild_events: int = 200_000
    connector_seconds: float = 10.0  # per measure
    core_patients: int = 10_000
    core_events: int = 100_000
    memory_patients: int = 1_000_000
    whatif_patients: int = 100_000  # a hospital's year, replayed through two journeys files
    whatif_events: int = 1_000_000


QUICK = Sizes(
    throughput_patients=200,
    throughput_events=2_000,
    latency_seconds=3.0,
    latency_light_seconds=3.0,
    timers_pending=50_000,
    timers_firing=300,
    timers_window=4.0,
    timers_burst=300,
    rebuild_patients=200,
    rebuild_events=2_000,
    connector_seconds=0.5,
    core_patients=200,
    core_events=2_000,
    memory_patients=1_000,
    whatif_patients=200,
    whatif_events=2_000,
)
FULL = Sizes()


def scaled(sizes: Sizes, scale: float) -> Sizes:
    """The event volumes that pass through the worker (throughput, memory) or are replayed twice (whatif) times
    ``scale``: at the issue's sizes they take hours on a worker doing hundreds of events per second."""
    if scale == 1.0:
        return sizes
    return replace(
        sizes,
        throughput_patients=max(1, round(sizes.throughput_patients * scale)),
        throughput_events=max(1, round(sizes.throughput_events * scale)),
        memory_patients=max(1, round(sizes.memory_patients * scale)),
        whatif_patients=max(1, round(sizes.whatif_patients * scale)),
        whatif_events=max(1, round(sizes.whatif_events * scale)),
    )
