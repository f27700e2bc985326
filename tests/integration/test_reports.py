"""Every `careloop report` on a demo-like hospital's database, run as an analyst (a login in careloop_analyst, which
reads the analytics views and no table), each number checked against a count worked out here from the hospital's
events, independently of the projections and views.

The hospital (tests/integration/outcomes_db.py): 300 synthetic patients over half a year through the pure core,
with the dispatcher's reports, receipts, replies and staff fed back in, recorded and projected week by week.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo.overlay import Holdout, with_global_holdout
from engine.embedded import EmbeddedPostgres
from engine.language.loader import load_catalog
from engine.reports.goals import goal_outcomes
from engine.store.definitions import deploy
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events.experiments import ExperimentAssigned
from tests.builders import JOURNEYS
from tests.integration.outcomes_db import OutcomesDb, Params, outcomes_db

pytestmark = pytest.mark.integration

STAYS = ("inpatient", "day_surgery")
MISSING = datetime.min.replace(tzinfo=ZoneInfo("UTC"))  # before every moment: a message never approved


@pytest.fixture(scope="module")
def db(postgres: EmbeddedPostgres) -> Iterator[OutcomesDb]:
    with outcomes_db(postgres.url) as built:
        yield built


@pytest.fixture(scope="module")
def world(db: OutcomesDb) -> World:
    return World.of(db)


def report(db: OutcomesDb, *args: str, journeys: Path = JOURNEYS) -> dict[str, Any]:
    """`careloop report ... --format json` under the analyst's login."""
    result = CliRunner().invoke(
        app,
        ["report", *args, "--format", "json", "--journeys", str(journeys)],
        env={"CARELOOP_DATABASE_URL": db.analyst_url},
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# --- the hospital as its events tell it ---------------------------------------------------------------------------


@dataclass
class Encounter:
    cls: str = "other"
    department: str | None = None
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None
    completed_at: datetime | None = None
    disposition: str | None = None
    cancelled: bool = False


@dataclass
class Appointment:
    department: str | None = None
    status: str = "booked"
    attended_at: datetime | None = None


@dataclass
class World:
    now: datetime
    tz: ZoneInfo
    encounters: dict[tuple[str, str], Encounter] = field(default_factory=dict)
    appointments: dict[tuple[str, str], Appointment] = field(default_factory=dict)
    deceased: dict[str, datetime] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, db: OutcomesDb) -> World:
        w = cls(db.now, ZoneInfo(db.catalog.settings.hospital_timezone))
        for e in db.events():
            w.events.append(e)
            w._see(e)
        return w

    def _see(self, e: Any) -> None:
        if isinstance(e, en.EncounterAdmitted | en.EncounterDischarged | en.EncounterCompleted):
            enc = self.encounters.setdefault((e.patient_id, e.encounter_id), Encounter())
            enc.cls, enc.cancelled = e.encounter_class, False
            enc.department = e.department or enc.department
            if isinstance(e, en.EncounterAdmitted):
                enc.admitted_at = e.occurred_at
            elif isinstance(e, en.EncounterDischarged):
                enc.discharged_at = e.occurred_at
                enc.admitted_at = e.admitted_at or enc.admitted_at
                enc.disposition = e.disposition or enc.disposition
            else:
                enc.completed_at = e.occurred_at
        elif isinstance(e, en.EncounterCancelled) and (e.patient_id, e.encounter_id) in self.encounters:
            self.encounters[(e.patient_id, e.encounter_id)].cancelled = True
        elif isinstance(
            e, ap.AppointmentBooked | ap.AppointmentAttended | ap.AppointmentCancelled | ap.AppointmentNoShow
        ):
            appt = self.appointments.setdefault((e.patient_id, e.appointment_id), Appointment())
            appt.department = e.department or appt.department
            if isinstance(e, ap.AppointmentAttended):
                appt.status, appt.attended_at = "attended", e.occurred_at
            elif not isinstance(e, ap.AppointmentBooked):
                appt.status = "other"
        elif isinstance(e, ap.AppointmentRescheduled):
            appt = self.appointments.setdefault((e.patient_id, e.appointment_id), Appointment())
            appt.department, appt.status = e.department or appt.department, "rescheduled"
        elif isinstance(e, pa.PatientDeceased):
            self.deceased[e.patient_id] = e.occurred_at

    def day(self, t: datetime) -> date:
        return t.astimezone(self.tz).date()

    def midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(), self.tz)

    @property
    def today(self) -> date:
        return self.day(self.now)

    def visit_rows(self) -> list[tuple[str, datetime, str | None]]:
        """(patient, when, department) of every stay's discharge, other encounter's end and attended appointment."""
        rows = []
        for (pid, _), enc in self.encounters.items():
            at = enc.discharged_at if enc.cls in STAYS else (enc.completed_at or enc.discharged_at)
            if not enc.cancelled and at is not None:
                rows.append((pid, at, enc.department))
        for (pid, _), appt in self.appointments.items():
            if appt.status == "attended" and appt.attended_at is not None:
                rows.append((pid, appt.attended_at, appt.department))
        return rows

    def visit_days(self) -> dict[str, set[date]]:
        days: dict[str, set[date]] = defaultdict(set)
        for pid, at, _ in self.visit_rows():
            days[pid].add(self.day(at))
        return days

    def visits(self) -> dict[tuple[str, date, str | None], datetime]:
        """One visit per patient, local day and department, at its earliest moment."""
        found: dict[tuple[str, date, str | None], datetime] = {}
        for pid, at, dept in self.visit_rows():
            key = (pid, self.day(at), dept)
            found[key] = min(at, found.get(key, at))
        return found


def returned_within(days: set[date], anchor: date, window: int) -> bool:
    return any(anchor < d <= anchor + timedelta(days=window) for d in days)


# --- revisit.v1 ---------------------------------------------------------------------------------------------------


def expected_revisits(
    w: World, window: int, by_department: bool = False, period: tuple[date, date] | None = None
) -> dict[Any, tuple[int, int, int]]:
    days = w.visit_days()
    counts: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])  # indexes, returned, open
    for (pid, d, dept), at in w.visits().items():
        if at > w.now or (period is not None and not period[0] <= d <= period[1]):
            continue
        c = counts[dept if by_department else None]
        if d + timedelta(days=window) >= w.today:
            c[2] += 1
            continue
        c[0] += 1
        c[1] += returned_within(days[pid], d, window)
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


def test_the_revisit_rate_counts_returns_within_30_days_and_leaves_open_windows_out(
    db: OutcomesDb, world: World
) -> None:
    doc = report(db, "revisit", "--window", "30")
    [row] = doc["rows"]
    indexes, returned, still_open = expected_revisits(world, 30)[None]
    assert (row["indexes"], row["returned"], row["open"]) == (indexes, returned, still_open)
    assert returned > 0 and still_open > 0  # the hospital exercises both
    assert row["rate"] == pytest.approx(returned / indexes, abs=5e-5)
    assert doc["definition"] == "revisit.v1"
    assert doc["as_of"] == db.now.isoformat() or datetime.fromisoformat(doc["as_of"]) == db.now


def test_the_revisit_rate_by_department_adds_up_to_each_departments_own_count(db: OutcomesDb, world: World) -> None:
    doc = report(db, "revisit", "--window", "14", "--by", "department")
    got = {r["department"]: (r["indexes"], r["returned"], r["open"]) for r in doc["rows"]}
    assert got == expected_revisits(world, 14, by_department=True)
    assert len(got) > 3


def test_a_revisit_report_as_of_an_earlier_day_for_a_period_sees_only_what_was_known_then(
    db: OutcomesDb, world: World
) -> None:
    doc = report(db, "revisit", "--as-of", "2026-05-01", "--from", "2026-02-01", "--to", "2026-04-30")
    then = datetime(2026, 5, 1, tzinfo=world.tz)
    assert datetime.fromisoformat(doc["as_of"]) == then
    earlier = World(then, world.tz, world.encounters, world.appointments, world.deceased, world.events)
    [row] = doc["rows"]
    want = expected_revisits(earlier, 30, period=(date(2026, 2, 1), date(2026, 4, 30)))[None]
    assert (row["indexes"], row["returned"], row["open"]) == want
    assert want[2] > 0 and want != expected_revisits(world, 30, period=(date(2026, 2, 1), date(2026, 4, 30)))[None]


def test_rolling_retention_counts_a_return_on_or_after_the_day(db: OutcomesDb, world: World) -> None:
    days = world.visit_days()
    indexes = returned = 0
    for (pid, d, _), _at in world.visits().items():
        if d + timedelta(days=30) < world.today:
            indexes += 1
            returned += any(v >= d + timedelta(days=30) for v in days[pid])
    [row] = report(db, "revisit", "--mode", "on-or-after")["rows"]
    assert (row["indexes"], row["returned"]) == (indexes, returned)


# --- followup.v1 --------------------------------------------------------------------------------------------------


def episodes(w: World) -> dict[tuple[str, datetime], str]:
    """Each discharge's follow-up, by (patient, discharge moment): excluded, open, within_7d, within_30d or missed."""
    rows = w.visit_rows()
    stays = {k: e for k, e in w.encounters.items() if e.cls in STAYS and not e.cancelled}
    found: dict[tuple[str, datetime], str] = {}
    for (pid, eid), e in stays.items():
        if e.discharged_at is None or e.disposition == "changed-to-outpatient":
            continue
        discharged = w.day(e.discharged_at)
        w7, w30 = w.midnight(discharged + timedelta(days=8)), w.midnight(discharged + timedelta(days=31))
        readmitted = any(
            o_pid == pid and o_eid != eid and (t := o.admitted_at or o.discharged_at) is not None
            and e.discharged_at <= t < w30
            for (o_pid, o_eid), o in stays.items()
        )  # fmt: skip
        died = e.disposition == "expired" or (pid in w.deceased and w.deceased[pid] < w30)
        first = min((at for p, at, _ in rows if p == pid and w.day(at) > discharged), default=None)
        if readmitted or died or e.disposition == "transfer":
            found[(pid, e.discharged_at)] = "excluded"
        elif w30 > w.now:
            found[(pid, e.discharged_at)] = "open"
        elif first is not None and first < w7:
            found[(pid, e.discharged_at)] = "within_7d"
        else:
            found[(pid, e.discharged_at)] = "within_30d" if first is not None and first < w30 else "missed"
    return found


def expected_followup(w: World, patients: set[str] | None = None) -> dict[str, int]:
    """followup.v1's counts, of ``patients`` only when given."""
    outcome = Counter(o for (pid, _), o in episodes(w).items() if patients is None or pid in patients)
    closed = outcome["within_7d"] + outcome["within_30d"] + outcome["missed"]
    return {
        "episodes": closed,
        "within_7d": outcome["within_7d"],
        "within_30d": outcome["within_7d"] + outcome["within_30d"],
        "open": outcome["open"],
        "excluded": outcome["excluded"],
    }


def test_followup_within_7_and_30_days_shares_the_closed_episodes_as_denominator(db: OutcomesDb, world: World) -> None:
    [row] = report(db, "followup")["rows"]
    want = expected_followup(world)
    assert {k: row[k] for k in want} == want
    assert want["episodes"] > 20 and want["within_30d"] > 0 and want["open"] > 0 and want["excluded"] > 0


# --- funnel.v1 ----------------------------------------------------------------------------------------------------


def test_the_funnel_counts_each_stage_per_instance_from_the_events(db: OutcomesDb, world: World) -> None:
    started = {e.instance_id: e for e in world.events if isinstance(e, jo.JourneyStarted)}
    of_message = {e.message_id: e.instance_id for e in world.events if isinstance(e, jo.MessageRequested)}
    reached: dict[str, set[str]] = defaultdict(set)
    stage = {jo.MessageRequested: "requested", jo.MessageApproved: "approved", ou.OutreachSent: "sent",
             ou.OutreachDelivered: "delivered", ou.OutreachRead: "read", ou.OutreachReplied: "replied"}  # fmt: skip
    for e in world.events:
        if type(e) in stage and e.message_id in of_message:
            reached[of_message[e.message_id]].add(stage[type(e)])
    goals = goal_outcomes(db.catalog)
    goal_pairs = set(zip(goals["goal_journeys"], goals["goal_outcomes"], strict=True))
    completed = {
        e.instance_id
        for e in world.events
        if isinstance(e, jo.JourneyCompleted) and (e.journey_id, e.outcome) in goal_pairs
    }
    days = world.visit_days()
    want: Counter[str] = Counter(dict.fromkeys(stage.values(), 0))  # a stage nothing reached is checked as 0
    for iid, s in started.items():
        if s.journey_id != "post-op-follow-up":
            continue
        want["entered"] += 1
        for name in reached[iid]:
            want[name] += 1
        want["goal"] += iid in completed
        entry_day = world.day(datetime.fromisoformat(s.entry["occurred_at"]))
        want["revisited"] += returned_within(days[s.patient_id], entry_day, 30)
    [row] = report(db, "funnel", "--journey", "post-op-follow-up")["rows"]
    assert {k: row[k] for k in want} == dict(want)
    assert want["entered"] > 10 and want["replied"] > 0 and want["goal"] > 0


def test_the_funnels_read_stage_counts_instances_read_by_as_of_with_or_without_a_delivery_receipt(
    db: OutcomesDb, world: World
) -> None:
    # The hospital's gateways send no read receipts: read three post-op messages, each of its own instance (as the
    # owner, on the read model), one delivered, one whose delivery receipt never came, one read after as_of.
    started = {e.instance_id for e in world.events if isinstance(e, jo.JourneyStarted)}
    post_op = {
        e.message_id: e.instance_id
        for e in world.events
        if isinstance(e, jo.MessageRequested) and e.journey_id == "post-op-follow-up" and e.instance_id in started
    }
    sent = {e.message_id: e.occurred_at for e in world.events if isinstance(e, ou.OutreachSent)}
    arrived = {e.message_id for e in world.events if isinstance(e, ou.OutreachDelivered | ou.OutreachReplied)}
    delivered = sorted(m for m in post_op if m in sent and m in arrived)
    unreceipted = sorted(m for m in post_op if m in sent and m not in arrived)
    late = next(m for m in delivered if post_op[m] not in {post_op[delivered[0]], post_op[unreceipted[0]]})
    read, unreceipted_read = delivered[0], unreceipted[0]
    reads = {
        read: sent[read] + timedelta(hours=2),
        unreceipted_read: sent[unreceipted_read] + timedelta(minutes=10),
        late: db.now + timedelta(hours=1),
    }
    before = report(db, "funnel", "--journey", "post-op-follow-up")["rows"][0]
    with psycopg.connect(db.url, autocommit=True) as conn:
        for m, when in reads.items():
            conn.execute("UPDATE reminder_queue SET read_at = %s WHERE message_id = %s", (when, m))
        try:
            [row] = report(db, "funnel", "--journey", "post-op-follow-up")["rows"]
        finally:
            conn.execute("UPDATE reminder_queue SET read_at = NULL WHERE message_id = ANY(%s)", (list(reads),))
    assert before["read"] == 0
    assert row == before | {"read": len({post_op[read], post_op[unreceipted_read]})}


# --- experiment.v1 ------------------------------------------------------------------------------------------------


def split_draws(w: World) -> dict[tuple[str, str], list[jo.BranchTaken]]:
    """Every split draw by (experiment, patient), in time order: the first is the patient's assignment."""
    draws: dict[tuple[str, str], list[jo.BranchTaken]] = defaultdict(list)
    for e in sorted((e for e in w.events if isinstance(e, jo.BranchTaken) and e.split), key=lambda e: e.occurred_at):
        split = e.split
        assert split is not None
        draws[(f"{e.journey_id}/{e.step_id}@{split.salt or ''}", e.patient_id)].append(e)
    return draws


def split_arms(w: World, window: int, only: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], list[int]]:
    """Per (experiment, arm): patients, successes (a visit in (entry, entry + window]) and open, each patient on their
    first instance of the split's journey; ``only``: just these (experiment, patient)."""
    entries: dict[tuple[str, str], date] = {}
    for e in sorted((e for e in w.events if isinstance(e, jo.JourneyStarted)), key=lambda e: e.entry["occurred_at"]):
        entries.setdefault((e.patient_id, e.journey_id), w.day(datetime.fromisoformat(e.entry["occurred_at"])))
    days = w.visit_days()
    want: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # patients, successes, open
    for (experiment, pid), (draw, *_) in split_draws(w).items():
        if only is not None and (experiment, pid) not in only:
            continue
        anchor = entries[(pid, draw.journey_id)]
        cell = want[(experiment, draw.branch)]
        if anchor + timedelta(days=window) >= w.today:
            cell[2] += 1
        else:
            cell[0] += 1
            cell[1] += returned_within(days[pid], anchor, window)
    return dict(want)


def test_the_experiment_counts_each_arms_patients_and_returns_on_the_same_clinical_endpoint(
    db: OutcomesDb, world: World
) -> None:
    assigned = Counter((experiment, draws[0].branch) for (experiment, _), draws in split_draws(world).items())
    doc = report(db, "experiment", "--endpoint", "revisit", "--window", "30")
    got = {(r["experiment"], r["arm"]): [r["patients"], r["successes"], r["open"]] for r in doc["rows"]}
    assert got == split_arms(world, 30)
    assert len(got) >= 2 and any(r["holdout"] for r in doc["rows"])
    assert doc["population"] == "itt"
    for experiment, check in doc["sample_ratio"].items():
        assert check["observed"] == {arm: n for (x, arm), n in assigned.items() if x == experiment}
        assert check["p_value"] is not None
    [comparison] = doc["comparisons"]
    assert comparison["verdict"] in ("no detectable difference", "treated higher", "treated lower")
    d = comparison["difference"]
    assert d["low"] <= d["estimate"] <= d["high"]


def test_a_split_drawn_off_its_weights_gives_a_warning_and_no_verdict(db: OutcomesDb) -> None:
    doc = report(db, "experiment")
    [experiment] = doc["sample_ratio"]
    observed = doc["sample_ratio"][experiment]["observed"]
    assert set(observed) == {"holdout", "survey"}
    with psycopg.connect(db.url, autocommit=True) as conn:
        # as the owner: most of the survey arm's assignments gone, as a broken feed would lose them
        conn.execute("CREATE TEMP TABLE kept AS SELECT * FROM experiment_assignments WHERE arm = 'survey'")
        conn.execute(
            "DELETE FROM experiment_assignments WHERE arm = 'survey' AND unit_id IN "
            "(SELECT unit_id FROM experiment_assignments WHERE arm = 'survey' ORDER BY unit_id OFFSET 12)"
        )
        try:
            off = report(db, "experiment")
        finally:
            conn.execute("DELETE FROM experiment_assignments WHERE arm = 'survey'")
            conn.execute("INSERT INTO experiment_assignments SELECT * FROM kept")
    assert off["sample_ratio"][experiment]["mismatch"] is True
    assert [c["verdict"] for c in off["comparisons"]] == [None]
    assert [c["difference"] for c in off["comparisons"]] == [None]
    assert any(n.startswith("WARNING: sample ratio mismatch") for n in off["notes"])
    assert report(db, "experiment")["sample_ratio"][experiment]["observed"] == observed


# --- satisfaction.v1 ----------------------------------------------------------------------------------------------


def test_satisfaction_scores_by_the_journey_that_asked(db: OutcomesDb, world: World) -> None:
    journey_of = {e.message_id: e.journey_id for e in world.events if isinstance(e, jo.MessageRequested)}
    scores: dict[str | None, list[float]] = defaultdict(list)
    for e in world.events:
        if isinstance(e, fi.QuestionnaireCompleted) and e.instrument == "satisfaction" and e.score is not None:
            scores[journey_of.get(e.message_id or "")].append(e.score)
    doc = report(db, "satisfaction", "--by", "journey")
    got = {r["journey"]: (r["responses"], r["mean_score"]) for r in doc["rows"]}
    assert got == {j: (len(s), round(mean(s), 2)) for j, s in scores.items()}
    assert sum(len(s) for s in scores.values()) > 10


# --- cohorts.v1 ---------------------------------------------------------------------------------------------------


def add_months(first: date, months: int) -> date:
    n = first.year * 12 + first.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def test_cohorts_retain_by_calendar_month_and_leave_months_not_over_empty(db: OutcomesDb, world: World) -> None:
    first: dict[str, date] = {}
    for (pid, d, _), _at in sorted(world.visits().items(), key=lambda kv: kv[1]):
        first.setdefault(pid, d)
    days = world.visit_days()
    doc = report(db, "cohorts", "--months", "3")
    for row in doc["rows"]:
        cohort = date.fromisoformat(row["cohort_month"] + "-01")
        members = [p for p, d in first.items() if d.replace(day=1) == cohort]
        m = row["month_offset"]
        month, following = add_months(cohort, m), add_months(cohort, m + 1)
        assert row["patients"] == len(members), row
        if following > world.today:
            assert row["retained"] is None and row["rate"] is None, row
        else:
            kept = sum(any(month <= d < following and d >= first[p] for d in days[p]) for p in members)
            assert row["retained"] == kept, row
    months = {r["cohort_month"] for r in doc["rows"]}
    assert len(months) >= 5 and any(r["retained"] is None for r in doc["rows"])


# --- the analyst's reach ------------------------------------------------------------------------------------------


def test_the_reports_login_reads_no_table_but_the_views(db: OutcomesDb) -> None:
    with psycopg.connect(db.analyst_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM encounters")
        [(n,)] = conn.execute("SELECT count(*) FROM analytics.visits").fetchall()
    assert n > 0


def test_every_report_writes_html_with_its_chart_and_a_png(db: OutcomesDb, tmp_path: Any) -> None:
    for name in ("revisit", "followup", "funnel", "experiment", "satisfaction", "cohorts"):
        page, chart = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
        result = CliRunner().invoke(
            app,
            [
                "report",
                name,
                "--format",
                "html",
                "--out",
                str(page),
                "--chart",
                str(chart),
                "--journeys",
                str(JOURNEYS),
            ],
            env={"CARELOOP_DATABASE_URL": db.analyst_url},
        )
        assert result.exit_code == 0, result.output
        assert "<svg" in page.read_text(encoding="utf-8") and chart.read_bytes().startswith(b"\x89PNG")


# --- a global holdout, on the follow-up endpoint -----------------------------------------------------------------


@pytest.fixture(scope="module")
def holdout_journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_global_holdout(JOURNEYS, tmp_path_factory.mktemp("journeys") / "journeys.yaml", Holdout(share=30))


@pytest.fixture(scope="module")
def held_out(postgres: EmbeddedPostgres, holdout_journeys: Path) -> Iterator[OutcomesDb]:
    with outcomes_db(postgres.url, Params(patients=240, seed=5, journeys=holdout_journeys)) as built:
        yield built


def test_a_global_holdout_is_measured_on_follow_up_of_the_discharge_each_patients_journey_started_from(
    held_out: OutcomesDb,
) -> None:
    world = World.of(held_out)
    arms: dict[str, str] = {}
    for e in world.events:
        if isinstance(e, ExperimentAssigned):
            arms.setdefault(e.patient_id, e.arm)
    starts = sorted(
        (e for e in world.events if isinstance(e, jo.JourneyStarted) and e.journey_id == "post-op-follow-up"),
        key=lambda e: (e.entry["occurred_at"], e.occurred_at),
    )
    anchors: dict[str, datetime] = {}
    for e in starts:
        anchors.setdefault(e.patient_id, datetime.fromisoformat(e.entry["occurred_at"]))
    outcome = episodes(world)
    want: dict[str, Counter[str]] = defaultdict(Counter)
    for pid, entered in anchors.items():
        result = outcome.get((pid, entered), "ineligible")
        result = {"excluded": "ineligible", "within_7d": "success", "within_30d": "success"}.get(result, result)
        want[arms[pid]][result] += 1
    doc = report(held_out, "experiment", "--endpoint", "followup", "--journey", "post-op-follow-up")
    got = {
        r["arm"]: {"success": r["successes"], "missed": r["patients"] - r["successes"], "open": r["open"],
                   "ineligible": r["ineligible"]}
        for r in doc["rows"] if r["experiment"] == "demo-holdout"
    }  # fmt: skip
    assert got == {arm: {k: c[k] for k in ("success", "missed", "open", "ineligible")} for arm, c in want.items()}
    assert set(got) == {"holdout", "treated"} and all(c["success"] + c["missed"] > 3 for c in got.values())
    check = doc["sample_ratio"]["demo-holdout"]
    assert check["observed"] == dict(Counter(arms.values()))
    assert check["expected"]["holdout"] == pytest.approx(0.3 * len(arms))
    [comparison] = [c for c in doc["comparisons"] if c["experiment"] == "demo-holdout"]
    assert comparison["arm"] == "treated" and comparison["journey"] == "post-op-follow-up"


def test_csv_for_sharing_hides_counts_below_the_minimum_and_keeps_the_rest(db: OutcomesDb) -> None:
    full = report(db, "revisit", "--by", "department,sex")
    result = CliRunner().invoke(
        app,
        ["report", "revisit", "--by", "department,sex", "--format", "csv", "--min-cell", "5", "-j", str(JOURNEYS)],
        env={"CARELOOP_DATABASE_URL": db.analyst_url},
    )
    assert result.exit_code == 0, result.output
    shared = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(shared) == len(full["rows"])
    hidden = 0
    for row, whole in zip(shared, full["rows"], strict=True):
        for column in ("indexes", "returned", "open"):
            small = 0 < whole[column] < 5
            hidden += small
            assert row[column] == ("<5" if small else str(whole[column])), (row, whole)
    assert hidden > 0


def test_a_patient_merged_into_another_is_no_unit_of_an_experiment(db: OutcomesDb) -> None:
    before = report(db, "experiment")
    [experiment] = before["sample_ratio"]
    with psycopg.connect(db.url, autocommit=True) as conn:
        [(patient, arm)] = conn.execute(
            "SELECT patient_id, arm FROM experiment_assignments ORDER BY patient_id LIMIT 1"
        ).fetchall()
        conn.execute("UPDATE patient_profiles SET merged_into = 'someone-else' WHERE patient_id = %s", (patient,))
        try:
            after = report(db, "experiment")
        finally:
            conn.execute("UPDATE patient_profiles SET merged_into = NULL WHERE patient_id = %s", (patient,))
    observed = dict(before["sample_ratio"][experiment]["observed"])
    observed[arm] -= 1
    assert after["sample_ratio"][experiment]["observed"] == observed


def test_a_message_approved_in_a_splits_holdout_arm_is_reported_as_leakage(db: OutcomesDb) -> None:
    assert report(db, "experiment")["leakage"] == {}  # the engine sends nothing to a holdout arm
    with psycopg.connect(db.url, autocommit=True) as conn:
        [(patient, instance, journey, experiment_at)] = conn.execute(
            "SELECT patient_id, instance_id, journey_id, assigned_at FROM experiment_assignments "
            "WHERE holdout AND kind = 'journey_split' ORDER BY unit_id LIMIT 1"
        ).fetchall()
        # as the owner: a message the holdout arm's instance should never have had
        conn.execute(
            "INSERT INTO reminder_queue (message_id, patient_id, instance_id, journey_id, step_id, template, channels, "
            "category, due_at, status, updated_at, requested_at, approved_at) VALUES ('leak-1', %s, %s, %s, 'ask', "
            "'t', '{sms}', 'care', %s, 'approved', %s, %s, %s)",
            (patient, instance, journey, *([experiment_at + timedelta(hours=1)] * 4)),
        )
        try:
            doc = report(db, "experiment")
        finally:
            conn.execute("DELETE FROM reminder_queue WHERE message_id = 'leak-1'")
    [(experiment, leak)] = doc["leakage"].items()
    assert leak == {"patients": 1, "messages": 1}
    assert any(n.startswith(f"ERROR: leakage in {experiment}: 1 holdout patient(s)") for n in doc["notes"])


def test_revisits_per_patient_count_each_patients_first_index_visit_once(db: OutcomesDb, world: World) -> None:
    days = world.visit_days()
    first: dict[str, tuple[datetime, date]] = {}
    for (pid, d, _), at in world.visits().items():
        if pid not in first or at < first[pid][0]:
            first[pid] = (at, d)
    want = [0, 0, 0]  # patients, returned, open
    for pid, (_, d) in first.items():
        if d + timedelta(days=30) >= world.today:
            want[2] += 1
        else:
            want[0] += 1
            want[1] += returned_within(days[pid], d, 30)
    [row] = report(db, "revisit", "--unit", "patients")["rows"]
    assert [row["indexes"], row["returned"], row["open"]] == want
    assert want[0] == len(first) - want[2] and want[1] > 0


def test_under_a_global_holdout_a_journey_begun_before_the_draw_is_no_unit(held_out: OutcomesDb) -> None:
    def units(doc: dict[str, Any]) -> int:
        rows = [r for r in doc["rows"] if r["experiment"] == "demo-holdout"]
        return sum(r["patients"] + r["open"] + r["ineligible"] for r in rows)

    before = report(held_out, "experiment")
    with psycopg.connect(held_out.url, autocommit=True) as conn:
        [(patient,)] = conn.execute(
            "SELECT patient_id FROM experiment_assignments WHERE kind = 'global_holdout' ORDER BY patient_id LIMIT 1"
        ).fetchall()
        [(journeys,)] = conn.execute(
            "SELECT count(DISTINCT journey_id) FROM journey_instances WHERE patient_id = %s", (patient,)
        ).fetchall()
        # as the owner: as if the holdout had been configured a year after this patient's journeys began
        conn.execute(
            "UPDATE experiment_assignments SET assigned_at = assigned_at + interval '1 year' WHERE patient_id = %s",
            (patient,),
        )
        try:
            after = report(held_out, "experiment", "--as-of", "2028-01-01")
        finally:
            conn.execute(
                "UPDATE experiment_assignments SET assigned_at = assigned_at - interval '1 year' WHERE patient_id = %s",
                (patient,),
            )
    assert journeys > 0
    assert units(after) == units(report(held_out, "experiment", "--as-of", "2028-01-01")) - journeys
    assert units(report(held_out, "experiment")) == units(before)


# --- exposures, the triggered analysis, the global holdout's leakage ---------------------------------------------


def first_approvals(w: World) -> dict[str, datetime]:
    """Each message's first approval (attempt 1), by message id."""
    found: dict[str, datetime] = {}
    for e in w.events:
        if isinstance(e, jo.MessageApproved) and e.attempt == 1:
            found[e.message_id] = min(e.occurred_at, found.get(e.message_id, e.occurred_at))
    return found


def split_exposures(w: World) -> dict[tuple[str, str], tuple[str, datetime]]:
    """(experiment, patient) -> (arm, first exposure): the treated arm's first message of a drawn instance approved at
    or after that instance's draw; the holdout arm's draw itself (the arm reached)."""
    approved = first_approvals(w)
    requests = [e for e in w.events if isinstance(e, jo.MessageRequested)]
    found = {}
    for key, draws in split_draws(w).items():
        drawn: dict[str, datetime] = {}
        for d in draws:
            drawn.setdefault(d.instance_id, d.occurred_at)
        if draws[0].holdout:
            times = list(drawn.values())
        else:
            times = [approved[r.message_id] for r in requests
                     if r.instance_id in drawn and r.message_id in approved
                     and approved[r.message_id] >= drawn[r.instance_id]]  # fmt: skip
        if times:
            found[key] = (draws[0].branch, min(times))
    return found


def global_exposures(
    w: World, exempt: frozenset[str] = frozenset(), preempt: int = 80
) -> dict[tuple[str, str], tuple[str, datetime]]:
    """(experiment, patient) -> (arm, first exposure): a treated patient's first care or marketing message approved at
    or after the draw, unless of an ``exempt`` journey or at or above the ``preempt`` priority; a held-out patient's
    first message the holdout suppressed, at its request."""
    drawn: dict[str, ExperimentAssigned] = {}
    for e in sorted((e for e in w.events if isinstance(e, ExperimentAssigned)), key=lambda e: e.occurred_at):
        drawn.setdefault(e.patient_id, e)
    approved = first_approvals(w)
    requested = {e.message_id: e for e in w.events if isinstance(e, jo.MessageRequested)}
    held = {e.message_id for e in w.events if isinstance(e, jo.MessageSuppressed) and e.rule == "holdout"}
    times: dict[str, list[datetime]] = defaultdict(list)
    for mid, r in requested.items():
        a = drawn.get(r.patient_id)
        if a is None:
            continue
        if a.holdout and mid in held and r.occurred_at >= a.occurred_at:
            times[r.patient_id].append(r.occurred_at)
        elif (not a.holdout and r.category in ("care", "marketing") and r.journey_id not in exempt
              and r.priority < preempt and approved.get(mid, MISSING) >= a.occurred_at):  # fmt: skip
            times[r.patient_id].append(approved[mid])
    return {(drawn[p].experiment_id, p): (drawn[p].arm, min(t)) for p, t in times.items()}


def exposures_view(db: OutcomesDb) -> Counter[tuple[str, str, datetime]]:
    with psycopg.connect(db.analyst_url, autocommit=True) as conn:
        found = conn.execute("SELECT experiment_id, arm, exposed_at FROM analytics.experiment_exposures").fetchall()
    return Counter(found)


def test_each_patients_first_exposure_to_a_split_is_a_treated_message_or_the_holdout_arm_reached(
    db: OutcomesDb, world: World
) -> None:
    want = split_exposures(world)
    assert exposures_view(db) == Counter((x, arm, at) for (x, _), (arm, at) in want.items())
    arms = Counter(arm for arm, _ in want.values())
    assert arms["holdout"] > 0 and arms["survey"] > 0
    # a patient is exposed once however many instances drew them
    assert len(want) < sum(len(d) for d in split_draws(world).values())


def test_each_patients_first_exposure_to_the_global_holdout_is_an_approved_or_a_suppressed_message(
    held_out: OutcomesDb,
) -> None:
    want = global_exposures(World.of(held_out))
    got = exposures_view(held_out)
    assert +Counter({k: n for k, n in got.items() if k[0] == "demo-holdout"}) == Counter(
        (x, arm, at) for (x, _), (arm, at) in want.items()
    )
    arms = Counter(arm for arm, _ in want.values())
    assert arms["holdout"] > 0 and arms["treated"] > 0


def deployed_with(held_out: OutcomesDb, journeys: Path, target: Path, exempt: list[str], preempt: int) -> None:
    """Deploy ``journeys`` (its global holdout) with ``exempt`` journeys and the ``preempt`` priority, as the worker
    would after the deployer edited them; the same id, salt and share."""
    yaml = YAML()
    doc = yaml.load(journeys.read_text(encoding="utf-8"))
    doc["outreach"]["global_holdout"]["exempt_journeys"] = exempt
    doc["outreach"]["preempt_priority"] = preempt
    with target.open("w", encoding="utf-8") as out:
        yaml.dump(doc, out)
    deploy(held_out.url, load_catalog(target))


def test_the_global_holdouts_exposures_follow_its_recorded_exempt_journeys_and_pre_empt_priority(
    held_out: OutcomesDb, holdout_journeys: Path, tmp_path: Path
) -> None:
    world = World.of(held_out)
    default = global_exposures(world)
    deployed_with(held_out, holdout_journeys, tmp_path / "journeys.yaml", ["post-op-follow-up"], 65)
    try:
        got = exposures_view(held_out)
        recorded = report(held_out, "experiment", "--population", "triggered")  # no holdout in the journeys file
    finally:
        deploy(held_out.url, load_catalog(holdout_journeys))
    want = global_exposures(world, exempt=frozenset({"post-op-follow-up"}), preempt=65)
    assert +Counter({k: n for k, n in got.items() if k[0] == "demo-holdout"}) == Counter(
        (x, arm, at) for (x, _), (arm, at) in want.items()
    )
    # the configuration matters here: post-op's messages and those at priority 70 no longer expose treated patients
    assert Counter(a for a, _ in want.values())["treated"] < Counter(a for a, _ in default.values())["treated"]
    # and the triggered population follows it
    treated = sum(
        r["patients"] + r["open"] for r in recorded["rows"] if r["experiment"] == "demo-holdout" and not r["holdout"]
    )
    assert treated < sum(
        r["patients"] + r["open"]
        for r in report(held_out, "experiment", "--population", "triggered")["rows"]
        if r["experiment"] == "demo-holdout" and not r["holdout"]
    )


def test_the_triggered_population_counts_only_patients_exposed_by_the_reports_moment(
    db: OutcomesDb, world: World
) -> None:
    exposures = split_exposures(world)
    exposed = {key for key, (_, at) in exposures.items() if at <= world.now}
    doc = report(db, "experiment", "--population", "triggered")
    got = {(r["experiment"], r["arm"]): [r["patients"], r["successes"], r["open"]] for r in doc["rows"]}
    assert got == split_arms(world, 30, only=exposed)
    assert doc["population"] == "triggered" and any(n.startswith("triggered:") for n in doc["notes"])
    # the sample-ratio check is the randomisation's: every patient assigned, whatever the population
    assert doc["sample_ratio"] == report(db, "experiment")["sample_ratio"]
    assert all(c["mde"] is None or 0 < c["mde"] < 1 for c in doc["comparisons"])
    # here every treated patient had their survey approved; as the owner, take one patient's approvals back
    experiment, patient = min(key for key, (arm, _) in exposures.items() if arm != "holdout")
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE kept AS SELECT message_id, approved_at FROM reminder_queue WHERE instance_id IN "
            "(SELECT instance_id FROM experiment_assignments WHERE patient_id = %s) AND approved_at IS NOT NULL",
            (patient,),
        )
        conn.execute("UPDATE reminder_queue SET approved_at = NULL WHERE message_id IN (SELECT message_id FROM kept)")
        try:
            fewer = report(db, "experiment", "--population", "triggered")
            itt = report(db, "experiment")
        finally:
            conn.execute(
                "UPDATE reminder_queue r SET approved_at = k.approved_at FROM kept k WHERE k.message_id = r.message_id"
            )
    got = {(r["experiment"], r["arm"]): [r["patients"], r["successes"], r["open"]] for r in fewer["rows"]}
    assert got == split_arms(world, 30, only=exposed - {(experiment, patient)})
    assert got != split_arms(world, 30, only=exposed)
    assert {(r["experiment"], r["arm"]): r["patients"] + r["open"] for r in itt["rows"]} == {
        k: c[0] + c[2] for k, c in split_arms(world, 30).items()
    }


def test_a_held_out_patients_care_message_is_leakage_but_a_pre_empting_or_transactional_one_is_not(
    held_out: OutcomesDb, holdout_journeys: Path
) -> None:
    assert report(held_out, "experiment", journeys=holdout_journeys)["leakage"] == {}
    with psycopg.connect(held_out.url, autocommit=True) as conn:
        [(patient, drawn)] = conn.execute(
            "SELECT patient_id, assigned_at FROM experiment_assignments WHERE kind = 'global_holdout' AND holdout "
            "ORDER BY patient_id LIMIT 1"
        ).fetchall()
        # as the owner: three messages approved after the draw; only the care one at an ordinary priority leaks
        for message, category, priority in (("leak-care", "care", 60), ("leak-urgent", "care", 90),
                                             ("leak-booking", "transactional", 60)):  # fmt: skip
            conn.execute(
                "INSERT INTO reminder_queue (message_id, patient_id, instance_id, journey_id, step_id, template, "
                "channels, category, priority, due_at, status, updated_at, requested_at, approved_at) VALUES "
                "(%s, %s, 'i-leak', 'diabetes-care', 'recheck', 't', '{sms}', %s, %s, %s, 'approved', %s, %s, %s)",
                (message, patient, category, priority, *([drawn + timedelta(days=1)] * 4)),
            )
        try:
            doc = report(held_out, "experiment", journeys=holdout_journeys)
            # a journeys file without the holdout: the configuration the deployment recorded is checked
            recorded = report(held_out, "experiment")
            # switched off (as the owner: the moment a deploy without it would record) before the message: no leak
            conn.execute("UPDATE careloop_experiments SET switched_off_at = %s", (drawn + timedelta(hours=12),))
            switched_off = report(held_out, "experiment")
        finally:
            conn.execute("DELETE FROM reminder_queue WHERE instance_id = 'i-leak'")
            conn.execute("UPDATE careloop_experiments SET switched_off_at = NULL")
    assert doc["leakage"] == {"demo-holdout": {"patients": 1, "messages": 1}}
    assert any(n.startswith("ERROR: leakage in demo-holdout: 1 holdout patient(s)") for n in doc["notes"])
    assert recorded["leakage"] == doc["leakage"]
    assert switched_off["leakage"] == {}


def test_the_experiment_draws_each_arms_time_to_return_as_a_png_that_is_the_same_each_time(
    db: OutcomesDb, tmp_path: Path
) -> None:
    pictures = []
    for n in (1, 2):
        path = tmp_path / f"curve{n}.png"
        report(db, "experiment", "--curve", str(path))
        pictures.append(path.read_bytes())
    assert pictures[0].startswith(b"\x89PNG") and pictures[0] == pictures[1]


# --- --by tier ----------------------------------------------------------------------------------------------------


def test_revisit_followup_funnel_and_cohorts_break_down_by_the_patients_tier(db: OutcomesDb, world: World) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        # as the owner: the synthetic hospital sends no tier, so every third patient is gold, the next silver
        conn.execute(
            "UPDATE patient_profiles p SET tier = CASE n % 3 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' END "
            "FROM (SELECT patient_id, row_number() OVER (ORDER BY patient_id) AS n FROM patient_profiles) o "
            "WHERE o.patient_id = p.patient_id"
        )
        tier: dict[str, str | None] = dict(conn.execute("SELECT patient_id, tier FROM patient_profiles").fetchall())
        try:
            docs = {name: report(db, name, "--by", "tier") for name in ("revisit", "followup", "funnel", "cohorts")}
        finally:
            conn.execute("UPDATE patient_profiles SET tier = NULL")
    assert set(tier.values()) == {"gold", "silver", None}
    days = world.visit_days()
    revisits: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (pid, d, _), at in world.visits().items():
        if at <= world.now:
            cell = revisits[tier.get(pid)]
            if d + timedelta(days=30) >= world.today:
                cell[2] += 1
            else:
                cell[0] += 1
                cell[1] += returned_within(days[pid], d, 30)
    assert {r["tier"]: [r["indexes"], r["returned"], r["open"]] for r in docs["revisit"]["rows"]} == revisits
    for row in docs["followup"]["rows"]:
        want = expected_followup(world, {p for p, t in tier.items() if t == row["tier"]})
        assert {k: row[k] for k in want} == want, row
    assert {r["tier"] for r in docs["followup"]["rows"]} == {"gold", "silver", None}
    entered = Counter(tier.get(e.patient_id) for e in world.events if isinstance(e, jo.JourneyStarted))
    assert {r["tier"]: r["entered"] for r in docs["funnel"]["rows"]} == entered
    first: dict[str, date] = {}
    for (pid, d, _), _at in sorted(world.visits().items(), key=lambda kv: kv[1]):
        first.setdefault(pid, d)
    cohort_sizes = Counter((tier.get(p), d.strftime("%Y-%m")) for p, d in first.items())
    got = {(r["tier"], r["cohort_month"]): r["patients"] for r in docs["cohorts"]["rows"] if r["month_offset"] == 0}
    assert {k: n for k, n in got.items() if n} == cohort_sizes
