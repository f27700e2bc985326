"""The shipped Synthea spec; the project's own small export in Synthea's layout (export/, written for these
tests); and the public Synthea export of the corpus tier (tests/corpus), which lives outside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.tabular import SYNTHEA_SPEC, CsvSpec, load_spec
from tests import corpus

# A hospital-sized sample of the behaviours the spec maps, small enough to know every row (see export/README.md).
OWN_EXPORT = Path(__file__).with_name("export")


@pytest.fixture(scope="session")
def synthea_spec() -> CsvSpec:
    return load_spec(SYNTHEA_SPEC)


@pytest.fixture
def own_export() -> Path:
    return OWN_EXPORT


@pytest.fixture  # per test, not per session: each test that asks for it must be marked corpus
def synthea_export() -> Path:
    """The public Synthea export (27 patients): only tests marked corpus may ask for it."""
    return corpus.folder("csv")
