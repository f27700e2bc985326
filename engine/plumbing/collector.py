"""Python's garbage collector, set for long-running processes that keep many objects (the worker's cache of
patients, a rebuild's pages).

With the default thresholds (700, 10, 10) a collection of the oldest generation walks every live object several
times a second under load: profiling the journey core found ~30% of its time in the collector. Reference
counting frees almost everything careloop allocates; the collector is only for cycles, so it can run far less
often. Objects alive at start-up (modules, the journey catalog) are frozen out of its walks.
"""

from __future__ import annotations

import gc

THRESHOLDS = (100_000, 50, 1_000)


def tune() -> None:
    """Call once, after start-up work, in a process's composition root."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
