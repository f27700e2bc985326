"""The corpus tier: tests on real public test data (HL7 v2, FHIR R4, CSV) that is not in the repository.

Tests that read it are marked `corpus` and reach it only through these helpers, by the names in manifest.json:

    from tests import corpus

    @pytest.mark.corpus
    @pytest.mark.parametrize("name", corpus.names("hl7v2"))
    def test_every_sample_maps(name: str) -> None:
        payload = corpus.path(f"hl7v2/{name}").read_bytes()

Where the data is looked for, and what happens without it, is in locate.py; `make testdata` (fetch.py) fetches
the pinned files. The corpus adds real-world variety; it is never the only proof: every behaviour a corpus test
checks must also be checked on fixtures the project wrote itself, which run in every clone.
"""

from __future__ import annotations

from tests.corpus.locate import folder, path
from tests.corpus.manifest import names

__all__ = ["folder", "names", "path"]
