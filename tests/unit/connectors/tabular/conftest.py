"""The shipped Synthea spec and the shared Synthea export, read in place (never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.tabular import SYNTHEA_SPEC, CsvSpec, load_spec

REPO = Path(__file__).resolve().parents[4]
# Beside the repository, as /work/shared is beside /work/main.
SYNTHEA_EXPORT = REPO.parent / "shared" / "testdata" / "csv"


@pytest.fixture(scope="session")
def synthea_spec() -> CsvSpec:
    return load_spec(SYNTHEA_SPEC)


@pytest.fixture(scope="session")
def synthea_export() -> Path:
    if not (SYNTHEA_EXPORT / "patients.csv").is_file():
        pytest.fail(f"the Synthea export is expected at {SYNTHEA_EXPORT}, i.e. ../shared/testdata/csv from the repo")
    return SYNTHEA_EXPORT
