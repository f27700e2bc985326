"""The shipped 三伏贴 campaign over a year and a half, from docs/samples/sanfu-year.jsonl, through `careloop simulate`
on the shipped journeys.yaml (issue 18: "the 三伏贴 campaign reaches exactly the eligible patients on the right
dates in their time zone, and a patient who attended last year is invited again").

The sample: P301 (COPD, Shanghai) and P302 (asthma, New York) are in the audience, P303 (diabetes only) is not, P304
(COPD) is drawn into the campaign's 10% holdout. P301 books and attends the three 2025 visits. The booking
invitation is due two months before 初伏 on an official working day (2025-05-20, 2026-05-15: 初伏 2025-07-20 and
2026-07-15, the third 庚 day from 夏至, as tests/unit/calendars/test_almanac.py checks against the Hong Kong
Observatory's tables), at 09:00 in the patient's own zone plus the patient's sticky minute within the 2h spread."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.journeys.evolve import replay
from engine.journeys.simulation import Simulation
from engine.journeys.state import PatientState
from events import calendar as ca
from events import journey as jo
from events import parse_event
from events.base import Event
from tests.builders import catalog, recorded
from tests.cli import invoke
from tests.unit.journeys.test_calendar_campaign import spread_minute

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "sanfu-year.jsonl"
UNTIL = "2026-06-01"
SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")


def sample() -> list[Event]:
    return [parse_event(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@cache
def simulated() -> dict[str, list[dict[str, Any]]]:
    code, out, err = invoke("simulate", "--events", str(SAMPLE), "--until", UNTIL, "--format", "json")
    assert code == 0, err
    return {p["patient_id"]: p["timeline"] for p in json.loads(out)["patients"]}


def invitations(patient: str) -> list[tuple[str, str]]:
    rows = simulated().get(patient, [])
    return [(r["at"], r["detail"].split(" ")[0]) for r in rows if r["kind"] == "message.requested"
            and r["journey_id"] == "sanfu-tie" and r["step_id"].startswith("invite")]  # fmt: skip


def morning(day: str, zone: ZoneInfo, patient: str) -> str:
    """09:00 local on ``day`` in ``zone``, plus the patient's minute of the spread."""
    nine = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=zone)
    return (nine + timedelta(minutes=spread_minute(patient))).isoformat()


def test_the_invitation_reaches_exactly_the_eligible_patients_at_nine_in_their_own_zone_each_season() -> None:
    assert invitations("P301") == [
        (morning("2025-05-20", SHANGHAI, "P301"), "sanfu-invite"),
        (morning("2026-05-15", SHANGHAI, "P301"), "sanfu-invite-again"),
    ]
    assert invitations("P302") == [
        (morning("2025-05-20", NEW_YORK, "P302"), "sanfu-invite"),  # 13:xx UTC: the New York morning
        (morning("2026-05-15", NEW_YORK, "P302"), "sanfu-invite"),  # never came: the first-time text again
    ]
    assert invitations("P303") == []  # diabetes only: not in the audience
    assert invitations("P304") == []  # the holdout


def test_the_holdout_is_drawn_each_season_and_sent_nothing() -> None:
    arms = [(r["at"][:10], r["detail"]) for r in simulated()["P304"] if r["step_id"] == "arm"]
    assert arms == [("2025-05-20", "branch holdout (holdout)"), ("2026-05-15", "branch holdout (holdout)")]
    assert [r for r in simulated()["P304"] if r["kind"] == "message.requested" and r["journey_id"] == "sanfu-tie"] == []


def test_a_patient_outside_the_audience_is_reached_by_the_calendar_and_recorded_as_not_in_it() -> None:
    sim = Simulation(catalog())
    sim.feed(sample())
    sim.run_until(datetime.fromisoformat(f"{UNTIL}T00:00+08:00"))

    reached = [(r.season, r.outcome) for r in recorded(sim, "P303", ca.CalendarReached) if r.journey_id == "sanfu-tie"]
    assert reached == [(2025, "not_in_audience"), (2026, "not_in_audience")]
    assert recorded(sim, "P303", jo.JourneyStarted, "sanfu-tie") == []


def test_each_visit_attended_last_season_is_recorded_and_brings_the_welcome_back_text() -> None:
    sim = Simulation(catalog())
    sim.feed(sample())
    sim.run_until(datetime.fromisoformat(f"{UNTIL}T00:00+08:00"))

    visits = [(v.season, v.visit, v.occurred_at.astimezone(SHANGHAI).date().isoformat())
              for v in recorded(sim, "P301", ca.CampaignAttended)]  # fmt: skip
    assert visits == [(2025, "初伏", "2025-07-20"), (2025, "中伏", "2025-07-30"), (2025, "末伏", "2025-08-09")]
    reminders = [m.due_at.astimezone(SHANGHAI).isoformat() for m in recorded(sim, "P301", jo.MessageRequested)
                 if m.template == "sanfu-visit-tomorrow"]  # fmt: skip
    assert reminders == ["2025-07-19T18:00:00+08:00", "2025-07-29T18:00:00+08:00", "2025-08-08T18:00:00+08:00"]
    (returning,) = [
        b for b in recorded(sim, "P301", jo.BranchTaken) if b.step_id == "returning" and b.branch != "otherwise"
    ]
    assert returning.branch == "came last year"
    for patient, events in sim.recorded.items():
        assert replay(events, PatientState(patient)) == sim.state(patient)
