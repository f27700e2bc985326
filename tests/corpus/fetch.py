"""`make testdata`: fetch the public files pinned in manifest.json into .careloop/testdata, checksums verified.

    python -m tests.corpus.fetch [--into DIR] [--mirror URL]
    python -m tests.corpus.fetch --check [DIR]

Each file comes from <mirror>/<repository>/<commit>/<path>; the mirror is https://raw.githubusercontent.com
unless given (a file:// or http:// mirror laid out the same way works too). A file whose SHA-256 differs from
the manifest's is refused and never written; files already in place with the right checksum are kept. Exit
status 0 when every file is in place; otherwise each file that could not be fetched is listed with why, and 1.

--check fetches nothing: it compares a corpus folder (by default the one the tests would read) with the
manifest and lists missing, altered and unlisted files.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.corpus.locate import FETCHED, root, searched
from tests.corpus.manifest import Entry, load

RAW = "https://raw.githubusercontent.com"
TIMEOUT = 60.0


class FetchError(Exception):
    """A file could not be fetched or was refused; the message says which and why."""


@dataclass
class Report:
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def source_url(entry: Entry, mirror: str = RAW) -> str:
    return f"{mirror.rstrip('/')}/{entry.repository}/{entry.commit}/{urllib.parse.quote(entry.path)}"


def download(entry: Entry, mirror: str) -> bytes:
    """The file's bytes, checked against the manifest; FetchError when unreachable, too large or altered."""
    url = source_url(entry, mirror)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data: bytes = response.read(entry.size + 1)  # no more than one byte past the pinned size
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise FetchError(f"{url} could not be read: {reason}") from exc
    if len(data) > entry.size:
        raise FetchError(f"refused: {url} is larger than the pinned {entry.size} bytes")
    if not entry.matches(data):
        raise FetchError(f"refused: {url} does not have the pinned SHA-256 {entry.sha256} (changed upstream?)")
    return data


def fetch_one(entry: Entry, into: Path, mirror: str) -> bool:
    """True when fetched, False when already in place; the file appears only once its checksum is right."""
    target = into / entry.name
    if target.is_file():
        if entry.matches(target.read_bytes()):
            return False
        target.unlink()  # an altered copy is never left for the tests to read, even if the download then fails
    data = download(entry, mirror)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)  # atomic: a reader never sees half a file
    return True


def fetch(entries: Sequence[Entry], into: Path, mirror: str = RAW) -> Report:
    report = Report()

    def one(entry: Entry) -> tuple[Entry, bool | FetchError]:
        try:
            return entry, fetch_one(entry, into, mirror)
        except FetchError as exc:
            return entry, exc

    with ThreadPoolExecutor(max_workers=8) as pool:  # ~80 small files: latency, not bandwidth, is the cost
        for entry, outcome in pool.map(one, entries):
            if isinstance(outcome, FetchError):
                report.problems.append((entry.name, str(outcome)))
            else:
                (report.fetched if outcome else report.kept).append(entry.name)
    return report


def check(folder: Path, entries: Sequence[Entry]) -> list[str]:
    """What differs between a corpus folder and the manifest: missing, altered and unlisted files."""
    problems = []
    for entry in entries:
        file = folder / entry.name
        if not file.is_file():
            problems.append(f"{entry.name}: missing")
        elif not entry.matches(file.read_bytes()):
            problems.append(f"{entry.name}: SHA-256 differs from the manifest's")
    listed = {entry.name for entry in entries}
    for file in sorted(folder.rglob("*")):
        name = file.relative_to(folder).as_posix()
        if file.is_file() and file.name != "SOURCES.md" and name not in listed:
            problems.append(f"{name}: not in the manifest (add it, or the tier's counts will disagree)")
    return problems


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, default=FETCHED, help=f"where to put the files (default {FETCHED})")
    parser.add_argument("--mirror", default=RAW, help=f"base URL laid out as <repository>/<commit>/<path> ({RAW})")
    parser.add_argument(
        "--check", nargs="?", const="", metavar="DIR", help="compare a corpus folder with the manifest, fetch nothing"
    )
    return parser


def _check(given: str) -> int:
    folder = Path(given) if given else root()
    if folder is None:
        print(f"no corpus found ({searched()}); run `make testdata`", file=sys.stderr)
        return 1
    problems = check(folder, load())
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{folder}: {len(load())} file(s) in the manifest, {len(problems)} problem(s)")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.check is not None:
        return _check(args.check)
    report = fetch(load(), args.into, args.mirror)
    for name, why in report.problems:
        print(f"could not fetch {name}: {why}", file=sys.stderr)
    print(
        f"{args.into}: {len(report.fetched)} file(s) fetched, {len(report.kept)} already in place, "
        f"{len(report.problems)} not fetched"
    )
    if report.problems:
        print("corpus tests that need the missing files will be skipped; run `make testdata` again", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
