"""The corpus tier itself (tests/corpus): the manifest, where the data is looked for, what a test without it does,
and `make testdata`'s fetcher, run against a local mirror (this machine, like CI, may not reach GitHub)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import corpus
from tests.corpus import fetch, locate
from tests.corpus.manifest import Entry, load

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# Two small files as an upstream repository holds them; one path needs quoting in a URL, as some real ones do.
UPSTREAM = {
    "archive/v2/ADT/A01-Admit (example).txt": b"MSH|^~\\&|HIS|RENHE|||20260302101500+0800||ADT^A01|1|P|2.5\r",
    "seeds/patients.csv": b"Id,BIRTHDATE\np1,1970-04-12\n",
}


def pinned(path: str, name: str, data: bytes) -> Entry:
    sha256 = hashlib.sha256(data).hexdigest()
    return Entry(name, "example/upstream", COMMIT, path, "CC0-1.0", len(data), sha256)


ENTRIES = [
    pinned("archive/v2/ADT/A01-Admit (example).txt", "hl7v2/ADT_A01__example.hl7", UPSTREAM[next(iter(UPSTREAM))]),
    pinned("seeds/patients.csv", "csv/patients.csv", UPSTREAM["seeds/patients.csv"]),
]


def mirror_of(folder: Path, files: dict[str, bytes]) -> Path:
    """A folder laid out as raw.githubusercontent.com is: <repository>/<commit>/<path>."""
    for path, data in files.items():
        target = folder / "example" / "upstream" / COMMIT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving a mirror folder; yields its base URL and the folder."""
    folder = mirror_of(tmp_path / "mirror", UPSTREAM)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


# The manifest ----------------------------------------------------------------------------------------------


def test_every_manifest_entry_names_its_source_commit_path_licence_and_checksum() -> None:
    entries = load()
    assert len({e.name for e in entries}) == len(entries) == 78
    for e in entries:
        assert re.fullmatch(r"(hl7v2|csv|fhir/synthea|fhir/spec-examples)/[^/]+", e.name), e.name
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", e.repository), e.name
        assert re.fullmatch(r"[0-9a-f]{40}", e.commit), e.name
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256), e.name
        assert e.path and not e.path.startswith("/") and e.licence and e.size > 0, e.name


def test_names_are_listed_per_folder_sorted_and_relative_to_it() -> None:
    hl7 = corpus.names("hl7v2")
    assert len(hl7) == 53 and hl7 == sorted(hl7)
    assert "ADT_A01__fhirconv__ADT01-28.hl7" in hl7
    assert corpus.names("fhir") == [], "fhir/ holds only folders"
    assert len(corpus.names("fhir", recursive=True)) == 14
    assert "spec-examples/Patient-example.json" in corpus.names("fhir", recursive=True)


def test_a_name_the_manifest_lacks_is_refused_with_what_to_do() -> None:
    with pytest.raises(LookupError, match=r"not in tests/corpus/manifest.json: add it there"):
        corpus.path("hl7v2/not-a-sample.hl7")


@pytest.mark.corpus
def test_the_corpus_the_tests_read_is_exactly_the_manifest() -> None:
    where = locate.root()
    assert where is not None
    assert fetch.check(where, load()) == []


# Where the corpus is looked for ------------------------------------------------------------------------------


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine without the corpus: no ../shared/testdata, nothing fetched, no variable, not CI."""
    monkeypatch.setattr(locate, "SHARED", tmp_path / "shared" / "testdata")
    monkeypatch.setattr(locate, "FETCHED", tmp_path / "repo" / ".careloop" / "testdata")
    monkeypatch.delenv(locate.ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def test_the_shared_copy_comes_before_the_fetched_one(nowhere: Path) -> None:
    assert locate.root() is None
    locate.FETCHED.mkdir(parents=True)
    assert locate.root() == locate.FETCHED
    locate.SHARED.mkdir(parents=True)
    assert locate.root() == locate.SHARED


def test_the_variable_when_set_is_the_only_place_looked_in(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locate.SHARED.mkdir(parents=True)
    monkeypatch.setenv(locate.ENV, str(nowhere / "copy"))
    assert locate.root() is None, "a wrong path is reported, not replaced by another copy"
    assert locate.absent_reason(3).startswith(f"{locate.ENV}={nowhere / 'copy'} does not exist: 3 corpus tests")
    (nowhere / "copy").mkdir()
    assert locate.root() == nowhere / "copy"


def test_without_the_corpus_a_corpus_test_is_skipped_saying_why_and_what_to_run(nowhere: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        locate.require(412)
    assert str(skipped.value) == (
        "../shared/testdata is absent (a user's clone): 412 corpus tests need it; "
        "run `make testdata` to fetch the pinned public files"
    )


def test_without_the_corpus_a_corpus_test_fails_on_ci(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"is absent .* \(CI=true: corpus tests must run, never skip\)"):
        locate.require(412)


def test_a_file_missing_from_a_partial_fetch_skips_only_the_tests_that_read_it(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locate.FETCHED.mkdir(parents=True)
    monkeypatch.setattr(locate._Gate, "marked", True)  # as inside a test marked corpus
    with pytest.raises(pytest.skip.Exception, match=r"hl7v2/ADT_A01__fhirconv__ADT01-28.hl7 is missing from"):
        corpus.path("hl7v2/ADT_A01__fhirconv__ADT01-28.hl7")
    with pytest.raises(pytest.skip.Exception, match=r"53 file\(s\) of hl7v2/ are missing"):
        corpus.folder("hl7v2")


def test_an_unmarked_test_that_reads_the_corpus_fails_even_where_the_data_is() -> None:
    with pytest.raises(locate.CorpusMisuseError, match=r"is not marked corpus: add @pytest\.mark\.corpus"):
        corpus.path("hl7v2/ADT_A01__fhirconv__ADT01-28.hl7")


def test_reading_the_corpus_outside_a_test_fails_naming_import_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate._Gate, "marked", None)  # as while modules are imported for collection
    with pytest.raises(locate.CorpusMisuseError, match=r"outside a test \(at import or collection time\?\)"):
        corpus.folder("hl7v2")


def test_a_run_without_the_corpus_skips_its_tests_and_says_how_many_and_why_then_fails_them_on_ci(
    tmp_path: Path,
) -> None:
    run = [
        sys.executable,
        "-m",
        "pytest",
        "tests/unit/connectors/tabular/test_synthea_export.py",
        "-p",
        "no:cacheprovider",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env[locate.ENV] = str(tmp_path / "no-corpus-here")

    skipped = subprocess.run(run, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    [count] = re.findall(r"(\d+) skipped in", skipped.stdout)
    assert (
        f"{count} corpus test(s) skipped: {locate.ENV}={tmp_path / 'no-corpus-here'} does not exist" in skipped.stdout
    )
    assert f"does not exist: {count} corpus tests need it" in skipped.stdout

    ci = {**env, "CI": "true"}
    failed = subprocess.run(run, cwd=REPO, env=ci, capture_output=True, text=True, timeout=300, check=False)
    assert failed.returncode == 1, failed.stdout[-2000:]
    assert f"{count} errors in" in failed.stdout
    assert f"{count} corpus test(s) failed: CI=true and {locate.ENV}=" in failed.stdout


# `make testdata` ----------------------------------------------------------------------------------------------


def test_the_fetcher_downloads_each_pinned_file_over_http_and_keeps_it_next_time(
    http_mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = http_mirror
    into = tmp_path / "testdata"

    report = fetch.fetch(ENTRIES, into, url)

    assert report.problems == []
    assert sorted(report.fetched) == ["csv/patients.csv", "hl7v2/ADT_A01__example.hl7"]
    assert (into / "csv" / "patients.csv").read_bytes() == UPSTREAM["seeds/patients.csv"]
    again = fetch.fetch(ENTRIES, into, url)
    assert (again.fetched, sorted(again.kept)) == ([], ["csv/patients.csv", "hl7v2/ADT_A01__example.hl7"])


def test_a_file_whose_checksum_differs_is_refused_and_never_written(tmp_path: Path) -> None:
    mirror = mirror_of(tmp_path / "mirror", {**UPSTREAM, "seeds/patients.csv": b"Id,BIRTHDATE\np1,1970-04-13\n"})
    into = tmp_path / "testdata"

    report = fetch.fetch(ENTRIES, into, mirror.as_uri())

    assert report.fetched == ["hl7v2/ADT_A01__example.hl7"], "a file:// mirror works, quoting and all"
    [(name, why)] = report.problems
    assert name == "csv/patients.csv"
    assert why.startswith("refused: file://") and f"does not have the pinned SHA-256 {ENTRIES[1].sha256}" in why
    assert not (into / "csv" / "patients.csv").exists()
    assert not list(into.rglob("*.part"))


def test_an_altered_local_copy_is_replaced_by_the_pinned_file(http_mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = http_mirror
    altered = tmp_path / "testdata" / "csv" / "patients.csv"
    altered.parent.mkdir(parents=True)
    altered.write_bytes(b"Id,BIRTHDATE\nedited,1970-01-01\n")

    report = fetch.fetch(ENTRIES[1:], tmp_path / "testdata", url)

    assert report.fetched == ["csv/patients.csv"]
    assert altered.read_bytes() == UPSTREAM["seeds/patients.csv"]


def test_a_file_larger_than_pinned_is_refused(tmp_path: Path) -> None:
    mirror = mirror_of(tmp_path / "mirror", {"seeds/patients.csv": UPSTREAM["seeds/patients.csv"] + b"p2,1980-01-01\n"})
    [(_, why)] = fetch.fetch(ENTRIES[1:], tmp_path / "testdata", mirror.as_uri()).problems
    assert why.startswith("refused: ") and why.endswith(f"is larger than the pinned {ENTRIES[1].size} bytes")


def test_what_could_not_be_fetched_is_listed_with_why_and_the_exit_status_says_so(
    http_mirror: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, folder = http_mirror
    (folder / "example" / "upstream" / COMMIT / "seeds" / "patients.csv").unlink()  # gone upstream

    report = fetch.fetch(ENTRIES, tmp_path / "testdata", url)
    [(name, why)] = report.problems
    assert name == "csv/patients.csv" and why.endswith("answered HTTP 404 File not found")
    assert report.fetched == ["hl7v2/ADT_A01__example.hl7"]

    unreachable = fetch.fetch(ENTRIES[:1], tmp_path / "elsewhere", "http://127.0.0.1:9")  # nothing listens there
    [(_, why)] = unreachable.problems
    assert "could not be read: " in why

    assert fetch.main(["--into", str(tmp_path / "cli"), "--mirror", (tmp_path / "empty").as_uri()]) == 1
    out, err = capsys.readouterr()
    assert "78 not fetched" in out
    assert err.count("could not fetch ") == 78 and "run `make testdata` again" in err


def test_check_lists_missing_altered_and_unlisted_files(tmp_path: Path) -> None:
    folder = tmp_path / "testdata"
    (folder / "hl7v2").mkdir(parents=True)
    (folder / "hl7v2" / "ADT_A01__example.hl7").write_bytes(b"MSH|edited\r")
    (folder / "hl7v2" / "extra.hl7").write_bytes(b"MSH|\r")
    (folder / "hl7v2" / "SOURCES.md").write_text("# sources\n")

    assert fetch.check(folder, ENTRIES) == [
        "hl7v2/ADT_A01__example.hl7: SHA-256 differs from the manifest's",
        "csv/patients.csv: missing",
        "hl7v2/extra.hl7: not in the manifest (add it, or the tier's counts will disagree)",
    ]
