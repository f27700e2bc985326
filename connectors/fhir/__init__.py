"""FHIR R4 connector: JSON resources and Bundles -> careloop events (parse -> pure mapping -> publish).

FHIR types stay inside this package; callers see ``Mapped``/``Reject`` outcomes and bundle summaries.
The mapping rules are in README.md beside this file.
"""

from __future__ import annotations

from connectors.fhir.mapping import BundleSummary, MapResult, map_document
from connectors.fhir.options import FhirOptions
from connectors.fhir.source import map_bytes, read_path, read_results

__all__ = ["BundleSummary", "FhirOptions", "MapResult", "map_bytes", "map_document", "read_path", "read_results"]
