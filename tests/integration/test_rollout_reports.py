"""A staged rollout in the reports (issue 16): post-op-follow-up v3 (its day-3 message on day 2) drawn for 20 % of
new entries over v2 from 2026-03-01, recorded in the journey store, followed by the projection runner and read by an
analyst's login through `careloop report`.

The hospital: 300 patients discharged after surgery over six weeks, decided by the pure core under three
deployments (the journeys file without its rollout from the epoch; with it from ROLLOUT_AT, so each start from then
carries the core's draw; and from MOVED_AT the same, moving running v2 instances to v3 where they wait at a step v3
leaves unchanged: journey.migrated, else journey.version_kept). A few patients had an earlier stay, before the
rollout, with a return visit (their first post-op instance, on no draw). Candidates come back within 30 days more
often than the stable arm (a fixed pattern by the patient's number and arm: the numbers are checked, not the
effect). Every expected count is worked out here from the events, never from the read models.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psycopg
import pytest
from psycopg import sql
from ruamel.yaml import YAML
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from engine.cli.main import app
from engine.embedded import EmbeddedPostgres
from engine.journeys.assignment import bucket
from engine.journeys.catalog import Catalog
from engine.journeys.deployments import Directive
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from engine.plumbing.clock import set_database_clock
from engine.reports.base import Query
from engine.reports.experiment import ReportRefusedError, run_experiment
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import deploy
from events import findings as fi
from events import journey as jo
from events.base import Event
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import JOURNEYS, SHANGHAI, at, discharge, event, visit
from tests.integration.access.conftest import as_login
from tests.integration.analysts_hospital import Recorder
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.integration

JOURNEY = "post-op-follow-up"
SALT, SHARE_BP = "post-op-v3-2026", 2_000
EXPERIMENT = f"{JOURNEY}@v3/{SALT}"
ROLLOUT_AT = at("2026-03-01 00:00")
MOVED_AT = at("2026-03-25 09:00")  # a deployment moves running v2 instances to v3 where they wait at the same step
NOW = at("2026-06-01 09:00")  # every 30-day window of the hospital has ended
PATIENTS = [f"P-rollout-{n:03d}" for n in range(300)]
EARLIER = PATIENTS[::15]  # an earlier stay, before the rollout began, with a return visit


def rollout_file(folder: Path) -> Path:
    """journeys.yaml with post-op-follow-up v3 beside v2 (the day-3 message on day 2) and its rollout to 20 %."""
    yaml = YAML()
    doc = yaml.load(JOURNEYS.read_text(encoding="utf-8"))
    v2 = next(j for j in doc["journeys"] if j["id"] == JOURNEY)
    v3 = copy.deepcopy(v2)
    v3["version"] = 3
    v3["steps"][0]["wait"]["offset"] = "2d"
    doc["journeys"].append(v3)
    doc["deployment"] = {"rollouts": [{"journey": JOURNEY, "version": 3, "share": SHARE_BP / 100, "salt": SALT}]}
    path = folder / "journeys.yaml"
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(doc, out)
    return path


def rollout_catalog(path: Path) -> Catalog:
    """The file's journeys under three deployments: no rollout until ROLLOUT_AT, the file's rollout from then, and
    from MOVED_AT the same with running v2 instances moved to v3 where their step means the same there."""
    loaded = load_catalog(path)
    (with_rollout,) = loaded.deployments
    before = replace(with_rollout, rollouts=MappingProxyType({}))
    rollout = replace(with_rollout, deployment_id=1, kind="deploy", effective_at=ROLLOUT_AT)
    move = Directive(JOURNEY, (2,), 3, "move", MappingProxyType({}))
    moving = replace(rollout, deployment_id=2, effective_at=MOVED_AT, directives=(move,))
    return loaded.with_deployments((before, rollout, moving))


def arm_of(patient: str) -> str:
    """The arm the rollout draws for the patient (the core's draw, engine/journeys/deployments.Rollout.draw)."""
    return "candidate" if bucket(SALT, patient, JOURNEY, "rollout", modulus=10_000) < SHARE_BP else "stable"


def clinical(n: int, patient: str) -> list[Event]:
    """A discharge after surgery; a return visit 10 days later for 60 % of candidates and 40 % of the stable arm
    (by the patient's number), else for some one 45 days later, outside the window."""
    discharged = at("2026-03-02 10:00") + timedelta(days=n % 42, hours=n % 5)
    events: list[Event] = [discharge(patient, discharged, encounter_id=f"E-{n}")]
    back = n % 10 < (6 if arm_of(patient) == "candidate" else 4)
    if back or n % 3 == 0:
        events.append(visit(patient, discharged + timedelta(days=10 if back else 45), encounter_id=f"V-{n}"))
    if patient in EARLIER:  # a stay before the rollout, and a return within its window
        early = at("2026-01-05 10:00") + timedelta(days=n % 7)
        events += [discharge(patient, early, encounter_id=f"E-early-{n}"), visit(patient, early + timedelta(days=5))]
    return events


@dataclass(frozen=True)
class Rollout:
    url: str  # the owner's
    analyst_url: str
    journeys: Path
    events: list[Event]

    def of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def decided(catalog: Catalog, inputs: list[Event]) -> dict[str, list[Event]]:
    sim = Simulation(catalog)
    sim.feed(sorted(inputs, key=lambda e: e.recorded_at))
    sim.run_until(NOW)
    return dict(sim.recorded)


def answers(recorded: dict[str, list[Event]]) -> list[Event]:
    """Every other patient answers a satisfaction questionnaire two hours after their day-7 rehab message, linked to
    it (the questionnaire's message_id), so the satisfaction report has post-op answers of both versions."""
    found: list[Event] = []
    for n, patient in enumerate(PATIENTS):
        for m in recorded.get(patient, []):
            if n % 2 == 0 and isinstance(m, jo.MessageRequested) and m.step_id == "day-7-rehab":
                when = m.occurred_at + timedelta(hours=2)
                found.append(
                    event(
                        fi.QuestionnaireCompleted,
                        patient,
                        when,
                        response_id=f"R-{n}",
                        instrument="satisfaction",
                        score=n % 11,
                        message_id=m.message_id,
                    )
                )
    return found


@pytest.fixture(scope="module")
def rollout(postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollout]:
    journeys = rollout_file(tmp_path_factory.mktemp("rollout"))
    catalog = rollout_catalog(journeys)
    inputs = [e for n, p in enumerate(PATIENTS) for e in clinical(n, p)]
    recorded = decided(catalog, inputs)
    recorded = decided(catalog, inputs + answers(recorded))  # the same decisions, and the answers to day-7 messages
    analyst = f"analyst_{uuid.uuid4().hex[:10]}"
    with scratch_database(postgres.url, "it_rollout") as url:
        store = JourneyStore(postgres_env(url))
        try:
            _record(url, store, catalog, recorded)
            applied = CliRunner().invoke(app, ["roles", "apply"], env={"CARELOOP_DATABASE_URL": url})
            assert applied.exit_code == 0, applied.output
            deploy(url, load_catalog(journeys))  # the value sets and the hospital's time zone the views read
            with psycopg.connect(url, autocommit=True) as conn:
                set_database_clock(conn, NOW)
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE careloop_analyst").format(sql.Identifier(analyst)))
            yield Rollout(url, as_login(url, analyst), journeys, [e for h in recorded.values() for e in h])
        finally:
            store.close()
            with psycopg.connect(postgres.url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(analyst)))


def _record(url: str, store: JourneyStore, catalog: Catalog, recorded: dict[str, list[Event]]) -> None:
    sim = Simulation(catalog)
    sim.recorded.update(recorded)  # what the Recorder reads: each patient's history
    with Runner(url, StoreSource(store), PROJECTIONS) as runner:
        Recorder(store)(sim)
        runner.catch_up()
        assert set(runner.lag().values()) == {0}


def report(db: Rollout, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["report", *args, "--format", "json", "--journeys", str(db.journeys)],
        env={"CARELOOP_DATABASE_URL": db.analyst_url},
    )
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- the rollout as its events tell it -----------------------------------------------------------------------------


def draws(db: Rollout) -> dict[str, jo.JourneyStarted]:
    """Each patient's first drawn start."""
    first: dict[str, jo.JourneyStarted] = {}
    for s in sorted(db.of(jo.JourneyStarted), key=lambda s: s.occurred_at):
        if s.rollout is not None:
            first.setdefault(s.patient_id, s)
    return first


def returned_within_30_days(db: Rollout, start: jo.JourneyStarted) -> bool:
    entry = local_day(datetime.fromisoformat(start.entry["occurred_at"]))
    visits = {local_day(e.occurred_at) for e in db.events if e.patient_id == start.patient_id and e.type in VISITS}
    return any(entry < d <= entry + timedelta(days=30) for d in visits)


VISITS = ("encounter.completed", "encounter.discharged")


def expected_arms(db: Rollout) -> dict[str, tuple[int, int]]:
    """(successes, patients) per arm."""
    units, successes = Counter[str](), Counter[str]()
    for start in draws(db).values():
        assert start.rollout is not None
        units[start.rollout.arm] += 1
        successes[start.rollout.arm] += returned_within_30_days(db, start)
    return {arm: (successes[arm], units[arm]) for arm in units}


# --- the experiment report -----------------------------------------------------------------------------------------


def test_the_rollout_is_an_experiment_whose_arms_are_the_patients_drawn_and_who_came_back(rollout: Rollout) -> None:
    doc = report(rollout, "experiment", "--experiment", EXPERIMENT, "--window", "30")

    got = {r["arm"]: r for r in doc["rows"]}
    assert {arm: (r["successes"], r["patients"]) for arm, r in got.items()} == expected_arms(rollout)
    assert {arm: r["holdout"] for arm, r in got.items()} == {"candidate": False, "stable": True}
    assert {r["experiment"] for r in doc["rows"]} == {EXPERIMENT}
    assert {r["journey"] for r in doc["rows"]} == {JOURNEY}
    assert all(r["open"] == 0 and r["ineligible"] == 0 for r in doc["rows"])


def test_each_arm_has_its_wilson_interval_and_the_difference_is_candidate_minus_stable(rollout: Rollout) -> None:
    doc = report(rollout, "experiment", "--experiment", EXPERIMENT)
    arms = expected_arms(rollout)

    for row in doc["rows"]:
        successes, units = arms[row["arm"]]
        low, high = proportion_confint(successes, units, alpha=0.05, method="wilson")
        assert (row["rate"], row["low"], row["high"]) == pytest.approx((successes / units, low, high))
    (comparison,) = doc["comparisons"]
    (c_s, c_n), (s_s, s_n) = arms["candidate"], arms["stable"]
    assert comparison["arm"] == "candidate"
    assert comparison["difference"]["estimate"] == pytest.approx(c_s / c_n - s_s / s_n)
    assert comparison["difference"]["low"] < comparison["difference"]["estimate"] < comparison["difference"]["high"]


def test_the_sample_ratio_check_holds_the_drawn_arms_against_the_rollout_share(rollout: Rollout) -> None:
    doc = report(rollout, "experiment", "--experiment", EXPERIMENT)
    counts = Counter(s.rollout.arm for s in draws(rollout).values() if s.rollout is not None)
    total = sum(counts.values())

    check = doc["sample_ratio"][EXPERIMENT]
    assert check["observed"] == dict(counts)
    assert check["expected"] == pytest.approx({"candidate": total * 0.2, "stable": total * 0.8})
    assert check["mismatch"] is False
    assert counts["candidate"] > 0 and counts["stable"] > 0


def test_a_patient_in_the_journey_before_the_rollout_is_measured_from_the_instance_drawn(rollout: Rollout) -> None:
    doc = report(rollout, "experiment", "--experiment", EXPERIMENT)
    drawn_arm = {p: s.rollout.arm for p, s in draws(rollout).items() if s.rollout is not None}
    first: dict[str, jo.JourneyStarted] = {}  # each drawn patient's first post-op instance, drawn or not
    for s in sorted(rollout.of(jo.JourneyStarted), key=lambda s: s.occurred_at):
        if s.journey_id == JOURNEY and s.patient_id in drawn_arm:
            first.setdefault(s.patient_id, s)
    from_first = Counter(drawn_arm[p] for p, s in first.items() if returned_within_30_days(rollout, s))

    got = {r["arm"]: r["successes"] for r in doc["rows"]}
    assert got == {arm: successes for arm, (successes, _) in expected_arms(rollout).items()}
    assert got != dict(from_first)  # the earlier stays' returns would count, were the anchor the first instance


def test_the_triggered_population_is_refused_for_a_rollout(rollout: Rollout) -> None:
    query = Query(options={"experiment": EXPERIMENT, "population": "triggered"})

    with psycopg.connect(rollout.analyst_url) as conn, pytest.raises(ReportRefusedError) as refused:
        run_experiment(conn, query)

    assert EXPERIMENT in str(refused.value)
    assert "--population itt" in str(refused.value)


def test_the_command_refuses_the_triggered_population_of_a_rollout_with_its_reason(rollout: Rollout) -> None:
    asked = f"experiment --experiment {EXPERIMENT} --population triggered --journeys {rollout.journeys}"
    result = CliRunner().invoke(app, ["report", *asked.split()], env={"CARELOOP_DATABASE_URL": rollout.analyst_url})

    assert result.exit_code == 1, result.output
    assert "--population itt" in result.output
    assert "Traceback" not in result.output


# --- the views and the funnel by version ----------------------------------------------------------------------------


def test_analysts_see_the_version_each_instance_started_on_runs_now_and_its_rollout_arm(rollout: Rollout) -> None:
    now = {s.instance_id: s.journey_version for s in rollout.of(jo.JourneyStarted)}
    now.update({m.instance_id: m.to_version for m in rollout.of(jo.JourneyMigrated)})
    expected = Counter(
        (s.journey_id, s.journey_version, now[s.instance_id], None if s.rollout is None else s.rollout.arm)
        for s in rollout.of(jo.JourneyStarted)
    )

    with psycopg.connect(rollout.analyst_url) as conn:
        found = conn.execute(
            "SELECT journey_id, started_version, journey_version, rollout_arm, count(*) FROM analytics.journeys "
            "GROUP BY 1, 2, 3, 4"
        ).fetchall()

    assert {tuple(r[:4]): r[4] for r in found} == dict(expected)
    assert (JOURNEY, 2, 3, "stable") in expected  # moved by the deployment: started on v2, runs v3
    assert rollout.of(jo.JourneyVersionKept), "an instance kept on v2 (at wait-day-3, changed in v3) should be there"


def test_the_funnel_by_version_counts_each_instance_under_the_version_it_started_on(rollout: Rollout) -> None:
    doc = report(rollout, "funnel", "--journey", JOURNEY, "--by", "version")
    starts = [s for s in rollout.of(jo.JourneyStarted) if s.journey_id == JOURNEY]
    requested = {m.instance_id for m in rollout.of(jo.MessageRequested) if m.occurred_at <= NOW}

    entered = Counter(f"{JOURNEY}@v{s.journey_version}" for s in starts)
    asked = Counter(f"{JOURNEY}@v{s.journey_version}" for s in starts if s.instance_id in requested)
    assert {r["version"]: (r["entered"], r["requested"]) for r in doc["rows"]} == {
        v: (entered[v], asked[v]) for v in entered
    }
    assert set(entered) == {f"{JOURNEY}@v2", f"{JOURNEY}@v3"}


def test_a_rebuild_of_journey_instances_gives_the_same_versions_and_arms(rollout: Rollout) -> None:
    columns = "instance_id, journey_version, content_hash, started_version, rollout_arm, current_step, status"
    with psycopg.connect(rollout.url) as conn:
        before = conn.execute(f"SELECT {columns} FROM journey_instances ORDER BY 1").fetchall()
    store = JourneyStore(postgres_env(rollout.url))
    try:
        with Runner(rollout.url, StoreSource(store), PROJECTIONS) as runner:
            runner.rebuild("journey_instances", progress=False)
    finally:
        store.close()
    with psycopg.connect(rollout.url) as conn:
        after = conn.execute(f"SELECT {columns} FROM journey_instances ORDER BY 1").fetchall()

    assert after == before
    assert {r[4] for r in after} == {None, "candidate", "stable"}


def test_cohorts_by_version_put_each_patient_under_the_version_of_their_first_journey_entry(rollout: Rollout) -> None:
    doc = report(rollout, "cohorts", "--anchor", "journey-entry", "--by", "version", "--months", "1")
    first: dict[str, jo.JourneyStarted] = {}
    for s in sorted(rollout.of(jo.JourneyStarted), key=lambda s: (s.entry["occurred_at"], s.occurred_at)):
        first.setdefault(s.patient_id, s)
    expected = Counter(
        (f"{s.journey_id}@v{s.journey_version}", f"{datetime.fromisoformat(s.entry['occurred_at']):%Y-%m}")
        for s in first.values()
    )

    found = {(r["version"], r["cohort_month"]): r["patients"] for r in doc["rows"] if r["month_offset"] == 0}
    assert {k: n for k, n in found.items() if n} == dict(expected)
    assert {v for v, _ in expected} >= {f"{JOURNEY}@v2", f"{JOURNEY}@v3"}


def test_satisfaction_by_version_counts_each_answer_under_the_version_of_the_message_that_asked(
    rollout: Rollout,
) -> None:
    doc = report(rollout, "satisfaction", "--by", "journey,version")
    asked = {m.message_id: m for m in rollout.of(jo.MessageRequested)}
    started = {s.instance_id: s.journey_version for s in rollout.of(jo.JourneyStarted)}
    answers = [q for q in rollout.of(fi.QuestionnaireCompleted) if q.instrument == "satisfaction"]
    versions = [asked.get(q.message_id or "") for q in answers]
    expected = Counter(
        (None, None) if m is None else (m.journey_id, f"{m.journey_id}@v{m.journey_version}") for m in versions
    )

    assert {(r["journey"], r["version"]): r["responses"] for r in doc["rows"]} == dict(expected)
    # the test tells the asking message's version from the instance's: some moved to v3 before day 7
    post_op = [m for m in versions if m is not None and m.journey_id == JOURNEY]
    assert any(m.journey_version != started[m.instance_id] for m in post_op)
    assert {m.journey_version for m in post_op} == {2, 3}
