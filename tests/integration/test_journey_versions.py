"""Journey versions: running instances finish on the version they started with; unbumped changes are refused."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from engine.embedded import EmbeddedPostgres
from engine.journeys.machine import Tick, react
from engine.journeys.state import PatientState
from engine.language.loader import check_text
from engine.plumbing.clock import set_database_clock
from engine.store.definitions import VersionNotBumpedError, deploy
from engine.store.experiments import HoldoutChangedError
from engine.store.schema import create_engine_tables
from events import journey as jo
from tests.builders import at, discharge
from tests.builders import catalog as shipped_catalog

pytestmark = pytest.mark.integration
_n = itertools.count()

V1 = """\
journeys:
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - id: wait
        wait: {{offset: 3d, from: entry, at: "10:00"}}
      - id: care
        message: {{template: {template}, channels: [sms]}}
templates:
  {template}: {{locales: {{zh-CN: {{body: 您好}}, en: {{body: Hello}}}}}}
"""


def catalog(version: int, template: str):  # type: ignore[no-untyped-def]
    found, problems = check_text(V1.format(version=version, template=template), "journeys.yaml")
    assert found is not None, problems
    return found


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> str:
    name = f"versions_{next(_n)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


def test_an_instance_started_on_version_1_finishes_on_version_1_after_version_2_is_deployed(database: str) -> None:
    # Version 1 is deployed and a patient starts on it.
    v1 = deploy(database, catalog(1, "care-v1"))
    state = PatientState("P1")
    for decision in react(state, discharge("P1", at("2026-03-02 10:00")), v1):
        state = decision.state
    # Version 2 (a new template) is deployed before the day-3 message is due.
    v2 = deploy(database, catalog(2, "care-v2"))
    assert v2.current["post-op"].version == 2 and ("post-op", 1) in v2.versions
    fired = [e for d in react(state, Tick("P1"), v2, until=at("2026-03-06 00:00")) for e in d.events]
    messages = [e for e in fired if isinstance(e, jo.MessageRequested)]
    assert [(m.template, m.journey_version) for m in messages] == [("care-v1", 1)]
    # A new patient starts on version 2.
    state2 = PatientState("P2")
    started = [e for d in react(state2, discharge("P2", at("2026-03-03 10:00")), v2) for e in d.events]
    assert [e.journey_version for e in started if isinstance(e, jo.JourneyStarted)] == [2]


def test_changing_a_deployed_version_without_bumping_it_is_refused(database: str) -> None:
    deploy(database, catalog(1, "care-v1"))
    with pytest.raises(VersionNotBumpedError, match=r"journey post-op version 1 differs .* bump its version"):
        deploy(database, catalog(1, "care-edited"))
    assert deploy(database, catalog(1, "care-v1")).current["post-op"].version == 1  # the same content is fine


def test_the_deployed_catalog_keeps_the_files_outreach_policy_templates_and_churn_signals(database: str) -> None:
    shipped = shipped_catalog()
    deployed = deploy(database, shipped)
    assert deployed.outreach == shipped.outreach
    assert deployed.templates == shipped.templates
    assert deployed.churn == shipped.churn
    assert deployed.outreach.quiet_hours is not None  # the shipped file has them: not a pair of defaults


# --- the global holdout the deployment records (careloop_experiments) --------------------------------------------

HOLDOUT = """\
outreach:
  preempt_priority: {priority}
  global_holdout: {{id: {id}, share: {share}, salt: {salt}, categories: [{categories}], exempt_journeys: [{exempt}]}}
"""


def with_holdout(
    id: str = "h-2026",
    share: float = 5,
    salt: str = "s1",
    categories: str = "care, marketing",
    exempt: str = "",
    priority: int = 80,
    version: int = 1,
):  # type: ignore[no-untyped-def]
    text = V1.format(version=version, template=f"care-v{version}") + HOLDOUT.format(
        id=id, share=share, salt=salt, categories=categories, exempt=exempt, priority=priority
    )
    found, problems = check_text(text, "journeys.yaml")
    assert found is not None, problems
    return found


def recorded(database: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database) as conn:
        return conn.execute(
            "SELECT id, kind, salt, share_bp, categories, exempt_journeys, preempt_priority, "
            "switched_off_at IS NOT NULL FROM careloop_experiments ORDER BY id"
        ).fetchall()


def moments(database: str) -> tuple[object, ...]:
    with psycopg.connect(database) as conn:
        found = conn.execute("SELECT first_deployed_at, updated_at FROM careloop_experiments").fetchone()
    assert found is not None
    return tuple(found)


def test_a_deploy_records_the_global_holdout_and_a_deploy_without_one_records_nothing(database: str) -> None:
    deploy(database, catalog(1, "care-v1"))
    assert recorded(database) == []
    deploy(database, with_holdout(share=2.5, exempt="post-op", priority=90))
    assert recorded(database) == [
        ("h-2026", "global_holdout", "s1", 250, ["care", "marketing"], ["post-op"], 90, False)
    ]


def test_the_same_holdout_deployed_again_is_left_as_it_was(database: str) -> None:
    deploy(database, with_holdout())
    first = moments(database)
    deploy(database, with_holdout())
    assert moments(database) == first


def test_a_holdouts_categories_exempt_journeys_and_pre_empt_priority_may_change_and_are_updated(database: str) -> None:
    deploy(database, with_holdout())
    first_deployed, updated = moments(database)
    deploy(database, with_holdout(categories="marketing", exempt="post-op", priority=70))
    assert recorded(database) == [("h-2026", "global_holdout", "s1", 500, ["marketing"], ["post-op"], 70, False)]
    assert moments(database)[0] == first_deployed and moments(database)[1] != updated


@pytest.mark.parametrize(
    ("changed", "named"),
    [({"salt": "s2"}, "its salt"), ({"share": 10}, r"its share \(5 % -> 10 %\)")],
)
def test_the_same_holdout_id_with_another_salt_or_share_is_refused_and_nothing_of_the_deploy_is_kept(
    database: str, changed: dict[str, object], named: str
) -> None:
    deploy(database, with_holdout())
    before = recorded(database)
    refused = with_holdout(version=2, **changed)  # type: ignore[arg-type]
    with pytest.raises(HoldoutChangedError, match=rf"global_holdout h-2026: the journeys file changes {named}"):
        deploy(database, refused)
    assert recorded(database) == before
    with psycopg.connect(database) as conn:  # the refused file's version 2 is not recorded either
        assert conn.execute("SELECT journey_id, version FROM careloop_journey_definitions").fetchall() == [
            ("post-op", 1)
        ]


def test_a_holdout_switched_off_stays_recorded_and_a_new_id_is_a_new_experiment(database: str) -> None:
    deploy(database, with_holdout())
    deploy(database, catalog(1, "care-v1"))  # the file no longer configures it
    assert recorded(database) == [("h-2026", "global_holdout", "s1", 500, ["care", "marketing"], [], 80, True)]
    deploy(database, with_holdout(id="h-2027", salt="s2", share=10))
    assert [(r[0], r[-1]) for r in recorded(database)] == [("h-2026", True), ("h-2027", False)]
    deploy(database, with_holdout())  # switched on again under its own salt and share
    assert [(r[0], r[-1]) for r in recorded(database)] == [("h-2026", False), ("h-2027", True)]


def switched_off_at(database: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database) as conn:
        return conn.execute("SELECT id, switched_off_at FROM careloop_experiments ORDER BY id").fetchall()


def test_a_holdout_is_switched_off_at_the_deployments_clock_where_it_keeps_one(database: str) -> None:
    # analytics.experiment_exposures counts messages approved before switched_off_at: event times, on this clock
    deploy(database, with_holdout())
    with psycopg.connect(database) as conn, conn.cursor() as cur:
        create_engine_tables(cur)  # the event store's tables, careloop_clock among them
        set_database_clock(conn, at("2026-03-05 10:00"))
    deploy(database, catalog(1, "care-v1"))
    assert switched_off_at(database) == [("h-2026", at("2026-03-05 10:00"))]


def test_a_holdout_is_switched_off_at_the_databases_now_without_a_deployment_clock(database: str) -> None:
    deploy(database, with_holdout())
    with psycopg.connect(database) as conn:
        before = conn.execute("SELECT now()").fetchone()
    deploy(database, catalog(1, "care-v1"))
    ((_, moment),) = switched_off_at(database)
    with psycopg.connect(database) as conn:
        after = conn.execute("SELECT now()").fetchone()
    assert before is not None and after is not None and before[0] <= moment <= after[0]
