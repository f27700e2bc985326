"""`--profile`: py-spy samples a process while a workload measures it, and the busiest functions are written to
bench/results/profiles/<workload>-<process>.txt (waiting in select, locks and queues is left out: it is not
where the CPU goes, and a worker waiting on PostgreSQL shows up as PostgreSQL's time in the CPU notes).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import RESULTS_DIR

PROFILES = RESULTS_DIR / "profiles"
LINE = re.compile(r":\d+\)$")
# Leaf frames that mean "waiting", not "working".
IDLE = re.compile(
    r"^(Condition\.wait|Event\.wait|Queue\.get|.*\.select |select |_worker \(concurrent/futures/thread\.py:81\)|"
    r"sleep|.*acquire|Connection\.wait|wait )"
)


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def profiled(enabled: bool, name: str, pid: int, seconds: float = 60.0) -> Iterator[None]:
    """Sample ``pid`` for up to ``seconds`` while the block runs (a no-op unless ``enabled`` and py-spy is
    installed: `pip install -e .[dev]`)."""
    exe = _py_spy() if enabled else None
    if exe is None:
        yield
        return
    PROFILES.mkdir(parents=True, exist_ok=True)
    raw = PROFILES / f"{name}.raw"
    argv = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50", "-f", "raw", "-o", str(raw)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes what it has sampled on Ctrl-C (not on SIGTERM)
        proc.wait(timeout=30)
        if raw.exists():
            (PROFILES / f"{name}.txt").write_text(summary(raw), encoding="utf-8")
            raw.unlink()


def summary(raw: Path, top: int = 40) -> str:
    """Busy samples per function: self time (the leaf) and inclusive time (anywhere on the stack)."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if IDLE.match(frames[-1]):
            continue
        frames = [LINE.sub(")", f) for f in frames]  # one entry per function, not per line
        leaf[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    total = sum(leaf.values()) or 1
    lines = [f"busy samples: {total} (50 Hz)", "", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in leaf.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"
