"""The HIS inpatient export written for these tests (tests/fixtures/tabular/his-inpatient): its spec, its files, and
the spec's YAML text to change in a test."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Mapped, Outcome, Reject
from connectors.profiles import SourceProfiles
from connectors.tabular import CsvSpec, check_text, read_path
from tests.keys import memory_identity

REPO = Path(__file__).resolve().parents[4]
EXPORT = REPO / "tests" / "fixtures" / "tabular" / "his-inpatient"
SPEC_TEXT = (EXPORT / "his-inpatient.yaml").read_text(encoding="utf-8")
PATIENTS = EXPORT / "patients_20260309.csv"
DISCHARGES = EXPORT / "discharges_20260309.csv"


def spec_of(text: str = SPEC_TEXT) -> CsvSpec:
    spec, problems = check_text(text, "his-inpatient.yaml")
    assert spec is not None, [str(p) for p in problems]
    return spec


def problems_of(text: str) -> list[str]:
    spec, problems = check_text(text, "his-inpatient.yaml")
    assert spec is None
    return [str(p) for p in problems]


def read(path: Path, spec: CsvSpec, profiles: SourceProfiles | None = None) -> list[Outcome]:
    return list(read_path(path, spec, memory_identity(), profiles))


def mapped(outcomes: list[Outcome]) -> list[Mapped]:
    assert all(isinstance(o, Mapped) for o in outcomes), [str(o) for o in outcomes if isinstance(o, Reject)]
    return [o for o in outcomes if isinstance(o, Mapped)]


def rejects(outcomes: list[Outcome]) -> list[Reject]:
    return [o for o in outcomes if isinstance(o, Reject)]
