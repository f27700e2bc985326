"""Workload 5, the connectors, one process on one core: HL7 v2 messages/s parsed and mapped to canonical events,
and FHIR resources/s mapped from Synthea patient bundles. No Kafka, no PostgreSQL (identity in memory).

The inputs are the real samples in ../shared/testdata (read in place, never copied into the project): the HL7
v2 messages that map (rejects are cheaper and would flatter the rate) and the six Synthea bundles.
Ceilings, measured on the same bytes: cutting the HL7 messages into segments and fields with ``str.split``,
the least any parser does (the connector cuts them so, with python-hl7's delimiters, and splits a field further
only when the mapping reads it; ``hl7.parse`` alone, which it used before, ran at ~570 messages/s and is shown
in the notes), and ``json.loads`` of the bundles (the connector loads them with it, then validates and maps).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import hl7

from bench.context import Context
from bench.profile import profiled
from bench.report import Result
from connectors.base import InMemoryIdentity, Location, Mapped
from connectors.fhir import FhirOptions, map_document
from connectors.hl7v2.source import map_bytes
from engine.security.pseudonyms import Pseudonyms

SHARED = Path(__file__).resolve().parents[2] / "shared" / "testdata"
HL7_TARGET = 10_000.0


class MissingTestDataError(RuntimeError):
    """The shared sample messages are not beside the project."""


def run(ctx: Context) -> list[Result]:
    with profiled(ctx.profile, "connectors", os.getpid()):
        return [_hl7(ctx.sizes.connector_seconds), _fhir(ctx.sizes.connector_seconds)]


def _rate(work: Callable[[], int], seconds: float) -> float:
    """Units of work per second, repeating ``work`` (which returns its units) for at least ``seconds``."""
    work()  # warm: imports, caches
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += work()
    return done / elapsed


def _samples(folder: str, pattern: str) -> list[Path]:
    files = sorted((SHARED / folder).glob(pattern))
    if not files:
        raise MissingTestDataError(f"no {pattern} under {SHARED / folder}: the shared test data is missing")
    return files


def memory_identity() -> InMemoryIdentity:
    """Patient identity as a dry run keeps it, under pseudonym keys of this run's own."""
    return InMemoryIdentity(Pseudonyms(os.urandom(32), os.urandom(32)))


def _hl7(seconds: float) -> Result:
    payloads = [p.read_bytes() for p in _samples("hl7v2", "*.hl7")]
    mappable = [d for d in payloads if all(isinstance(o, Mapped) for o in map_bytes(d, "bench", memory_identity()))]
    texts = [d.decode("utf-8-sig", "replace").replace("\r\n", "\r").replace("\n", "\r").strip() for d in mappable]

    def mapped() -> int:
        identity = memory_identity()
        for data in mappable:
            for _ in map_bytes(data, "bench", identity):
                pass
        return len(mappable)

    def cut() -> int:
        for text in texts:
            for segment in text.split("\r"):
                segment.split("|")
        return len(texts)

    def parsed() -> int:
        for text in texts:
            hl7.parse(text)
        return len(texts)

    return Result(
        "connectors.hl7v2_messages_per_s",
        _rate(mapped, seconds),
        "messages/s",
        ceiling=_rate(cut, seconds),
        ceiling_is="the same messages cut into segments and fields with str.split alone",
        target=HL7_TARGET,
        notes=f"{len(mappable)} real sample messages (ADT, ORU, SIU) that map, one core; "
        f"python-hl7's hl7.parse alone on them: {_rate(parsed, seconds / 2):,.0f} messages/s",
    )


def _fhir(seconds: float) -> Result:
    bundles = [p.read_bytes() for p in _samples("fhir/synthea", "*.json")]
    resources = sum(len(json.loads(b).get("entry") or []) for b in bundles)
    options = FhirOptions(received_at=datetime(2026, 3, 1, tzinfo=UTC))  # as the shell fills it

    def mapped() -> int:
        identity = memory_identity()
        for data in bundles:
            map_document(data, Location("bench"), identity, options)
        return resources

    def loaded() -> int:
        for data in bundles:
            json.loads(data)
        return resources

    return Result(
        "connectors.fhir_resources_per_s",
        _rate(mapped, seconds),
        "resources/s",
        ceiling=_rate(loaded, seconds),
        ceiling_is="json.loads alone on the same bundles",
        notes=f"{len(bundles)} Synthea bundles, {resources:,} resources, one core; the issue sets no target",
    )
