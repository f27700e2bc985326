"""Calendar journeys reach every patient through one derived due item (issue 18, design §3.2): kind ``calendar``,
rank (-1, 2): after a deployment and the loyalty item, before any journey wait at the same instant.

The item is the earliest season scheduled in the patient's state (``calendar.scheduled`` recorded the date, so
``pending()`` reads it and never computes one), or a reschedule when a later deployment changes the calendar
journeys. ``keep`` reschedules after a decision when the state has no schedule yet, the time zone changed, the
patient died or the record was merged into another (both clear the schedule for good), or the deployment in force
differs from the one the schedule was computed under; it keeps the timer in step. ``fire`` records
``calendar.reached`` for each season due and starts the journey for a patient in its audience. No mass scan: each
patient decides from its own state and the catalog. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.journeys.assignment import bucket
from engine.journeys.calendar_definition import CalendarEntry
from engine.journeys.calendar_state import Scheduled
from engine.journeys.calendar_table import NO_CALENDAR
from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey
from engine.journeys.effects import CancelTimer, ScheduleTimer
from engine.journeys.evaluate import describe, holds
from engine.journeys.run import Run
from engine.journeys.state import Due, PatientState
from engine.journeys.steps import start
from engine.journeys.timing import zone
from events import calendar as ca
from events.ids import deterministic_id

CALENDAR = "calendar"  # the pseudo journey calendar timers are filed under
RANK = (-1, 2)
SEASONS_AHEAD = 8  # a rule that falls in none of the next years (a rare leap month) is scheduled for none
MERGED = "the record was merged into another, whose own schedule stands"


def next_due(state: PatientState, catalog: Catalog, horizon: datetime | None = None) -> Due | None:
    """The calendar item due first (by ``horizon``): a scheduled season or a reschedule. Reads the state only."""
    if state.clock is None or state.erased_epoch is not None or not catalog.calendar:
        return None
    found = [d for d in (_season_due(state, horizon), _reschedule_due(state, catalog)) if d is not None]
    first = min(found, default=None)
    return None if first is None or (horizon is not None and first.due_at > horizon) else first


def _season_due(state: PatientState, horizon: datetime | None) -> Due | None:
    item = state.calendar.soonest() if state.calendar is not None else None
    if item is None or item.due_at is None or (horizon is not None and item.due_at > horizon):
        return None  # beyond the horizon it is not returned: its timer id (a hash, asked often) is not computed
    return Due(item.due_at, RANK, CALENDAR, season_timer_id(state.patient_id, item), "calendar")


def season_timer_id(patient_id: str, item: Scheduled) -> str:
    assert item.due_at is not None
    return deterministic_id(patient_id, CALENDAR, item.journey_id, str(item.season), item.due_at.isoformat())


def _retired(state: PatientState) -> bool:
    """A record that takes part in no campaign any more: the patient died, or the record was merged into another."""
    return state.profile.deceased or state.profile.merged_into is not None


def _reschedule_due(state: PatientState, catalog: Catalog) -> Due | None:
    """The first deployment after the schedule was computed whose calendar journeys differ from it: the patient is
    rescheduled at its effective time (live, the deployer's wake row of the same id wakes an idle patient)."""
    if _retired(state):
        return None  # a death or a merge cleared the schedule: no deployment brings a season back
    computed = state.calendar.computed_at if state.calendar is not None else None
    table = state.calendar.table if state.calendar is not None else NO_CALENDAR
    for deployment, value in zip(catalog.deployments, catalog.calendar_hashes, strict=False):
        if (computed is None or deployment.effective_at > computed) and value != table:
            at = max(deployment.effective_at, computed or deployment.effective_at)
            timer_id = f"{CALENDAR}:{deployment.deployment_id}:{state.patient_id}"
            return Due(at, RANK, CALENDAR, timer_id, "calendar")
    return None


# --- keeping the schedule and the timer in step ---------------------------------------------------------------


def keep(run: Run, before: PatientState) -> None:
    """After a decision: reschedule when something the schedule depends on changed, then move the timer."""
    reason = _why_reschedule(run)
    if reason is not None:
        # Its own cause: at the end of a decision the cause is the trigger's, which its other events already use.
        with run.caused_by(f"{CALENDAR}-schedule:{run.state.patient_id}:{run.state.version}"):
            reschedule(run, reason)
    if _same_item(before, run.state):
        return
    old, new = next_due(before, run.catalog), next_due(run.state, run.catalog)
    if old == new:
        return
    if old is not None and old.due_at > run.now:
        run.effect(CancelTimer(run.state.patient_id, old.timer_id, "cancelled"))
    if new is not None:
        run.effect(ScheduleTimer(run.state.patient_id, CALENDAR, new.timer_id, new.due_at))


def _same_item(before: PatientState, after: PatientState) -> bool:
    """Whether next_due (without a horizon) is bound to give the same for both: it reads only these, the patient id
    and the catalog. Most decisions change none of them, and working it out twice costs a timer id's hash."""
    return (
        before.calendar is after.calendar
        and before.profile is after.profile
        and before.erased_epoch == after.erased_epoch
        and (before.clock is None) == (after.clock is None)
    )


def _why_reschedule(run: Run) -> str | None:
    state, in_force = run.state, run.catalog.calendar_hash_at(run.now)
    calendar = state.calendar
    if state.erased_epoch is not None:
        return None  # an erased patient is forgotten: its timer goes (keep), nothing is scheduled
    if calendar is None:
        # a record whose first decision finds it dead or merged away has no season to schedule, nor to clear
        return None if in_force == NO_CALENDAR or _retired(state) else "first scheduled"
    if state.profile.deceased:
        return "the patient died" if calendar.schedule else None
    if state.profile.merged_into is not None:
        return MERGED if calendar.schedule else None
    if calendar.table != in_force:
        return "the calendar journeys in force changed (a deployment, or the official working days known)"
    if calendar.timezone != state.profile.timezone:
        return "the patient's time zone changed"
    return None


def reschedule(run: Run, reason: str) -> None:
    """Record the whole schedule as of now (``calendar.scheduled``), one item per calendar journey in force."""
    state, catalog = run.state, run.catalog
    last = state.calendar.last if state.calendar is not None else {}
    items: list[ca.CalendarItem] = []
    if not _retired(state):
        for journey_id in catalog.calendar_journeys(run.now):
            journey, _ = catalog.starting(journey_id, state.patient_id, run.now)
            if journey is not None and isinstance(journey.entry, CalendarEntry):
                item = next_item(run, journey, last.get(journey_id))
                items += [item] if item is not None else []
    run.emit(
        ca.CalendarScheduled,
        items=tuple(items),
        calendar_hash=catalog.calendar_hash_at(run.now),
        deployment_id=catalog.in_force(run.now).deployment_id,
        reason=reason,
    )


def next_item(run: Run, journey: Journey, after: int | None) -> ca.CalendarItem | None:
    """The journey's first season after ``after`` whose date (plus join_within) is not past: due at its instant
    plus the patient's spread minute, or now when joining late; held when its working days are unknown."""
    assert isinstance(journey.entry, CalendarEntry)
    spec = journey.entry.calendar
    tz = zone(spec.timezone, run.state.profile, run.catalog.settings.hospital_timezone)
    first = run.now.year - 2 - spec.parsed_offset.reach_in_years()
    start = first if after is None else max(after + 1, first)
    for year in range(start, start + SEASONS_AHEAD):
        season = run.catalog.calendar.season(journey, year)
        if season is None:
            continue
        instant = datetime.combine(season.occurrence, spec.at, tzinfo=tz).astimezone(UTC).astimezone(tz)
        if instant + spec.join_within.approx_timedelta() < run.now:
            continue
        due = None
        if season.held_reason is None:
            due = max(instant + timedelta(minutes=_spread_minute(run, journey)), run.now)
        return ca.CalendarItem(
            journey_id=journey.id,
            version=journey.version,
            season=year,
            occurrence=season.occurrence,
            adjusted_from=season.adjusted_from,
            due_at=due,
            held_reason=season.held_reason,
        )
    return None


def _spread_minute(run: Run, journey: Journey) -> int:
    """The patient's own minute in [0, spread): sticky, the same every season (assignment.bucket)."""
    assert isinstance(journey.entry, CalendarEntry)
    minutes = journey.entry.calendar.spread_minutes
    return 0 if minutes == 0 else bucket(f"{CALENDAR}|{journey.id}", run.state.patient_id, modulus=minutes)


# --- firing -------------------------------------------------------------------------------------------------


def fire(run: Run, item: Due) -> None:
    """A reschedule (under the timer's cause, like every fired timer's events), or every season due by now
    (earliest first), each reached once."""
    if item.timer_id.startswith(f"{CALENDAR}:"):
        reschedule(run, "a deployment changed the calendar journeys")
        return
    calendar = run.state.calendar
    if calendar is None:
        return
    if run.state.profile.merged_into is not None:
        # A record merged before merges cleared its schedule (history stored earlier): the date reaches nobody.
        reschedule(run, MERGED)
        return
    for scheduled in sorted(calendar.schedule, key=lambda s: (s.due_at or run.now, s.journey_id)):
        if scheduled.due_at is not None and scheduled.due_at <= run.now:
            reach(run, scheduled)


def reach(run: Run, scheduled: Scheduled) -> None:
    """``calendar.reached`` with its outcome, the first that applies: deceased, not_deployed, already_entered,
    not_in_audience, entered; then, when entered, the journey starts keyed by the season."""
    assert scheduled.due_at is not None
    journey, draw = run.catalog.starting(scheduled.journey_id, run.state.patient_id, run.now)
    fields = _reached_fields(run, scheduled, journey)
    outcome, failed, why = _outcome(run, scheduled, journey, fields)
    nxt = next_item(run, journey, scheduled.season) if journey is not None and not run.state.profile.deceased else None
    reached = run.emit(ca.CalendarReached, **fields, outcome=outcome, failed=failed, next=nxt, reason=why)
    if outcome == "entered" and journey is not None:
        with run.caused_by(reached.event_id):
            start(run, journey, reached.model_dump(mode="json"), key=str(scheduled.season), rollout=draw)


def _reached_fields(run: Run, scheduled: Scheduled, journey: Journey | None) -> dict[str, Any]:
    rule = str(scheduled.journey_id)
    if journey is not None and isinstance(journey.entry, CalendarEntry):
        spec = journey.entry.calendar
        rule = f"{spec.calendar_rule()} {spec.at.strftime('%H:%M')}".replace("  ", " ")
    return {
        "journey_id": scheduled.journey_id,
        "journey_version": journey.version if journey is not None else None,
        "rule": rule,
        "season": scheduled.season,
        "occurrence": scheduled.occurrence,
        "scheduled_for": scheduled.due_at,
        "adjusted_from": scheduled.adjusted_from,
    }


def _outcome(
    run: Run, scheduled: Scheduled, journey: Journey | None, fields: dict[str, Any]
) -> tuple[ca.Outcome, tuple[str, ...], str]:
    season = f"season {scheduled.season}"
    if run.state.profile.deceased:
        return "deceased", (), f"{season}: the patient has died"
    if journey is None or not isinstance(journey.entry, CalendarEntry):
        return "not_deployed", (), f"{season}: {scheduled.journey_id} is not deployed as a calendar journey now"
    key = str(scheduled.season)
    if any(i.journey_id == journey.id and i.key == key for i in run.state.instances.values()):
        return "already_entered", (), f"{season}: already entered"
    data = {**fields, "type": ca.CalendarReached.model_fields["type"].default}
    scope = run.scope({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in data.items()})
    when = journey.entry.when
    failed = tuple(describe(c) for c, test in zip(when, when.predicates, strict=True) if not holds(test, scope))
    if failed:
        return "not_in_audience", failed, f"{season}: not in audience: {'; '.join(failed)} did not hold"
    return "entered", (), f"{season}: entered ({fields['occurrence'].isoformat()} {fields['rule']})"
