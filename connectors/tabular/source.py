"""Reading CSV exports: a file, an export folder, or one payload, streamed row by row into outcomes.

Rows are read one at a time (an export of millions of rows never sits in memory) and keep the line they start on.
An outcome's ``original`` is the header line followed by the row's exact bytes: a one-row CSV that maps on its
own, so a dead letter replays without the source file. File-level problems (a file the spec does not map, a
header without a column the spec reads, a byte-order mark of another encoding than the file's) are one Reject for
the file, not one per row.

Character sets: a file is read in its spec entry's ``encoding:``, else the source profile's charset
(``connectors.profiles``, by the spec's source_system, then its name), else UTF-8. A line that is not valid in it
rejects its row, naming the line, the byte, the encoding and where that encoding came from; its text is never
decoded with replacement characters into an event.
"""

from __future__ import annotations

import codecs
import csv as stdcsv  # this package is not named csv: a `csv` package shadows the stdlib in test collection
import dataclasses
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from connectors.base import Location, Outcome, PatientIdentity, Reject
from connectors.profiles import SourceProfiles
from connectors.referrals import ReferralDirectory
from connectors.tabular.errors import SourceNotFoundError
from connectors.tabular.loader import load_spec
from connectors.tabular.mapping import FilePlan, map_row
from connectors.tabular.mappings import SYNTHEA_SPEC
from connectors.tabular.spec import CsvSpec, line_readable
from engine.yamlfile.suggest import did_you_mean

__all__ = ["export_files", "load_default_spec", "load_spec", "map_bytes", "map_stream", "read_file", "read_path"]


def load_default_spec() -> CsvSpec:
    """The shipped spec, for Synthea's CSV exporter: what `careloop publish csv` uses without --spec."""
    return load_spec(SYNTHEA_SPEC)


def read_path(
    path: str | Path,
    spec: CsvSpec,
    identity: PatientIdentity,
    profiles: SourceProfiles | None = None,
    *,
    referrals: ReferralDirectory | None = None,
) -> Iterator[Outcome]:
    """Outcomes of a CSV file, or of every file of an export folder: mapped files in the spec's order (patients
    before their encounters), then one 'not mapped' Reject per other CSV file. Other files (a README) are skipped.
    ``profiles``: what the spec leaves unsaid (encoding, time zone, phone country), by its source_system;
    ``referrals``: whose referral code a registration carries (None: no code is looked up).
    """
    root = Path(path)
    if not root.exists():
        raise SourceNotFoundError(f"{root} does not exist: give a CSV file or an export folder")
    for file in export_files(root, spec) if root.is_dir() else [root]:
        yield from read_file(file, spec, identity, profiles, referrals=referrals)


def export_files(folder: Path, spec: CsvSpec) -> list[Path]:
    """The files of an export folder to read, in order: by spec entry, then the CSV files it does not map."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    mapped = [p for entry in spec.files for p in files if spec.file_for(p.name) is entry]
    unmapped = [p for p in files if p not in mapped and p.suffix.lower() in (".csv", ".tsv")]
    return mapped + unmapped


def read_file(
    path: Path,
    spec: CsvSpec,
    identity: PatientIdentity,
    profiles: SourceProfiles | None = None,
    *,
    referrals: ReferralDirectory | None = None,
) -> Iterator[Outcome]:
    plan = FilePlan.for_file(spec, path.name, profiles)
    if plan is None:
        yield _not_mapped(str(path), path.name, spec)
        return
    plan = dataclasses.replace(plan, referrals=referrals)
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield Reject(f"cannot read the file: {exc.strerror}", Location(str(path)), b"", "unreadable")
        return
    with stream:
        yield from map_stream(stream, plan, identity, str(path))


def map_bytes(
    data: bytes,
    source: str,
    spec: CsvSpec,
    identity: PatientIdentity,
    profiles: SourceProfiles | None = None,
    *,
    referrals: ReferralDirectory | None = None,
) -> list[Outcome]:
    """Outcomes of one CSV payload (an upload, a replayed dead letter). The spec entry is the one matching the
    file name in ``source`` ('uploads/encounters.csv'), else the one whose columns the header shows."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    plan = FilePlan.for_file(spec, name, profiles) or _plan_by_header(data, spec, name, profiles)
    if plan is None:
        return [_not_mapped(source, name, spec)]
    return list(map_stream(io.BytesIO(data), dataclasses.replace(plan, referrals=referrals), identity, source))


def _plan_by_header(data: bytes, spec: CsvSpec, name: str, profiles: SourceProfiles | None) -> FilePlan | None:
    """The entry whose declared columns are exactly the header's, else the only one whose columns it has."""
    first_line = data.split(b"\n", 1)[0]
    exact, enough = [], []
    for entry in spec.files:
        plan = FilePlan.of(spec, entry, name, profiles)
        try:
            text = first_line.decode(plan.encoding).lstrip("\ufeff")
            header = {h.strip() for h in next(stdcsv.reader([text], delimiter=entry.delimiter), [])}
        except (UnicodeDecodeError, LookupError, stdcsv.Error):
            continue
        if entry.columns is not None and set(entry.columns) == header:
            exact.append(plan)
        elif set(plan.columns()) <= header:
            enough.append(plan)
    for plans in (exact, enough):
        if len(plans) == 1:
            return plans[0]
    return None


def map_stream(stream: Iterable[bytes], plan: FilePlan, identity: PatientIdentity, source: str) -> Iterator[Outcome]:
    """Outcomes of a binary stream of CSV lines: the header first, then one outcome per non-blank row."""
    if not line_readable(plan.encoding):
        why = f"{plan.encoding}, set by {plan.encoding_origin}, cannot be read line by line: export the file as utf-8"
        yield Reject(why, Location(source, line=1, detail="header"), b"", "unparseable")
        return
    tap = _LineTap(stream, plan.encoding, plan.encoding_origin)
    reader = stdcsv.reader(tap, delimiter=plan.file.delimiter)
    read = _read_header(reader, tap, plan, source)
    if isinstance(read, Reject):
        yield read
        return
    header, header_bytes = read
    number = 0
    problem: str | None
    while True:
        start = tap.lines + 1
        try:
            cells = next(reader, None)
        except stdcsv.Error as exc:
            cells, problem = [], f"not readable as CSV: {exc}"
        else:
            problem = tap.problem
        original = header_bytes + tap.take()
        if cells is None:
            return
        if not cells and not problem:
            continue  # a blank line is not a row
        number += 1
        location = Location(source, message=number, line=start)
        yield _row_outcome(cells, header, problem, plan, identity, location, original)


def _row_outcome(
    cells: list[str],
    header: list[str],
    problem: str | None,
    plan: FilePlan,
    identity: PatientIdentity,
    location: Location,
    original: bytes,
) -> Outcome:
    if problem:
        return Reject(problem, location, original, "unparseable")
    if len(cells) != len(header):
        reason = f"the row has {len(cells)} fields but the header has {len(header)} (an unquoted delimiter?)"
        return Reject(reason, location, original, "unparseable")
    return map_row(dict(zip(header, cells, strict=True)), plan, identity, location, original)


def _read_header(
    reader: Iterator[list[str]], tap: _LineTap, plan: FilePlan, source: str
) -> tuple[list[str], bytes] | Reject:
    where = Location(source, message=None, line=1, detail="header")
    try:
        row = next(reader, None)
    except stdcsv.Error as exc:
        return Reject(f"the header is not readable as CSV: {exc}", where, tap.take(), "unparseable")
    problem = tap.problem  # read before take(), which starts the next row afresh
    original = tap.take()
    if row is None or problem:
        reason = problem or "the file is empty: a CSV export starts with a header row"
        return Reject(reason, where, original, "unparseable")
    header = [name.strip() for name in row]
    if duplicated := sorted({n for n in header if header.count(n) > 1}):
        return Reject(f"the header names {', '.join(duplicated)} twice", where, original, "invalid")
    missing = [c for c in plan.columns() if c not in header]
    if missing:
        hints = "".join(did_you_mean(c, header) for c in missing[:1])
        reason = f"the header lacks column {', '.join(missing)}, which the spec reads{hints}; no row was mapped"
        return Reject(reason, where, original, "invalid")
    # A last line without its newline would run into the row appended to it in an outcome's original.
    return header, original if original.endswith(b"\n") else original + b"\n"


def _not_mapped(source: str, name: str, spec: CsvSpec) -> Reject:
    reason = f"{name} is not mapped by this spec ({spec.name}): no files: entry matches it"
    return Reject(reason, Location(source), b"", "unmapped")


class _LineTap:
    """Feeds decoded lines to the csv reader and keeps each row's original bytes and its line count.

    The csv module reads a record's lines only as it needs them (a quoted cell may span lines), so the bytes taken
    between two rows are exactly that row's bytes. A line that is not valid in the file's encoding sets ``problem``
    and the row it belongs to is rejected (its text goes on to the csv reader with replacement characters only so
    the next rows are still read; the row itself never becomes events). A byte-order mark on the first line is
    dropped when it is the file's encoding's own, and otherwise makes the header, so the whole file, a reject.
    """

    def __init__(self, stream: Iterable[bytes], encoding: str, origin: str) -> None:
        self._lines = iter(stream)
        self._encoding = codecs.lookup(encoding).name
        self._origin = origin
        self._pending: list[bytes] = []
        self.lines = 0
        self.problem: str | None = None

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self._pending.append(raw)
        self.lines += 1
        if self.lines == 1:
            raw = self._without_bom(raw)
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            self.problem = self.problem or (
                f"line {self.lines} is not valid {self._encoding} at byte offset {exc.start} of the line "
                f"({exc.reason}); it is read as {self._encoding} by {self._origin}: "
                f"export the file as {self._encoding}, or set encoding: to its character set"
            )
            return raw.decode(self._encoding, errors="replace")

    def _without_bom(self, raw: bytes) -> bytes:
        """The first line without its byte-order mark (Excel writes one before the header)."""
        for bom, name, encodings in _BOMS:
            if raw.startswith(bom):
                if self._encoding in encodings:
                    return raw[len(bom) :]
                self.problem = (
                    f"the file starts with a {name} byte-order mark, but is read as {self._encoding} by "
                    f"{self._origin}: export it as {self._encoding}, or set encoding: to its character set"
                )
                return raw
        return raw

    def take(self) -> bytes:
        """The bytes read since the last take (the last row's), resetting the decoding problem."""
        original, self._pending, self.problem = b"".join(self._pending), [], None
        return original


# Byte-order marks, longest first (UTF-32LE's starts with UTF-16LE's), and the codecs whose own mark each is.
_BOMS: tuple[tuple[bytes, str, frozenset[str]], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32LE", frozenset()),
    (codecs.BOM_UTF32_BE, "UTF-32BE", frozenset()),
    (codecs.BOM_UTF8, "UTF-8", frozenset({"utf-8", "utf-8-sig"})),
    (codecs.BOM_UTF16_LE, "UTF-16LE", frozenset()),
    (codecs.BOM_UTF16_BE, "UTF-16BE", frozenset()),
    (b"\x84\x31\x95\x33", "GB18030", frozenset({"gb18030"})),
)
