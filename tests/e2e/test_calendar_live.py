"""A calendar campaign on the live pipeline (issue 18: "the live pipeline agrees with simulate on a calendar
campaign"): the 三伏贴 campaign of tests/unit/journeys/test_calendar_campaign.py, patients in Shanghai and New York,
one outside the audience and one registered after the booking date, arriving as a hospital feed sends them on a
stepped database clock moved over the booking date and the first 伏 visit. The worker's timers (the calendar due item
kept by each decision) fire the invitations at each patient's own minute; the store holds exactly what the
Simulation decides from the same inputs on the catalog the worker runs, and each patient's stored events fold to the
state the store loads. Then the campaign deployed while patients are idle (`careloop deploy FILE --at T`): the
deployer's wake rows reschedule them at T, and a patient registered after T joins as the Simulation with the recorded
deployments decides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli.explain import from_store
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from events import calendar as ca
from events import journey as jo
from events.base import Event
from tests.builders import at, attended, booked, diagnosed
from tests.cli import invoke
from tests.e2e.conftest import Live, live_careloop
from tests.e2e.test_loyalty_live import assert_live_equals_simulation
from tests.unit.journeys.test_calendar_campaign import JOURNEYS, NEW_YORK, register, spread_minute

pytestmark = pytest.mark.e2e

UNTIL = at("2026-08-01 00:00")
PATIENTS = ("P-sh", "P-ny", "P-none", "P-late")


def feed() -> list[Event]:
    """The feed, built once (the builders number each message anew): the live stack and the Simulation read the same
    events."""
    return [
        register("P-sh", at("2026-01-05 10:00")),
        diagnosed("P-sh", at("2026-01-05 10:05"), "J44"),
        register("P-ny", at("2026-01-05 11:00"), zone=NEW_YORK),
        diagnosed("P-ny", at("2026-01-05 11:05"), "J45"),
        register("P-none", at("2026-01-06 10:00")),
        booked("P-sh", at("2026-05-16 12:00"), at("2026-07-15 09:00"), service="sanfu-tie"),
        register("P-late", at("2026-06-01 10:02")),
        attended("P-sh", at("2026-07-15 09:30"), service="sanfu-tie"),
    ]


FEED = feed()


@pytest.fixture(scope="module")
def campaign(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("calendar")
    journeys = folder / "journeys.yaml"
    journeys.write_text(JOURNEYS, encoding="utf-8")
    with live_careloop(broker, postgres, folder, "cal", journeys, partitions=2) as live:
        for e in FEED:
            live.advance_clock(e.recorded_at)
            live.publish([e])
        live.advance_clock(UNTIL)
        yield live


def stored(live: Live, patient: str, kind: type[Event]) -> list[Event]:
    return [e for e in from_store(patient, live.database_url) if isinstance(e, kind)]


def test_the_live_pipeline_agrees_with_simulate_on_a_calendar_campaign(campaign: Live) -> None:
    assert_live_equals_simulation(campaign, FEED, UNTIL, *PATIENTS)

    invited = {
        p: [m.occurred_at for m in stored(campaign, p, jo.MessageRequested) if m.template == "sanfu-invite"]  # type: ignore[attr-defined]
        for p in PATIENTS
    }
    minute = {p: timedelta(minutes=spread_minute(p)) for p in PATIENTS}
    assert invited == {
        "P-sh": [datetime(2026, 5, 15, 1, 0, tzinfo=UTC) + minute["P-sh"]],
        "P-ny": [datetime(2026, 5, 15, 13, 0, tzinfo=UTC) + minute["P-ny"]],
        "P-none": [],
        "P-late": [],  # registered within join_within, but with no respiratory code: not in the audience
    }
    assert [(r.season, r.outcome) for r in stored(campaign, "P-late", ca.CalendarReached)] == [  # type: ignore[attr-defined]
        (2026, "not_in_audience")
    ]
    visits = stored(campaign, "P-sh", ca.CampaignAttended)
    assert [(v.season, v.visit) for v in visits] == [(2026, "初伏")]  # type: ignore[attr-defined]


# --- a campaign deployed while patients are idle -------------------------------------------------------------------

VISIT_OFFER = """\
  - id: after-visit-offer
    version: 1
    name: An offer after a visit
    entry: {event: encounter.completed}
    steps:
      - {id: offer, message: {template: sanfu-invite, channels: [sms], category: marketing}}
"""
WITH_CAMPAIGN = JOURNEYS.replace("templates:", VISIT_OFFER + "templates:")
WITHOUT_CAMPAIGN = (
    WITH_CAMPAIGN[: WITH_CAMPAIGN.index("  - id: sanfu-tie")]
    + WITH_CAMPAIGN[WITH_CAMPAIGN.index("  - id: after-visit-offer") :]
)
EFFECTIVE = "2026-03-01T12:00:00+08:00"
IDLE = [
    register("P-idle-1", at("2026-01-05 10:00")),
    diagnosed("P-idle-1", at("2026-01-05 10:05"), "J44"),
    register("P-idle-2", at("2026-01-06 10:00"), zone=NEW_YORK),
    diagnosed("P-idle-2", at("2026-01-06 10:05"), "J45"),
]


@pytest.fixture
def idle(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Live]:
    journeys = tmp_path / "journeys.yaml"
    journeys.write_text(WITHOUT_CAMPAIGN, encoding="utf-8")
    with live_careloop(broker, postgres, tmp_path, "calw", journeys, partitions=2) as started:
        yield started


def test_a_campaign_deployed_later_reaches_idle_patients_live_as_simulate_with_the_recorded_deployments(
    idle: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", idle.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(idle.settings.data_dir))
    for e in IDLE:
        idle.advance_clock(e.recorded_at)
        idle.publish([e])
    assert stored(idle, "P-idle-1", ca.CalendarScheduled) == []  # no calendar journey yet

    new = tmp_path / "campaign.yaml"
    new.write_text(WITH_CAMPAIGN, encoding="utf-8")
    code, out, err = invoke("deploy", str(new), "--at", EFFECTIVE)
    assert (code, err) == (0, ""), err
    assert "calendar: 2 patient(s) rescheduled at 2026-03-01T12:00:00+08:00" in out  # the wake rows
    late = [register("P-after", at("2026-03-02 09:00")), diagnosed("P-after", at("2026-03-02 09:05"), "J47")]
    for e in late:
        idle.advance_clock(e.recorded_at)
        idle.publish([e])
    until = at("2026-06-01 00:00")
    idle.advance_clock(until)

    assert_live_equals_simulation(idle, [*IDLE, *late], until, "P-idle-1", "P-idle-2", "P-after")
    for patient in ("P-idle-1", "P-idle-2", "P-after"):
        invited = [m for m in stored(idle, patient, jo.MessageRequested) if m.template == "sanfu-invite"]  # type: ignore[attr-defined]
        assert [m.occurred_at.date().isoformat() for m in invited] == ["2026-05-15"], patient
