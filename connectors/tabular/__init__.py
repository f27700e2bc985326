"""The CSV connector: exports (Synthea, a HIS's nightly dump) mapped to canonical events by a YAML spec.

parse (``source.py``: streaming rows with their lines and bytes) -> pure mapping (``mapping.py``, driven by the
spec of ``spec.py``, loaded and checked by ``loader.py``) -> publish (the caller's ``connectors.publisher``).

The package is ``tabular``, not ``csv``: a test package ``tests/unit/connectors/csv`` without an ``__init__.py``
above it is collected by pytest as the top-level module ``csv`` and breaks the standard library's, and this
connector also reads TSV and other delimiters. Modules here still say ``import csv as stdcsv`` for clarity.
"""

from __future__ import annotations

from connectors.tabular.errors import SourceNotFoundError, SpecError, TabularError
from connectors.tabular.loader import check_text, load_spec
from connectors.tabular.mapping import FilePlan, map_row
from connectors.tabular.mappings import SYNTHEA_SPEC
from connectors.tabular.source import load_default_spec, map_bytes, read_path
from connectors.tabular.spec import CsvSpec

__all__ = [
    "SYNTHEA_SPEC",
    "CsvSpec",
    "FilePlan",
    "SourceNotFoundError",
    "SpecError",
    "TabularError",
    "check_text",
    "load_default_spec",
    "load_spec",
    "map_bytes",
    "map_row",
    "read_path",
]
