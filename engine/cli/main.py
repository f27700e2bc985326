"""The `careloop` command. User errors print a clear message and exit non-zero, never a traceback."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from engine.cli.access import audit_app, roles_app
from engine.cli.backfill import backfill_command
from engine.cli.calendar import calendar_app, held_soon
from engine.cli.connect import dlq_app
from engine.cli.consoles import consoles
from engine.cli.deploy import deploy_command
from engine.cli.diff import diff as diff_command
from engine.cli.erase import erase as erase_command
from engine.cli.eventfile import EventFileError, read_events
from engine.cli.family import family_app
from engine.cli.keys import keys_app
from engine.cli.loyalty import loyalty_app
from engine.cli.moments import parse_moment
from engine.cli.outreach import outreach_app, questionnaire_app
from engine.cli.projections import projections_app
from engine.cli.report import report_app
from engine.cli.rollout import rollout_app
from engine.cli.tasks import tasks_app
from engine.cli.timeline import timeline as timeline_command
from engine.cli.whatif import whatif_command
from engine.journeys.catalog import Catalog
from engine.journeys.outline import mermaid, outline
from engine.journeys.schema import journeys_schema
from engine.journeys.simulation import Simulation
from engine.journeys.timeline import Row, timeline
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text, load_catalog
from engine.yamlfile.suggest import did_you_mean
from events.schema import clinical_event_schema, engine_event_schema

app = typer.Typer(no_args_is_help=True, add_completion=False, help="careloop: patient journeys between visits.")
schema_app = typer.Typer(no_args_is_help=True, help="JSON Schemas for integration teams and editors.")
app.add_typer(schema_app, name="schema")
app.add_typer(projections_app, name="projections")
app.add_typer(dlq_app, name="dlq")
app.add_typer(outreach_app, name="outreach")
app.add_typer(questionnaire_app, name="questionnaire")
app.add_typer(tasks_app, name="tasks")
app.add_typer(roles_app, name="roles")
app.add_typer(audit_app, name="audit")
app.command("erase")(erase_command)
app.command("timeline")(timeline_command)
app.command("diff")(diff_command)
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")
app.command("whatif")(whatif_command)
app.command("backfill")(backfill_command)
app.command("deploy")(deploy_command)
app.add_typer(rollout_app, name="rollout")
app.add_typer(loyalty_app, name="loyalty")
app.add_typer(family_app, name="family")
app.add_typer(calendar_app, name="calendar")


@app.command()
def worker() -> None:
    """Run the journey worker (faust) against CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL."""
    from engine.cli import runtime

    runtime.worker()


@app.command()
def dispatch() -> None:
    """Send approved messages through the configured gateways (CARELOOP_DISPATCH__*); the demo inbox by default."""
    from engine.processes.dispatcher import main as run_dispatcher

    raise typer.Exit(run_dispatcher())


MaxMessageBytesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-message-bytes",
        min=1024,
        help="Largest message accepted, and event published, in bytes (default: CARELOOP_MAX_MESSAGE_BYTES, 921600).",
    ),
]


TimezoneOpt = Annotated[
    str | None,
    typer.Option(
        help="IANA zone of times without a UTC offset, for sources without a profile (default Asia/Shanghai)."
    ),
]
CharsetOpt = Annotated[
    str | None,
    typer.Option(help="Character set of HL7 messages without MSH-18 and of CSV specs without one (default utf-8)."),
]
CountryOpt = Annotated[
    str | None, typer.Option(help="ISO 3166 country of phone numbers without a country code (default CN).")
]


@app.command("publish")
def publish_command(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="hl7, fhir or csv.")],
    paths: Annotated[list[Path], typer.Argument(help="Files or directories.")],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Map only: events as JSON Lines on stdout, rejects on stderr; no Kafka, no database."
        ),
    ] = False,
    spec: Annotated[Path | None, typer.Option(help="CSV column mapping (default: the Synthea export).")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Reject file (default: under CARELOOP_DATA_DIR/rejects).")
    ] = None,
    max_message_bytes: MaxMessageBytesOpt = None,
    timezone: TimezoneOpt = None,
    charset: CharsetOpt = None,
    country: CountryOpt = None,
) -> None:
    """Map hospital messages to canonical events and publish them to Kafka, keyed by patient. Per-source profiles
    (time zone, character set, phone country) come from CARELOOP_SOURCES; the options set the default one."""
    from engine.cli.connect import publish

    publish(fmt, paths, dry_run, spec, rejects, max_message_bytes, (timezone, charset, country))


@app.command()
def mllp(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 2575,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    max_message_bytes: MaxMessageBytesOpt = None,
    timezone: TimezoneOpt = None,
    charset: CharsetOpt = None,
    country: CountryOpt = None,
) -> None:
    """Receive HL7 v2 over MLLP; ACK AA once the events are on Kafka, AE/AR with the reason otherwise."""
    from engine.cli.connect import mllp as run_mllp

    run_mllp(host, port, max_message_bytes, (timezone, charset, country))


@app.command("fhir-intake")
def fhir_intake(
    port: Annotated[int, typer.Option(help="HTTP port to listen on.")] = 8085,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    max_message_bytes: MaxMessageBytesOpt = None,
    timezone: TimezoneOpt = None,
    country: CountryOpt = None,
) -> None:
    """Receive FHIR R4 resources and Bundles over HTTP (POST /fhir); 200 once the events are on Kafka."""
    from engine.cli.connect import fhir_intake as run_fhir_intake

    run_fhir_intake(host, port, max_message_bytes, (timezone, None, country))


@app.command()
def webhook(
    port: Annotated[int, typer.Option(help="HTTP port to listen on.")] = 8086,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    max_message_bytes: MaxMessageBytesOpt = None,
) -> None:
    """Receive delivery receipts, replies, questionnaires, consent and pause/resume over HTTP; 202 once on Kafka."""
    from engine.cli.outreach import webhook as run_webhook

    run_webhook(host, port, max_message_bytes)


@app.command("erasure-api")
def erasure_api(
    port: Annotated[int, typer.Option(help="HTTP port to listen on.")] = 8087,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Erase patients over HTTP (POST /patients/PATIENT/erasure), as `careloop erase` does, for the clients of
    CARELOOP_HTTP_CLIENTS; run it under a login in careloop_eraser."""
    from engine.cli.erase import erasure_api as run_erasure_api

    run_erasure_api(host, port)


@app.command("loyalty-api")
def loyalty_api(
    port: Annotated[int, typer.Option(help="HTTP port to listen on.")] = 8088,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """The loyalty desk over HTTP (GET /members/PATIENT, its /ledger, POST its /redemptions and /adjustments) for
    the clients of CARELOOP_HTTP_CLIENTS; run it under a login in careloop_loyalty_desk."""
    from engine.cli.loyalty import loyalty_api as run_loyalty_api

    run_loyalty_api(host, port)


@app.command()
def up(
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes sharing the partitions (at most CARELOOP_PARTITIONS).")
    ] = 1,
    projection_runners: Annotated[
        int,
        typer.Option(
            min=1,
            help="Projection runner processes, each following one group of the projections (`careloop projections "
            "run --group K/N`); more when one runner falls behind the workers.",
        ),
    ] = 1,
) -> None:
    """Start everything on embedded Kafka and PostgreSQL (or CARELOOP_KAFKA_BOOTSTRAP / CARELOOP_DATABASE_URL)."""
    from engine.cli import runtime

    runtime.up(workers, projection_runners)


@app.command()
def demo(
    patients: Annotated[int, typer.Option(help="Synthetic patients.")] = 1000,
    seed: Annotated[int, typer.Option(help="Generator seed: the same seed, the same hospital.")] = 7,
    days: Annotated[int, typer.Option(help="Days of hospital activity.")] = 182,
    step_days: Annotated[int, typer.Option(help="Virtual days per clock step.")] = 7,
    keep: Annotated[bool, typer.Option(help="Keep the previous demo's data instead of starting fresh.")] = False,
) -> None:
    """A synthetic hospital through the live pipeline, accelerated; prints reminders, churn flags and return rates
    by journey and arm."""
    from engine.cli import runtime

    runtime.demo(patients, seed, days, step_days, keep)


@app.command()
def bench(
    workloads: Annotated[
        list[str] | None,
        typer.Argument(
            help="core, whatif, connectors, throughput, rebuild, latency, timers, memory, scaling (default: all)."
        ),
    ] = None,
    quick: Annotated[bool, typer.Option(help="Every workload at reduced size: a smoke run of a few minutes.")] = False,
    scale: Annotated[float, typer.Option(min=0.0001, help="Events through the worker x this.")] = 1.0,
    profile: Annotated[bool, typer.Option(help="Sample the measured processes with py-spy.")] = False,
    workers: Annotated[
        int, typer.Option(min=2, help="Worker processes the scaling workload compares with one worker.")
    ] = 2,
) -> None:
    """Benchmarks with their ceilings: prints a table and writes bench/results/<date>-<machine>.json. Runs
    `python -m bench` in the careloop checkout around the current folder: the benchmarks are not installed."""
    from engine.cli.checkout import run_bench

    args = [*(workloads or []), *(["--quick"] if quick else []), "--scale", str(scale), "--workers", str(workers)]
    raise typer.Exit(run_bench([*args, *(["--profile"] if profile else [])]))


out, err = consoles()

JourneysOpt = Annotated[Path, typer.Option("--journeys", "-j", help="Journeys file.", envvar="CARELOOP_JOURNEYS")]
DEFAULT_JOURNEYS = Path("journeys.yaml")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _catalog(path: Path) -> Catalog:
    try:
        return load_catalog(path)
    except JourneyFileError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False)
        raise _fail(f"{path} has errors; nothing was run") from exc


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Journeys file.")] = DEFAULT_JOURNEYS) -> None:
    """Check a journeys file: every error and warning with file:line:column."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    catalog, problems = check_text(text, str(file))
    for p in problems:
        (out if p.severity == "warning" else err).print(str(p), markup=False)
    if catalog is None:
        errors = sum(p.severity == "error" for p in problems)
        raise _fail(f"{file}: {errors} error(s)")
    for held in held_soon(catalog, date.today()):  # a campaign date this machine's holiday calendar cannot place yet
        out.print(f"{file}: warning: {held}", markup=False)
    journeys = ", ".join(f"{j.id} v{j.version}" for j in catalog.current.values())
    out.print(f"{file}: ok, {len(catalog.current)} journeys ({journeys})")


@app.command()
def show(
    journey: Annotated[str, typer.Argument(help="Journey id.")],
    journeys: JourneysOpt = DEFAULT_JOURNEYS,
    fmt: Annotated[str, typer.Option("--format", help="outline, mermaid or both.")] = "both",
) -> None:
    """A journey as a readable outline and a Mermaid diagram."""
    catalog = _catalog(journeys)
    if journey not in catalog.current:
        hint = did_you_mean(journey, catalog.current) or f" (journeys: {', '.join(catalog.current)})"
        raise _fail(f"no journey {journey!r} in {journeys}{hint}")
    j = catalog.current[journey]
    if fmt not in ("outline", "mermaid", "both"):
        raise _fail(f"--format must be outline, mermaid or both, not {fmt!r}", 2)
    if fmt in ("outline", "both"):
        out.print(outline(j), markup=False)
    if fmt in ("mermaid", "both"):
        out.print(
            ("\n```mermaid\n" if fmt == "both" else "") + mermaid(j) + ("\n```" if fmt == "both" else ""), markup=False
        )


@app.command()
def simulate(
    events: Annotated[Path, typer.Option("--events", "-e", help="JSON Lines file of canonical events.")],
    journeys: JourneysOpt = DEFAULT_JOURNEYS,
    until: Annotated[
        str | None, typer.Option(help="Run the virtual clock to this date (default: a year after the last event).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    patient: Annotated[str | None, typer.Option(help="Only this patient.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show waits and timers.")] = False,
) -> None:
    """Replay an event file through the journeys with a virtual clock; print each patient's timeline."""
    if fmt not in ("table", "json"):
        raise _fail(f"--format must be table or json, not {fmt!r}", 2)
    catalog = _catalog(journeys)
    try:
        stream = read_events(events)
    except EventFileError as exc:
        for p in exc.problems:
            err.print(p, markup=False)
        raise _fail(f"{events}: {len(exc.problems)} invalid event(s); nothing was simulated") from exc
    if not stream:
        raise _fail(f"{events} holds no events")
    hospital = ZoneInfo(catalog.settings.hospital_timezone)
    end = parse_moment("--until", until, hospital) or max(e.recorded_at for e in stream) + timedelta(days=365)
    sim = Simulation(catalog)
    sim.feed(stream)
    sim.run_until(end)
    patients = [p for p in sim.recorded if patient in (None, p)]
    if patient is not None and not patients:
        raise _fail(f"no events for patient {patient!r} in {events}")
    rows = {p: timeline(sim.recorded[p], _zone_of(sim, p, hospital), verbose) for p in patients}
    if fmt == "json":
        _print_json(rows, sim, end)
    else:
        _print_tables(rows, end)


def _zone_of(sim: Simulation, patient_id: str, hospital: ZoneInfo) -> ZoneInfo:
    tz = sim.state(patient_id).profile.timezone
    return ZoneInfo(tz) if tz else hospital


def _print_json(rows: dict[str, list[Row]], sim: Simulation, end: datetime) -> None:
    doc: dict[str, Any] = {
        "until": end.isoformat(),
        "patients": [{"patient_id": p, "timeline": [r.as_json() for r in rs]} for p, rs in rows.items()],
        "summary": _summary(rows),
    }
    out.print(json.dumps(doc, ensure_ascii=False, indent=2), markup=False)


def _summary(rows: dict[str, list[Row]]) -> dict[str, int]:
    kinds = [r.kind for rs in rows.values() for r in rs]
    return {
        "patients": len(rows),
        "messages": kinds.count("message.requested"),
        "tasks": kinds.count("task.created"),
        "churn_flags": kinds.count("churn.flagged"),
        "journeys_started": kinds.count("journey.started"),
    }


def _print_tables(rows: dict[str, list[Row]], end: datetime) -> None:
    """Plain aligned text: readable in a terminal, greppable in a log, stable in a diff."""
    for patient_id, patient_rows in rows.items():
        out.print(f"patient {patient_id}", markup=False)
        for r in patient_rows:
            when = r.at.strftime("%Y-%m-%d %H:%M %z")
            out.print(f"  {when}  {r.journey_id:<26} {r.step_id or '-':<26} {r.kind:<22} {r.detail}", markup=False)
            if r.reason:
                out.print(f"  {'':<22}  why: {r.reason}", markup=False)
    s = _summary(rows)
    out.print(
        f"simulated until {end.isoformat()}: {s['patients']} patients, {s['journeys_started']} journeys started, "
        f"{s['messages']} messages, {s['tasks']} tasks, {s['churn_flags']} churn flags",
        markup=False,
    )


@app.command("explain")
def explain_command(
    patient: Annotated[str, typer.Argument(help="The careloop patient id.")],
    events: Annotated[
        Path | None, typer.Option("--events", "-e", help="Replay this event file instead of reading the store.")
    ] = None,
    journeys: JourneysOpt = DEFAULT_JOURNEYS,
    until: Annotated[str | None, typer.Option(help="With --events: run the virtual clock to this date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
    purpose: Annotated[
        str, typer.Option(help="Why you read the patient: care, operations, audit or erasure (the audit trail's).")
    ] = "care",
) -> None:
    """Why each message was or was not sent: entry, branch, cap, quiet hours, consent, exit, journey version. Read
    from the store, it is recorded in the audit trail first, under your PostgreSQL login."""
    from engine.cli import explain as ex

    catalog = _catalog(journeys)
    if events is None:
        from engine.cli.access import audited
        from engine.cli.projections import _database_url

        audited([patient], "explain", purpose)
        recorded = ex.from_store(patient, _database_url())
    else:
        try:
            stream = read_events(events)
        except EventFileError as exc:
            raise _fail(f"{events}: {len(exc.problems)} invalid event(s): {exc.problems[0]}") from exc
        hospital = ZoneInfo(catalog.settings.hospital_timezone)
        end = parse_moment("--until", until, hospital) or max(e.recorded_at for e in stream) + timedelta(days=365)
        recorded = ex.from_simulation(patient, stream, catalog, end)
    ex.show(patient, recorded, ex.zone_of(recorded, catalog.settings.hospital_timezone), as_json)


@schema_app.command("export")
def schema_export(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the schemas to.")] = Path("docs"),
) -> None:
    """Write events.schema.json, engine-events.schema.json and journeys.schema.json."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, schema in (
            ("events.schema.json", clinical_event_schema()),
            ("engine-events.schema.json", engine_event_schema()),
            ("journeys.schema.json", journeys_schema()),
        ):
            path = out_dir / name
            path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            out.print(f"wrote {path}")
    except OSError as exc:
        raise _fail(f"cannot write schemas to {out_dir}: {exc.strerror}", 2) from exc


def main() -> None:  # pragma: no cover - console entry point wrapper
    app()


if __name__ == "__main__":
    app()
