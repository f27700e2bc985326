"""`careloop whatif NEW.yaml`: the history replayed through the current journeys and through NEW.yaml side by side,
and what NEW.yaml would add, remove or move. Writes nothing to the store and sends nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles
from engine.cli.eventfile import EventFileError, read_events
from engine.cli.moments import parse_moment
from engine.cli.whatif_pool import Journeys, cores, whatif_in_parallel
from engine.journeys.whatif import WhatIf
from engine.language.loader import check_text
from events.base import Event

# emoji off: a template named like an emoji code (":clock1:") is printed as written
out, err = consoles()
FORMATS = ("table", "json", "html")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def whatif_command(
    new: Annotated[Path, typer.Argument(metavar="NEW.yaml", help="The journeys file you propose.")],
    events: Annotated[
        Path | None, typer.Option("--events", "-e", help="Replay this JSON Lines event file (as `simulate` reads).")
    ] = None,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Replay the inputs in the event store (audited, as `explain`).")
    ] = False,
    current: Annotated[Path, typer.Option("--current", help="The journeys in use.", envvar="CARELOOP_JOURNEYS")] = Path(
        "journeys.yaml"
    ),
    since: Annotated[str | None, typer.Option(help="Compare decisions from this date or date-time on.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Run the virtual clock to this date (default: a year after the last event).")
    ] = None,
    patients: Annotated[str | None, typer.Option(help="Only these patients: ID,ID,...")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or html (one self-contained page).")] = "table",
    purpose: Annotated[
        str, typer.Option(help="With --from-store: why you read the patients (the audit trail's).")
    ] = "operations",
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Processes replaying patients side by side (default: one per core).")
    ] = None,
) -> None:
    """What NEW.yaml would change: the messages, tasks, churn flags, exits and completions it adds, removes or moves
    in time compared with the current journeys, over the same history, each with its reason. Totals first."""
    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", 2)
    if (events is None) == (not from_store):
        raise _fail("give the history to replay: --events FILE or --from-store (one of them)", 2)
    before, after = _journeys(current), _journeys(new)
    hospital = ZoneInfo(before.catalog.settings.hospital_timezone)
    start, end = parse_moment("--since", since, hospital), parse_moment("--until", until, hospital)
    wanted = _patients(patients)
    inputs = _from_file(events) if events is not None else _from_store(wanted, purpose)
    if not inputs:
        raise _fail("the history holds no events to replay")
    present = {e.patient_id for e in inputs}
    missing = [p for p in wanted or [] if p not in present]
    if missing:
        raise _fail(f"no events for patient(s) {', '.join(missing)} in the history")
    end = end or max(e.recorded_at for e in inputs) + timedelta(days=365)
    if start is not None and start > end:
        raise _fail(f"--since {since} is after the end of the replay ({end.isoformat()})", 2)
    report = whatif_in_parallel(inputs, before, after, end, start, wanted, jobs or cores())
    if fmt == "json":
        out.print(json.dumps(report.as_json(), ensure_ascii=False, indent=2), markup=False)
    elif fmt == "html":
        from engine.reports.whatif_page import whatif_html

        typer.echo(whatif_html(report, current, new), nl=False)
    else:
        _print(report, current, new)


def _journeys(path: Path) -> Journeys:
    """The file read once: what is checked here is what the pool's processes compile."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise _fail(f"cannot read journeys file {path}: {exc.strerror}; nothing was compared") from exc
    catalog, problems = check_text(text, str(path))
    if catalog is None:
        for p in problems:
            err.print(str(p), markup=False)
        raise _fail(f"{path} has errors; nothing was compared")
    return Journeys(text, str(path), catalog)


def _patients(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [p.strip() for p in value.split(",")]
    if not all(ids):
        raise _fail(f"--patients {value!r}: an empty patient id; expected ID,ID,...", 2)
    return list(dict.fromkeys(ids))


def _from_file(path: Path) -> list[Event]:
    try:
        return read_events(path)
    except EventFileError as exc:
        for p in exc.problems:
            err.print(p, markup=False)
        raise _fail(f"{path}: {len(exc.problems)} invalid event(s); nothing was compared") from exc


def _from_store(patients: list[str] | None, purpose: str) -> list[Event]:
    from engine.cli.access import checked_purpose
    from engine.cli.projections import _database_url
    from engine.cli.whatif_store import stored_inputs

    checked_purpose(purpose)
    return [e for stream in stored_inputs(_database_url(), patients, purpose).values() for e in stream]


def _print(report: WhatIf, current: Path, new: Path) -> None:
    """Plain aligned text: totals per kind, then each difference with its time(s) and reason."""
    window = f"{report.since.isoformat() if report.since else 'the beginning'} to {report.until.isoformat()}"
    out.print(f"what if {new} replaced {current}, decisions from {window}", markup=False)
    out.print(f"  {'':<11}{'current':>8}{'new':>8}{'added':>8}{'removed':>8}{'moved':>8}", markup=False)
    for kind, t in report.totals().items():
        counts = "".join(f"{t[c]:>8}" for c in ("current", "new", "added", "removed", "moved"))
        out.print(f"  {kind:<11}{counts}", markup=False)
    if report.differences:
        out.print("\nby journey", markup=False)
    for journey_id, changed in report.by_journey().items():
        out.print(f"  {journey_id}: " + ", ".join(f"{n} {c}" for c, n in changed.items() if n), markup=False)
    patient = None
    for d in report.differences:
        if d.patient_id != patient:
            patient = d.patient_id
            out.print(f"\npatient {patient}", markup=False)
        times = " -> ".join(t.isoformat(timespec="minutes") for t in (d.current_at, d.new_at) if t is not None)
        out.print(f"  {d.change:<8} {d.kind:<10} {d.journey_id} / {d.step_id or '-'}: {d.what}  {times}", markup=False)
        out.print(f"  {'':<8} why: {d.reason}", markup=False)
        if d.was and d.was != d.reason:
            out.print(f"  {'':<8} was: {d.was}", markup=False)
    if not report.differences:
        out.print("\nno differences", markup=False)


__all__ = ["whatif_command"]
