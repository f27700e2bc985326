"""The README's main command, `careloop demo`, end to end, and every outcome report on the demo's own tables.

`careloop demo` runs as a command (a child process, its data under the test's folder). It stops its services but
leaves their data, so the test then starts the embedded PostgreSQL again on the demo's data directory (an existing
one is reused, not initialised), makes an analyst login (a member of careloop_analyst and nothing else) and runs
each `careloop report` under it with the demo's own journeys file (the one with its global holdout).

The demo's hospital is deterministic by seed, so the test generates its clinical events again, with the same
behavioural model the demo builds, and counts in Python, from those events alone, what the revisit, follow-up,
experiment, satisfaction and cohort reports must say; the funnel is checked against the storylines' entries and
the order its stages imply.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo.behaviour import EFFECTS, Behaviour
from engine.demo.hospital import DEFAULT_START, generate
from engine.embedded import EmbeddedPostgres
from engine.journeys.assignment import in_global_holdout
from engine.journeys.catalog import Catalog
from engine.language.loader import load_catalog
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events.base import Event
from tests.demo_storylines import STAYS, enters, is_visit
from tests.integration.access.conftest import as_login

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PATIENTS, SEED, DAYS = 300, 7, 120
ANALYST = "demo_analyst"
GLOBAL = [j for j, e in EFFECTS.items() if e.experiment == "global_holdout"]
# Halfway through the hospital's activity: some windows are still open then.
MIDWAY = (DEFAULT_START + timedelta(days=DAYS // 2, hours=12)).isoformat()


@dataclass(frozen=True)
class Demo:
    result: subprocess.CompletedProcess[str]
    seconds: float
    leftovers: list[int]  # processes started by the demo still alive after it exited
    analyst_url: str
    journeys: Path  # the demo's overlay: the shipped journeys with its global holdout
    catalog: Catalog
    events: list[Event]  # the hospital's clinical events, generated again
    tz: ZoneInfo  # the hospital's, which the reports' dates are in

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("demo-data")
    started = time.monotonic()
    result = run_demo(data)
    seconds = time.monotonic() - started
    leftovers = still_running(data)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    journeys = data / "demo" / "journeys.yaml"
    catalog = load_catalog(journeys)
    events = generate(patients=PATIENTS, seed=SEED, days=DAYS, behaviour=Behaviour.of(catalog))
    tz = ZoneInfo(catalog.settings.hospital_timezone)
    # The demo's own database: the data directory it left, under a server of the test's (stopped on leaving).
    with EmbeddedPostgres(data / "demo" / "postgres") as postgres:
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {ANALYST} LOGIN")
            conn.execute(f"GRANT careloop_analyst TO {ANALYST}")
        analyst = as_login(postgres.url, ANALYST)
        yield Demo(result, seconds, leftovers, analyst, journeys, catalog, events, tz)


def run_demo(data: Path) -> subprocess.CompletedProcess[str]:
    """`careloop demo` as a command, on the embedded services, with the shipped journeys; no CARELOOP_* setting of
    the caller's (an external database, say) reaches it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_")}
    env |= {"CARELOOP_DATA_DIR": str(data), "CARELOOP_JOURNEYS": str(ROOT / "journeys.yaml")}
    argv = [sys.executable, "-m", "engine.cli.main", "demo", "--patients", str(PATIENTS), "--seed", str(SEED)]
    argv += ["--days", str(DAYS)]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def still_running(data: Path, grace: float = 10.0) -> list[int]:
    """Processes whose environment names ``data`` as their data folder (each child of the demo inherits it)."""
    deadline = time.monotonic() + grace
    while True:
        found = [pid for pid in _pids() if _data_dir_of(pid).startswith(str(data))]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _data_dir_of(pid: int) -> str:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone meanwhile, or another user's
        return ""
    found = [e for e in environ if e.startswith(b"CARELOOP_DATA_DIR=")]
    return found[0].split(b"=", 1)[1].decode(errors="replace") if found else ""


def report(demo: Demo, name: str, *args: str) -> dict[str, Any]:
    """`careloop report NAME ... --format json` under the analyst's login, with the demo's journeys file."""
    env = {"CARELOOP_DATABASE_URL": demo.analyst_url, "CARELOOP_JOURNEYS": str(demo.journeys)}
    result = CliRunner().invoke(app, ["report", name, *args, "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["rows"], document
    return document


def as_of(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["as_of"])


# --- the hospital, counted from its clinical events ---------------------------------------------------------------


def visits(demo: Demo) -> dict[tuple[str, date, str], datetime]:
    """One visit per patient, local day and department, at its earliest moment (as analytics.visits has them): a
    stay's discharge, another encounter's completion, an attended appointment."""
    out: dict[tuple[str, date, str], datetime] = {}
    for e in demo.events:
        if not isinstance(e, (en.EncounterDischarged, en.EncounterCompleted, ap.AppointmentAttended)) or not is_visit(
            e
        ):
            continue
        key = (e.patient_id, demo.day(e.occurred_at), e.department or "")
        out[key] = min(out.get(key, e.occurred_at), e.occurred_at)
    return out


def visit_days(demo: Demo) -> dict[str, list[date]]:
    days: dict[str, list[date]] = defaultdict(list)
    for patient_id, day, _ in visits(demo):
        days[patient_id].append(day)
    return days


def first_after(days: Iterable[date], day: date) -> date | None:
    return min((d for d in days if d > day), default=None)


def revisits(demo: Demo, moment: datetime, window: int = 30) -> dict[str, int]:
    """revisit.v1: each visit up to ``moment`` is an index; its window open while index day + window has not
    passed; returned if the first visit on a later day falls within the window."""
    today, days = demo.day(moment), visit_days(demo)
    counts = {"indexes": 0, "returned": 0, "open": 0}
    for (patient_id, day, _), at in visits(demo).items():
        if at > moment:
            continue
        if day + timedelta(days=window) >= today:
            counts["open"] += 1
            continue
        counts["indexes"] += 1
        after = first_after(days[patient_id], day)
        counts["returned"] += after is not None and after <= day + timedelta(days=window)
    return counts


def stays(demo: Demo) -> list[en.EncounterDischarged]:
    found = [e for e in demo.events if isinstance(e, en.EncounterDischarged) and e.encounter_class in STAYS]
    ids = [(e.patient_id, e.encounter_id) for e in found]
    assert len(ids) == len(set(ids)), "the count below takes each stay to be discharged once"
    return found


def followups(demo: Demo, moment: datetime) -> dict[str, int]:
    """followup.v1 (fuh): each stay discharged by ``moment``; excluded if readmitted within its 30-day window (the
    hospital sends no disposition or death); open until the 31st day after the discharge day begins; followed up
    by the first visit on a later day within 7 and 30 days."""
    today, days, all_stays = demo.day(moment), visit_days(demo), stays(demo)
    counts = {"episodes": 0, "within_7d": 0, "within_30d": 0, "open": 0, "excluded": 0}
    for stay in all_stays:
        if stay.occurred_at > moment:
            continue
        day = demo.day(stay.occurred_at)
        closes = datetime.combine(day + timedelta(days=31), datetime.min.time(), demo.tz)
        if any(
            o.patient_id == stay.patient_id and o is not stay and stay.occurred_at <= o.occurred_at < closes
            for o in all_stays
        ):
            counts["excluded"] += 1
        elif day + timedelta(days=31) > today:
            counts["open"] += 1
        else:
            counts["episodes"] += 1
            after = first_after(days[stay.patient_id], day)
            counts["within_7d"] += after is not None and after <= day + timedelta(days=7)
            counts["within_30d"] += after is not None and after <= day + timedelta(days=30)
    return counts


def entries(demo: Demo, journey_id: str) -> dict[str, Event]:
    """Each patient's first entry event of the journey's storyline."""
    first: dict[str, Event] = {}
    for e in sorted(demo.events, key=lambda e: e.occurred_at):
        if enters(e, journey_id):
            first.setdefault(e.patient_id, e)
    return first


def arms(demo: Demo, journey_id: str, moment: datetime) -> dict[bool, dict[str, int]]:
    """experiment.v1 for the global holdout, per arm (held out or not): patients whose window closed by ``moment``
    (the open ones apart), and those of them back on a later day within the journey's window."""
    config = demo.catalog.outreach.global_holdout
    assert config is not None
    window = EFFECTS[journey_id].window_days
    today, days = demo.day(moment), visit_days(demo)
    out = {held: {"patients": 0, "successes": 0, "open": 0} for held in (True, False)}
    for patient_id, entry in entries(demo, journey_id).items():
        arm = out[in_global_holdout(patient_id, config)]
        day = demo.day(entry.occurred_at)
        if day + timedelta(days=window) >= today:  # a follow-up's 30-day window closes at the 31st day's start
            arm["open"] += 1
            continue
        after = first_after(days[patient_id], day)
        arm["patients"] += 1
        arm["successes"] += after is not None and after <= day + timedelta(days=window)
    return out


def satisfaction(demo: Demo, moment: datetime) -> dict[str, Any]:
    scores = {
        e.response_id: (e.patient_id, e.score)
        for e in demo.events
        if isinstance(e, fi.QuestionnaireCompleted) and e.instrument == "satisfaction" and e.occurred_at <= moment
    }
    values = [float(s) for _, s in scores.values() if s is not None]
    return {
        "responses": len(scores),
        "patients": len({p for p, _ in scores.values()}),
        "mean_score": round(statistics.mean(values), 2),
        "median_score": statistics.median(values),
        "min_score": min(values),
        "max_score": max(values),
    }


def cohorts(demo: Demo, moment: datetime, months: int = 6) -> dict[tuple[str, int], tuple[int, int | None]]:
    """cohorts.v1 (first visit): per cohort month and offset, the cohort's patients and those with a visit in the
    month ``offset`` months after it; None while that month has not ended by ``moment``."""
    today = demo.day(moment)
    seen: dict[str, list[tuple[datetime, date]]] = defaultdict(list)
    for (patient_id, day, _), at in visits(demo).items():
        if at <= moment:
            seen[patient_id].append((at, day))
    cohort = {p: _month(min(v)[1]) for p, v in seen.items()}
    hits = {(p, _months_between(cohort[p], d)) for p, v in seen.items() for _, d in v if d >= min(v)[1]}
    out: dict[tuple[str, int], tuple[int, int | None]] = {}
    month = min(cohort.values())
    while month <= max(cohort.values()):
        members = [p for p, c in cohort.items() if c == month]
        for offset in range(months + 1):
            ended = _add_months(month, offset + 1) <= today
            retained = sum((p, offset) in hits for p in members) if ended else None
            out[(f"{month:%Y-%m}", offset)] = (len(members), retained)
        month = _add_months(month, 1)
    return out


def _month(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, n: int) -> date:
    years, index = divmod(month.month - 1 + n, 12)
    return date(month.year + years, index + 1, 1)


def _months_between(month: date, day: date) -> int:
    return (day.year - month.year) * 12 + day.month - month.month


# --- the command ------------------------------------------------------------------------------------------------


def test_the_demo_exits_zero_says_live_equals_simulate_and_leaves_no_process_running(demo: Demo) -> None:
    assert demo.result.returncode == 0
    assert re.search(
        rf"live pipeline vs `careloop simulate` on the same events: identical for {PATIENTS} patients",
        demo.result.stdout,
    ), demo.result.stdout[-2000:]
    assert demo.leftovers == [], "the demo's services and workers must be stopped when it exits"


def closing_block(demo: Demo) -> dict[str, list[str]]:
    """The closing block's lines per journey (a journey's line starts its block)."""
    text = demo.result.stdout
    assert "return by journey and arm (careloop report experiment" in text, text[-2000:]
    block = text.split("return by journey and arm", 1)[1].split("live pipeline vs", 1)[0]
    out: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines():
        if m := re.match(r"  (\S+)  \(", line):
            current = m.group(1)
            out[current] = []
        elif current is not None and line.startswith("    "):
            out[current].append(line.strip())
    return out


def test_the_closing_block_names_each_journey_with_a_known_effect_beside_its_truth(demo: Demo) -> None:
    block = closing_block(demo)

    assert list(block) == list(EFFECTS)
    for journey_id, effect in EFFECTS.items():
        assert any(line.startswith("treated - holdout") for line in block[journey_id]), block[journey_id]
        assert any(f"the model's true effect {effect.true_effect:+.3f}" in line for line in block[journey_id])


@pytest.mark.parametrize("journey_id", GLOBAL)
def test_the_closing_blocks_counts_are_the_hospitals_own(demo: Demo, journey_id: str) -> None:
    moment = as_of(report(demo, "revisit"))  # the demo's clock, which its closing block was as of
    expected = arms(demo, journey_id, moment)

    printed = {
        kind == "holdout": (int(back), int(of))
        for kind, back, of in re.findall(
            r"\((treated|holdout)\)\s+(\d+) of (\d+)", "\n".join(closing_block(demo)[journey_id])
        )
    }

    assert printed == {held: (a["successes"], a["patients"]) for held, a in expected.items()}


# --- each report on the demo's tables, under an analyst's login --------------------------------------------------


def test_the_analyst_login_reads_the_analytics_views_and_no_table_of_careloops(demo: Demo) -> None:
    with psycopg.connect(demo.analyst_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.visits").fetchone() != (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM encounters")


@pytest.mark.parametrize("moment", [None, MIDWAY], ids=["at-the-demos-clock", "midway"])
def test_the_revisit_report_counts_what_the_hospitals_events_say(demo: Demo, moment: str | None) -> None:
    document = report(demo, "revisit", *(["--as-of", moment] if moment else []))

    [row] = document["rows"]
    assert {k: row[k] for k in ("indexes", "returned", "open")} == revisits(demo, as_of(document))
    assert row["indexes"] > 0 and row["returned"] > 0
    if moment:
        assert row["open"] > 0, "midway, the latest visits' windows are open"


@pytest.mark.parametrize("moment", [None, MIDWAY], ids=["at-the-demos-clock", "midway"])
def test_the_followup_report_counts_what_the_hospitals_events_say(demo: Demo, moment: str | None) -> None:
    document = report(demo, "followup", *(["--as-of", moment] if moment else []))

    [row] = document["rows"]
    expected = followups(demo, as_of(document))
    assert {k: row[k] for k in expected} == expected
    assert row["episodes"] > 0 and row["within_30d"] > 0
    if moment:
        assert row["open"] > 0


@pytest.mark.parametrize("journey_id", GLOBAL)
def test_the_experiment_report_counts_each_arm_of_the_global_holdout_as_the_hospitals_events_say(
    demo: Demo, journey_id: str
) -> None:
    effect = EFFECTS[journey_id]
    holdout = demo.catalog.outreach.global_holdout
    assert holdout is not None
    args = ["--experiment", holdout.id, "--journey", journey_id, "--endpoint", effect.endpoint]

    document = report(demo, "experiment", *args, "--window", str(effect.window_days))

    got = {
        row["holdout"]: {"patients": row["patients"], "successes": row["successes"], "open": row["open"]}
        for row in document["rows"]
        if row["journey"] == journey_id
    }
    assert got == arms(demo, journey_id, as_of(document))
    # Each patient of a storyline with an effect lives that storyline alone: one surgery, never readmitted.
    assert all(row["ineligible"] == 0 for row in document["rows"])
    assert document["sample_ratio"][holdout.id]["mismatch"] is False


def test_the_funnel_enters_each_storylines_patients_and_its_stages_narrow(demo: Demo) -> None:
    document = report(demo, "funnel", "--by", "journey")

    rows = {row["journey"]: row for row in document["rows"]}
    for journey_id in GLOBAL:  # one entry per patient of these storylines, each into one instance
        assert rows[journey_id]["entered"] == len(entries(demo, journey_id)), rows[journey_id]
    for row in rows.values():
        assert row["entered"] >= row["requested"] >= row["approved"] >= row["sent"], row
        assert row["entered"] >= max(row[s] for s in ("delivered", "read", "replied", "goal_or_revisit")), row
        assert row["goal_or_revisit"] >= max(row["goal"], row["revisited"]), row
    assert sum(row["sent"] for row in rows.values()) > 0


def test_the_satisfaction_report_scores_the_hospitals_questionnaires(demo: Demo) -> None:
    document = report(demo, "satisfaction")

    [row] = document["rows"]
    assert row == satisfaction(demo, as_of(document))


@pytest.mark.parametrize("moment", [None, MIDWAY], ids=["at-the-demos-clock", "midway"])
def test_the_cohorts_report_counts_each_first_visit_months_returns(demo: Demo, moment: str | None) -> None:
    document = report(demo, "cohorts", *(["--as-of", moment] if moment else []))

    got = {(r["cohort_month"], r["month_offset"]): (r["patients"], r["retained"]) for r in document["rows"]}
    assert got == cohorts(demo, as_of(document))
    assert any(retained is None for _, retained in got.values()), "the latest months have not ended"
