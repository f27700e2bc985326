"""Where the cores went: CPU seconds per process kind (worker, projections, PostgreSQL, broker, this process)
over a measured window, read from /proc. PostgreSQL's backends come and go: the postmaster's reaped-children
time counts them after they exit."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
Snapshot = dict[int, tuple[str, float]]


def snapshot(root: int | None = None) -> Snapshot:
    """pid -> (kind, CPU seconds including reaped children) for ``root`` (default: this process) and all its
    descendants."""
    root = root or os.getpid()
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        stats[int(entry.name)] = fields
    out: Snapshot = {}
    for pid, fields in stats.items():
        if _descends(pid, root, parents):
            seconds = sum(int(x) for x in fields[11:15]) / TICKS  # utime, stime, cutime, cstime
            out[pid] = (_kind(pid, root), seconds)
    return out


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds per kind between two snapshots."""
    spent: dict[str, float] = {}
    for pid, (kind, seconds) in after.items():
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(pid, (kind, 0.0))[1]
    return dict(sorted(spent.items(), key=lambda kv: -kv[1]))


def describe(spent: dict[str, float], wall: float) -> str:
    """e.g. 'CPU over 60 s (2 cores): worker 55 s, postgres 40 s, ...'."""
    parts = ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in spent.items() if seconds >= 0.5)
    return f"CPU over {wall:.0f} s on {os.cpu_count()} cores: {parts}"


def _descends(pid: int, root: int, parents: dict[int, int]) -> bool:
    while pid > 1:
        if pid == root:
            return True
        pid = parents.get(pid, 1)
    return pid == root


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "bench (publisher, driver)"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    text = b" ".join(argv).decode(errors="replace")
    for needle, kind in (
        ("bench.bare", "bare faust"),
        ("engine.cli.main worker", "worker"),
        ("engine.cli.main projections", "projections"),
        ("tansu", "broker"),
        ("postgres", "postgres"),
    ):
        if needle in text:
            return kind
    return "other"
