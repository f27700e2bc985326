"""How the calendar events change a patient's state (issue 18, design §3.2, §3.4): the schedule recorded by
``calendar.scheduled``, advanced by ``calendar.reached`` (the season reached becomes ``last``, its ``next`` takes its
place), and attendance from ``campaign.attended``. Every date comes from the event: replay computes none. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from engine.journeys.calendar_state import Attendance, CalendarState, Scheduled
from engine.journeys.fold_inputs import Changes
from engine.journeys.state import PatientState
from events import calendar as ca

CALENDAR_EVENTS = (ca.CalendarScheduled, ca.CalendarReached, ca.CampaignAttended)
SEASONS_KEPT = 10  # attendance keeps the latest seasons attended: enough for any 'within' of a campaign audience


def calendar_changes(
    state: PatientState, event: ca.CalendarScheduled | ca.CalendarReached | ca.CampaignAttended
) -> Changes:
    current = state.calendar or CalendarState()
    match event:
        case ca.CalendarScheduled():
            return {"calendar": _scheduled(state, current, event)}
        case ca.CalendarReached():
            return {"calendar": _reached(current, event)}
        case ca.CampaignAttended():
            return {"calendar": _attended(current, event)}


def _item(item: ca.CalendarItem) -> Scheduled:
    return Scheduled(
        journey_id=item.journey_id,
        version=item.version,
        season=item.season,
        occurrence=item.occurrence,
        adjusted_from=item.adjusted_from,
        due_at=item.due_at,
        held_reason=item.held_reason,
    )


def _scheduled(state: PatientState, current: CalendarState, event: ca.CalendarScheduled) -> CalendarState:
    return CalendarState(
        schedule=tuple(_item(i) for i in event.items),
        last=current.last,
        table=event.calendar_hash,
        timezone=state.profile.timezone,  # the zone it was computed in: a change reschedules
        deployment_id=event.deployment_id,
        computed_at=event.occurred_at,
        attendance=current.attendance,
    )


def _reached(current: CalendarState, event: ca.CalendarReached) -> CalendarState:
    schedule = [s for s in current.schedule if s.journey_id != event.journey_id]
    if event.next is not None:
        schedule.append(_item(event.next))
    order = {s.journey_id: n for n, s in enumerate(current.schedule)}  # keep the file's order, stable on replay
    schedule.sort(key=lambda s: order.get(s.journey_id, len(order)))
    last: Mapping[str, int] = MappingProxyType({**current.last, event.journey_id: event.season})
    return replace(current, schedule=tuple(schedule), last=last)


def _attended(current: CalendarState, event: ca.CampaignAttended) -> CalendarState:
    before = current.attendance.get(event.journey_id)
    if before is not None and before.last_season == event.season:
        visits = before.visits_last_season + ((event.visit,) if event.visit not in before.visits_last_season else ())
        seasons = before.seasons
    else:
        visits = (event.visit,)
        seasons = (*(before.seasons if before else ()), event.season)[-SEASONS_KEPT:]
    attendance = Attendance(event.occurred_at, event.season, seasons, visits)
    return replace(current, attendance=MappingProxyType({**current.attendance, event.journey_id: attendance}))
