"""Mapping specs shipped with the CSV connector (YAML data; a package so that they install with it)."""

from __future__ import annotations

from pathlib import Path

# The spec for Synthea's CSV exporter (v3); a starting point for a HIS's own.
SYNTHEA_SPEC = Path(__file__).parent / "synthea.yaml"
