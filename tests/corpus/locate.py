"""Where the corpus is, and what a corpus test does when it is not there.

The corpus is looked for in $CARELOOP_TESTDATA when it is set; otherwise in ../shared/testdata beside the
repository (the project's own machines), then in .careloop/testdata (what `make testdata` fetches). Without it,
a test marked `corpus` is skipped with the reason, or fails when CI=true: CI must never pass by skipping the data.

Only tests marked `corpus` may read it, and only while they run: tests/conftest.py opens the gate for each
marked test, so an unmarked test or a module that reads the data at import time fails at once with what to do,
even on a machine that has the data, instead of breaking a user's clone later.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from tests.corpus.manifest import entry, names

ENV = "CARELOOP_TESTDATA"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "testdata"
FETCHED = REPO / ".careloop" / "testdata"


class CorpusMisuseError(RuntimeError):
    """A test read the corpus without the `corpus` marker, or a module read it at import time."""


class _Gate:
    # None: no test is running (import, collection); True/False: the running test is / is not marked corpus.
    marked: bool | None = None


def enter(marked: bool) -> None:
    _Gate.marked = marked


def leave() -> None:
    _Gate.marked = None


def places() -> list[Path]:
    """Where the corpus may be, in order. $CARELOOP_TESTDATA, when set, is the only place: a wrong path there is
    reported, never silently replaced by another copy."""
    given = os.environ.get(ENV)
    return [Path(given)] if given else [SHARED, FETCHED]


def root() -> Path | None:
    """The first place that exists, or None: the corpus is absent."""
    return next((place for place in places() if place.is_dir()), None)


def strict() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def searched() -> str:
    unset = "" if os.environ.get(ENV) else f" (${ENV} is unset)"
    return "looked in " + ", ".join(str(place) for place in places()) + unset


def absent_reason(count: int | None = None) -> str:
    need = f"{count} corpus tests need it" if count is not None else "corpus tests need it"
    given = os.environ.get(ENV)
    if given:
        return f"{ENV}={given} does not exist: {need}; point it at a copy of the corpus, or unset it"
    return (
        f"../shared/testdata is absent (a user's clone): {need}; run `make testdata` to fetch the pinned public files"
    )


STRICT = "(CI=true: corpus tests must run, never skip)"


def unavailable(reason: str) -> NoReturn:
    """Skip the running test, or fail it when CI=true."""
    if strict():
        pytest.fail(f"{reason} {STRICT}", pytrace=False)
    pytest.skip(reason)


def require(count: int | None = None) -> None:
    """Called before each corpus test is set up: skip or fail it when there is no corpus at all."""
    if root() is None:
        unavailable(absent_reason(count))


def _check_gate(name: str) -> None:
    if _Gate.marked is None:
        raise CorpusMisuseError(
            f"{name} was read from the corpus outside a test (at import or collection time?): read it inside a "
            "test marked corpus, and parametrize over tests.corpus.names(...) instead of a directory listing"
        )
    if not _Gate.marked:
        raise CorpusMisuseError(
            f"this test reads {name} from the corpus but is not marked corpus: add @pytest.mark.corpus (or "
            "pytestmark = pytest.mark.corpus) so that a clone without ../shared/testdata skips it"
        )


def _located(name: str) -> Path:
    _check_gate(name)
    found = root()
    if found is None:
        unavailable(absent_reason())
    return found


def path(name: str) -> Path:
    """A corpus file by its manifest name ("hl7v2/ADT_A01__fhirconv__ADT01-28.hl7")."""
    entry(name)  # a name the manifest lacks is the test's mistake: `make testdata` would never fetch it
    file = _located(name) / name
    if not file.is_file():
        unavailable(f"{name} is missing from {file.parent}: run `make testdata` to fetch it")
    return file


def folder(name: str) -> Path:
    """A folder of the corpus ("hl7v2", "fhir/spec-examples"), for tests that read it whole."""
    directory = _located(name) / name
    missing = [file for file in names(name, recursive=True) if not (directory / file).is_file()]
    if missing:
        unavailable(f"{len(missing)} file(s) of {name}/ are missing from {directory.parent}: run `make testdata`")
    return directory
