"""Ground truth: `careloop report experiment` recovers the synthetic hospital's known effects.

A surgery-heavy synthetic hospital (800 patients over 120 days) with the behavioural model of engine.demo.behaviour
and a global holdout of 30 % goes through the pure core (Simulation) hour by hour, is recorded in the journey store
and followed by the projection runner into the read models, as the demo's pipeline would (tests/integration/
outcomes_db.py, the reports' fixture). Then, under an analyst's login, the
report's 95 % interval of treated minus holdout must hold each journey's true effect (exactly p_treated - p_holdout,
since the model's draw alone decides the return), the negative control's must hold 0, and the sample-ratio check
must pass. Planting an unequal split (the owner deletes 40 % of the holdout's assignments) must make the report warn
and give no verdict.

Each interval misses its truth 5 % of the time, so one seed may fail honestly: the seed below was fixed before the
test was first run and is not to be changed to make it pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo.behaviour import EFFECTS, Behaviour
from engine.demo.hospital import DEFAULT_START, SOURCE
from engine.demo.outcomes import experiment_id
from engine.demo.overlay import Holdout, with_global_holdout
from engine.embedded import EmbeddedPostgres
from engine.journeys.assignment import in_global_holdout
from engine.language.loader import load_catalog
from events.base import Event
from tests.builders import JOURNEYS, SHANGHAI
from tests.demo_storylines import enters, is_visit
from tests.integration.outcomes_db import OutcomesDb, Params, outcomes_db

pytestmark = pytest.mark.integration

# Fixed before the first run (the number), and not changed after looking at any result.
SEED = 15
PATIENTS, DAYS = 800, 120
# Surgery-heavy: every journey with an effect gets a few hundred patients, the others a few.
WEIGHTS = {
    "surgery": 0.40,
    "diabetes": 0.15,
    "implant": 0.15,
    "outpatient": 0.15,
    "appointment": 0.10,
    "hypertension": 0.03,
    "childbirth": 0.02,
}
HOLDOUT = Holdout(id="ground-truth-holdout", share=30, salt="ground-truth")
# Every window closed: the last entry (an outpatient visit by day 114, a discharge by day 96) plus its window.
AS_OF = DEFAULT_START + timedelta(days=DAYS + 95)
SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Hospital:
    db: OutcomesDb
    journeys: Path
    behaviour: Behaviour


@pytest.fixture(scope="module")
def hospital(postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hospital]:
    journeys = with_global_holdout(JOURNEYS, tmp_path_factory.mktemp("journeys") / "journeys.yaml", HOLDOUT)
    behaviour = Behaviour.of(load_catalog(journeys))
    params = Params(PATIENTS, SEED, DAYS, AS_OF, WEIGHTS, behaviour, journeys)
    with outcomes_db(postgres.url, params) as db:
        yield Hospital(db, journeys, behaviour)


def report(url: str, journeys: Path, journey_id: str, experiment: str) -> dict[str, Any]:
    """`careloop report experiment --format json` for one journey, its endpoint and window, under ``url``'s login."""
    effect = EFFECTS[journey_id]
    args = ["report", "experiment", "--experiment", experiment, "--journey", journey_id]
    args += ["--endpoint", effect.endpoint, "--window", str(effect.window_days), "--format", "json"]
    args += ["--as-of", AS_OF.isoformat(), "--journeys", str(journeys)]
    result = CliRunner().invoke(app, args, env={"CARELOOP_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def arms(document: dict[str, Any], journey_id: str) -> dict[bool, dict[str, Any]]:
    """The journey's rows by whether they are the holdout arm."""
    return {row["holdout"]: row for row in document["rows"] if row["journey"] == journey_id}


def comparison(document: dict[str, Any], journey_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in document["comparisons"] if c["journey"] == journey_id]
    assert len(found) == 1, document["comparisons"]
    return found[0]


# --- the effects are recovered ---------------------------------------------------------------------------------


# The seed's outcome, recorded as found: its post-op interval misses the truth. Everything else about it is right
# (the counts are the hospital's own, test_the_reports_counts_are_the_hospitals_own; each arm's interval holds its
# p): the hospital's draws came out at 151 of 228 treated (0.662) and 52 of 108 held out (0.481) against 0.70 and
# 0.40, a difference of 0.181 with a 95 % interval of 0.068 to 0.290 around a true 0.30 (z = -2.1): one of the
# misses a 95 % interval makes once in twenty (four intervals here: at least one misses for one seed in five).
# Strict: should the interval ever hold the truth for this seed, the report's numbers changed, and this says so.
MISSED = pytest.mark.xfail(strict=True, reason="seed 15's post-op interval misses the true effect (z = -2.1)")


@pytest.mark.parametrize(
    "journey_id", [pytest.param(j, marks=MISSED) if j == "post-op-follow-up" else j for j in EFFECTS]
)
def test_the_reported_interval_holds_the_hospitals_true_effect(hospital: Hospital, journey_id: str) -> None:
    effect = EFFECTS[journey_id]
    experiment = experiment_id(hospital.behaviour, journey_id)

    document = report(hospital.db.analyst_url, hospital.journeys, journey_id, experiment)

    by_arm = arms(document, journey_id)
    assert set(by_arm) == {True, False}, document["rows"]
    least = 5 if effect.experiment == "split" else 25  # the survey's holdout is 10 % of its patients
    assert min(row["patients"] for row in by_arm.values()) >= least, document["rows"]
    assert all(row["open"] == 0 for row in by_arm.values()), "every window has closed by the report's moment"
    check = document["sample_ratio"][experiment]
    assert check["p_value"] is not None and check["p_value"] >= SRM_ALPHA, check
    found = comparison(document, journey_id)
    difference = found["difference"]
    assert difference["low"] <= effect.true_effect <= difference["high"], (journey_id, effect, difference)
    assert found["verdict"] is not None


@pytest.mark.parametrize("journey_id", [j for j, e in EFFECTS.items() if e.experiment == "global_holdout"])
def test_the_reports_counts_are_the_hospitals_own(hospital: Hospital, journey_id: str) -> None:
    effect = EFFECTS[journey_id]

    document = report(hospital.db.analyst_url, hospital.journeys, journey_id, HOLDOUT.id)

    got = {held: (row["successes"], row["patients"]) for held, row in arms(document, journey_id).items()}
    assert got == counted(hospital, journey_id, effect.window_days)


def counted(hospital: Hospital, journey_id: str, window: int) -> dict[bool, tuple[int, int]]:
    """Per arm (held out or not), patients who came back and patients, counted from the hospital's clinical events:
    each patient's first entry of the journey's storyline, their arm from the holdout's assignment, and a visit on
    a later local day within the window."""
    config = hospital.db.catalog.outreach.global_holdout
    assert config is not None
    histories: dict[str, list[Event]] = {}
    for e in sorted(hospital.db.events(), key=lambda e: e.occurred_at):
        if e.source.system == SOURCE:
            histories.setdefault(e.patient_id, []).append(e)
    totals: dict[bool, list[int]] = {True: [0, 0], False: [0, 0]}
    for patient_id, history in histories.items():
        entry = next((e for e in history if enters(e, journey_id)), None)
        if entry is None:
            continue
        day = entry.occurred_at.astimezone(SHANGHAI).date()
        later = [(e.occurred_at.astimezone(SHANGHAI).date() - day).days for e in history if is_visit(e)]
        arm = totals[in_global_holdout(patient_id, config)]
        arm[0] += any(0 < d <= window for d in later)
        arm[1] += 1
    return {held: (back, patients) for held, (back, patients) in totals.items()}


def test_the_negative_controls_interval_holds_zero(hospital: Hospital) -> None:
    [journey_id] = [j for j, e in EFFECTS.items() if e.true_effect == 0]

    document = report(
        hospital.db.analyst_url, hospital.journeys, journey_id, experiment_id(hospital.behaviour, journey_id)
    )

    difference = comparison(document, journey_id)["difference"]
    assert difference["low"] <= 0 <= difference["high"], difference


def test_each_arm_holds_the_models_rate_for_a_journey_only_the_model_brings_back(hospital: Hospital) -> None:
    # Post-op patients live that one storyline, so each arm's rate is the model's p itself.
    effect = EFFECTS["post-op-follow-up"]
    document = report(
        hospital.db.analyst_url,
        hospital.journeys,
        "post-op-follow-up",
        experiment_id(hospital.behaviour, "post-op-follow-up"),
    )

    by_arm = arms(document, "post-op-follow-up")

    assert by_arm[True]["low"] <= effect.p_holdout <= by_arm[True]["high"], by_arm[True]
    assert by_arm[False]["low"] <= effect.p_treated <= by_arm[False]["high"], by_arm[False]


# --- a planted mismatch ------------------------------------------------------------------------------------------


@pytest.fixture
def planted(hospital: Hospital) -> Iterator[None]:
    """The owner deletes 40 % of the global holdout's holdout-arm assignments; put back afterwards."""
    table = sql.Identifier("experiment_assignments")
    with psycopg.connect(hospital.db.url, autocommit=True) as conn:
        deleted = conn.execute(
            sql.SQL(
                "DELETE FROM {t} WHERE experiment_id = %(id)s AND unit_id IN ("
                " SELECT unit_id FROM {t} WHERE experiment_id = %(id)s AND holdout ORDER BY unit_id"
                " LIMIT (SELECT (count(*) * 0.4)::int FROM {t} WHERE experiment_id = %(id)s AND holdout)) RETURNING *"
            ).format(t=table),
            {"id": HOLDOUT.id},
        )
        columns = [c.name for c in deleted.description or ()]
        rows = deleted.fetchall()
        assert len(rows) >= 40, "too few holdout assignments to plant a mismatch"
    try:
        yield
    finally:
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        with psycopg.connect(hospital.db.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(insert, rows)


@pytest.mark.usefixtures("planted")
def test_a_planted_unequal_split_is_warned_about_and_gets_no_verdict(hospital: Hospital) -> None:
    document = report(hospital.db.analyst_url, hospital.journeys, "post-op-follow-up", HOLDOUT.id)

    check = document["sample_ratio"][HOLDOUT.id]
    assert check["mismatch"] is True and check["p_value"] < SRM_ALPHA, check
    assert any("sample ratio mismatch" in note for note in document["notes"]), document["notes"]
    found = comparison(document, "post-op-follow-up")
    assert found["verdict"] is None and found["difference"] is None, found
