"""Splitting the projections between runner processes: by name (`--only`), or into N groups (`--group K/N`).

One runner applies every page to each of its projections in a transaction of its own, so its CPU grows with the
number of projections it follows; N runners on N groups share that work, each with its own tracking rows
(projections/tracking.py). Which group a projection is in depends only on N and the catalog, so runners started
anywhere with `--group 1/N` ... `--group N/N` of the same release follow every projection once between them.

The split deals the projections out like cards, one to each group in turn, those that read the most event types
(``Projection.reads``; every type when None) first: groups differ in size by one at most, and the projections that
read the most spread over the groups. Size matters most: each projection costs its runner a transaction per page,
whether the page holds events it reads or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from engine.yamlfile.suggest import did_you_mean
from events.catalog import EVENT_TYPES
from projections.base import Projection
from projections.catalog import PROJECTIONS
from projections.errors import ProjectionError


class GroupError(ProjectionError):
    """A group or a name that picks no projection, or a split that cannot be made: the message says why."""


def event_types_read(projection: Projection) -> int:
    """How many event types reach the projection's ``changes``: those of its ``reads``, every one when None."""
    if projection.reads is None:
        return len(EVENT_TYPES)
    return sum(1 for cls in EVENT_TYPES.values() if issubclass(cls, projection.reads))


def groups(n: int, projections: Sequence[Projection] = PROJECTIONS) -> tuple[tuple[Projection, ...], ...]:
    """The projections in ``n`` groups, each projection in exactly one; within a group in catalog order."""
    if n < 1:
        raise GroupError(f"the number of groups must be at least 1, not {n}")
    if n > len(projections):
        raise GroupError(
            f"{n} groups is more than the {len(projections)} projections: a group would follow none "
            f"(at most {len(projections)}: a runner for each projection)"
        )
    order = {p.name: i for i, p in enumerate(projections)}
    # Most event types first, the catalog's order breaking ties: the same split on every machine
    dealt = sorted(projections, key=lambda p: (-event_types_read(p), order[p.name]))
    return tuple(tuple(sorted(dealt[k::n], key=lambda p: order[p.name])) for k in range(n))


GROUP = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def group(spec: str, projections: Sequence[Projection] = PROJECTIONS) -> tuple[Projection, ...]:
    """The projections of ``K/N`` (group K of N, from 1): what `--group K/N` follows."""
    match = GROUP.match(spec)
    if match is None:
        raise GroupError(f"--group {spec!r} is not K/N (group K of N, e.g. 1/2 and 2/2 for two runners)")
    k, n = int(match[1]), int(match[2])
    split = groups(n, projections)
    if not 1 <= k <= n:
        raise GroupError(f"--group {spec}: K must be from 1 to {n}")
    return split[k - 1]


def named(names: Iterable[str], projections: Sequence[Projection] = PROJECTIONS) -> tuple[Projection, ...]:
    """The projections named (comma-separated lists too: what `--only` follows), in catalog order; an unknown
    name is refused naming it, with the closest known name."""
    wanted = {n.strip() for item in names for n in item.split(",") if n.strip()}
    known = [p.name for p in projections]
    if unknown := sorted(wanted - set(known)):
        hint = did_you_mean(unknown[0], known) or f" (projections: {', '.join(known)})"
        raise GroupError(f"no projection {unknown[0]!r}{hint}")
    if not wanted:
        raise GroupError(f"--only names no projection (projections: {', '.join(known)})")
    return tuple(p for p in projections if p.name in wanted)
