"""Patient snapshots: a committed aggregate saved whole, so loading a patient is one row instead of a replay.

Why: the worker keeps recent patients in memory (the aggregate cache) and loads the rest from the store. A
hospital's patients come back weeks apart, so most loads miss the cache, and replaying a patient's history
(read, decode, validate and fold ~8 stored events per clinical event) grows with that history. A snapshot is
taken when a patient leaves the cache (it is committed then) and holds the aggregate at a version; loading
reads it and folds only the events after that version.

A snapshot is a cache, never the record: the events are. One is used only if it was written by the same code
(a digest of the journey core and the events' sources); after an upgrade the first load of each patient
replays its events, so what a replay would decide stays what the worker decides. Snapshots are pickles of our
own objects, read only from our own database.
"""

from __future__ import annotations

import copyreg
import hashlib
import pickle
import types
from functools import cache
from pathlib import Path
from typing import Any

from engine.store.aggregate import PatientJourneys

SNAPSHOT_DDL = """
CREATE TABLE IF NOT EXISTS careloop_snapshots (
    aggregate_id uuid PRIMARY KEY,
    version      bigint NOT NULL,
    code         text   NOT NULL,
    state        bytea  NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now()
)
"""
UPSERT = (
    "INSERT INTO careloop_snapshots (aggregate_id, version, code, state) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (aggregate_id) DO UPDATE SET version = EXCLUDED.version, code = EXCLUDED.code, "
    "state = EXCLUDED.state, taken_at = now() "
    "WHERE careloop_snapshots.version <= EXCLUDED.version OR careloop_snapshots.code <> EXCLUDED.code"
)
SNAPSHOT_VERSION = "_careloop_snapshot_version"  # the version a loaded aggregate's snapshot had
_ROOT = Path(__file__).resolve().parents[2]
_SOURCES = ("engine/journeys", "events", "engine/store/aggregate.py")


def _mapping_proxy(d: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(d)


# The core's state holds read-only mappings, which pickle cannot save by itself.
copyreg.pickle(types.MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))


@cache
def code_digest() -> str:
    """What wrote a snapshot: the sources that decide what a patient's state is."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        path = _ROOT / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(_ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def take(aggregate: PatientJourneys) -> tuple[Any, int, str, bytes]:
    """The row for a committed aggregate (nothing pending)."""
    if aggregate.__dict__.get("_pending_events"):
        raise ValueError("a snapshot is of a committed aggregate; this one has events not yet saved")
    saved = {k: v for k, v in aggregate.__dict__.items() if k not in ("_pending_events", SNAPSHOT_VERSION)}
    return aggregate.id, aggregate.version, code_digest(), pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)


def restore(version: int, blob: bytes) -> PatientJourneys:
    aggregate: PatientJourneys = object.__new__(PatientJourneys)
    aggregate.__dict__.update(pickle.loads(blob))
    aggregate.__dict__["_pending_events"] = []
    aggregate.__dict__[SNAPSHOT_VERSION] = version
    return aggregate


def worth_taking(aggregate: PatientJourneys, after: int) -> bool:
    """At least ``after`` events since the last snapshot: short histories replay as fast as they unpickle."""
    return aggregate.version - int(aggregate.__dict__.get(SNAPSHOT_VERSION, 0)) >= after
