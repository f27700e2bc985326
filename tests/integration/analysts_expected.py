"""What each query of docs/analysts.md should answer, worked out from the events themselves.

Each function reads the hospital's events (every patient's recorded history: the clinical events, the reports fed
back, the engine's decisions) the way the doc describes them, never through the projections' code, and returns the
rows the doc's query should give: one list of rows per statement that returns rows. Each also insists that the
hospital gives its query something to show, and the cases that tell a right query from a wrong one: an empty
expectation would let any query pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from events import ENGINE_TYPES
from events import appointments as ap
from events import encounters as en
from events import journey as jo
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events import tasks as ta
from events.base import Event

Row = dict[str, Any]
Result = list[list[Row]]  # the rows of each statement that returns rows, in order
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Engine decisions with a timeline row; waits, timer firings, matches, counters and policy decisions have none.
READABLE = (
    jo.JourneyStarted,
    jo.MessageRequested,
    jo.TaskCreated,
    jo.ChurnFlagged,
    jo.ChurnCleared,
    jo.StepSkipped,
    jo.BranchTaken,
    jo.JourneyReplanned,
    jo.JourneyCompleted,
    jo.JourneyExited,
)
# The loyalty programme's decisions, each a row of the programme's own (journey_id 'loyalty', no step).
LOYALTY = (
    lo.LoyaltyEnrolled, lo.PointsEarned, lo.PointsReleased, lo.PointsExpired, lo.PointsExpiring, lo.PointsSpent,
    lo.PointsRedemptionRefused, lo.PointsAdjusted, lo.PointsAdjustmentRepeated, lo.PointsAdjustmentRefused,
    lo.PointsReversed, lo.PointsReversalSkipped, lo.TierChanged, lo.TierKept, lo.TierAtRisk, lo.BadgeAwarded,
)  # fmt: skip


@dataclass(frozen=True)
class World:
    recorded: dict[str, list[Event]]  # every patient's history, in the order it was recorded
    now: datetime

    def events(self) -> Iterator[Event]:
        for history in self.recorded.values():
            yield from history


class NothingToShowError(AssertionError):
    """The synthetic hospital does not exercise a query: its expectation would prove nothing."""


class Mentions:
    """Equal to any text that contains ``part``: for a column whose exact wording is the projection's to choose."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.part in other

    def __repr__(self) -> str:
        return f"<text mentioning {self.part!r}>"

    __hash__ = None  # type: ignore[assignment]  # equal to many texts: no hash could agree with that


def require(condition: bool, what: str) -> None:
    if not condition:
        raise NothingToShowError(f"the synthetic hospital has no {what}; pick another seed or moment")


# --- reminder_queue -----------------------------------------------------------------------------------------------


def reminders(world: World) -> dict[str, Row]:
    """Every message's row as the doc describes reminder_queue: planned, requested, decided on, reported on; a row
    only moves forward, so a later report never undoes a delivery or a reply."""
    rows: dict[str, Row] = {}
    for e in world.events():
        if isinstance(e, jo.WaitScheduled) and e.planned_message is not None:
            m = e.planned_message
            row = rows.setdefault(m.message_id, {"instance_id": e.instance_id})
            row.update(step_id=m.step_id, template=m.template, channels=list(m.channels), due_at=e.due_at)
            row.update(patient_id=e.patient_id, journey_id=e.journey_id, status="scheduled")
        elif isinstance(e, jo.MessageRequested):
            row = rows.setdefault(e.message_id, {"instance_id": e.instance_id})
            row.update(step_id=e.step_id, template=e.template, channels=list(e.channels), due_at=e.due_at)
            row.update(patient_id=e.patient_id, journey_id=e.journey_id, status="due")
        elif isinstance(e, jo.StepSkipped | jo.JourneyCompleted | jo.JourneyExited):
            for row in rows.values():
                if row["instance_id"] == e.instance_id and row["status"] == "scheduled":
                    if not isinstance(e, jo.StepSkipped):
                        row["status"] = "cancelled"
                    elif row["step_id"] == e.step_id:
                        row["status"] = "skipped"
        elif (message_id := getattr(e, "message_id", None)) in rows:  # a decision or a report on a message
            _moved(rows[message_id], e)
    return rows


def _moved(row: Row, e: Event) -> None:
    arrived = row["status"] in ("delivered", "read", "replied")
    if isinstance(e, jo.MessageDeferred):
        row.update(status="deferred", deferred_until=e.until)
    elif isinstance(e, jo.MessageApproved):
        row["status"] = "approved"
    elif isinstance(e, jo.MessageSuppressed):
        row["status"] = "suppressed"
    elif isinstance(e, ou.OutreachSent):
        row.update(sent_at=e.occurred_at, status=row["status"] if arrived else "sent")
    elif isinstance(e, ou.OutreachDelivered):
        row["status"] = row["status"] if row["status"] in ("read", "replied") else "delivered"
    elif isinstance(e, ou.OutreachRead):
        row["status"] = "replied" if row["status"] == "replied" else "read"
    elif isinstance(e, ou.OutreachReplied):
        row["status"] = "replied"
    elif isinstance(e, ou.OutreachFailed | jo.MessageFailed):
        row["status"] = row["status"] if arrived else "failed"


def todays_reminders(world: World) -> Result:
    """Still to go out today, or gone out today and waiting for a receipt: by when each goes (or went) out."""
    today = world.now.astimezone(SHANGHAI).date()
    waiting = [
        (m, r)
        for m, r in reminders(world).items()
        if r["status"] in ("scheduled", "due", "deferred", "approved", "sent")
    ]
    rows = [(_send_at(r), m, {"send_at": _send_at(r), **_listed(r)}) for m, r in waiting if _day(_send_at(r)) == today]
    statuses = {r["status"] for _, _, r in rows}
    require({"scheduled", "sent"} <= statuses, "reminder still to send and one awaiting a receipt today")
    # Deferred past midnight: a query by due_at alone would list it on the wrong day.
    moved = [
        r
        for _, r in waiting
        if _day(r["due_at"]) != _day(_send_at(r)) and today in (_day(r["due_at"]), _day(_send_at(r)))
    ]
    require(bool(moved), "reminder due one day and going out on another, one of them today")
    return [[row for _, _, row in sorted(rows, key=lambda t: t[:2])]]


def _send_at(r: Row) -> datetime:
    """When a reminder goes, or went, out: the end of its deferral, when it was sent, or else when it is due."""
    send_at: datetime = {"deferred": r.get("deferred_until"), "sent": r.get("sent_at")}.get(r["status"]) or r["due_at"]
    return send_at


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def _listed(r: Row) -> Row:
    return {k: r[k] for k in ("due_at", "patient_id", "journey_id", "template", "channels", "status")}


def delivery_rate(world: World) -> Result:
    """Per template, the messages a gateway last accepted in the 30 days before now, and what became of them: counted
    from the reports fed back, not from the rows."""
    since = world.now - timedelta(days=30)
    rows = reminders(world)
    sent_at: dict[str, datetime] = {}
    arrived: set[str] = set()
    for e in world.events():
        if isinstance(e, ou.OutreachSent):
            sent_at[e.message_id] = e.occurred_at
        elif isinstance(e, ou.OutreachDelivered | ou.OutreachRead | ou.OutreachReplied):
            arrived.add(e.message_id)
    counted = [m for m, at in sent_at.items() if at >= since]
    require(len(counted) < len(sent_at), "message sent before the 30 days")
    require({rows[m]["status"] for m in counted} >= {"delivered", "replied", "failed", "sent"}, "status mix")
    out = []
    for template in sorted({rows[m]["template"] for m in counted}):
        ids = [m for m in counted if rows[m]["template"] == template]
        delivered = sum(m in arrived for m in ids)
        failed = sum(rows[m]["status"] == "failed" for m in ids)
        pct = (Decimal(100) * delivered / len(ids)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        out.append(
            {"template": template, "sent": len(ids), "delivered": delivered, "failed": failed, "delivered_pct": pct}
        )
    return [out]


# --- churn_flags, churn_levels ------------------------------------------------------------------------------------


def high_churn(world: World) -> Result:
    """Patients whose latest churn event left them at level high, with their flags still open."""
    latest: dict[str, jo.ChurnFlagged | jo.ChurnCleared] = {}
    open_flags: dict[str, dict[tuple[str, str], tuple[int, datetime]]] = {}
    for e in world.events():
        if isinstance(e, jo.ChurnFlagged):
            flags = open_flags.setdefault(e.patient_id, {})
            since = flags.get((e.journey_id, e.flag_reason), (0, e.occurred_at))[1]  # kept while it stays open
            flags[(e.journey_id, e.flag_reason)] = (e.weight, since)
            latest[e.patient_id] = e
        elif isinstance(e, jo.ChurnCleared):
            flags = open_flags.setdefault(e.patient_id, {})
            for journey, reason in list(flags):
                if journey == e.journey_id and e.flag_reason in (None, reason):
                    del flags[(journey, reason)]
            latest[e.patient_id] = e
    out: list[Row] = []
    for patient_id, e in latest.items():
        flags = open_flags[patient_id]
        if e.level != "high" or not flags:
            continue
        heaviest = sorted(flags.items(), key=lambda kv: (-kv[1][0], kv[0]))
        out.append(
            {
                "patient_id": patient_id,
                "score": e.score,
                "changed_at": e.occurred_at,
                "reasons": [f"{journey}: {reason}" for (journey, reason), _ in heaviest],
                "at_risk_since": min(since for _, since in flags.values()),
            }
        )
    cleared = {e.patient_id for e in world.events() if isinstance(e, jo.ChurnCleared)}
    require(
        any(len(r["reasons"]) >= 2 and r["patient_id"] in cleared for r in out),
        "patient at high risk with two open flags and a cleared one",
    )
    return [sorted(out, key=lambda r: (-r["score"], r["patient_id"]))]


# --- tasks --------------------------------------------------------------------------------------------------------


def overdue_tasks(world: World) -> Result:
    """Tasks not closed whose SLA passed before now, per the queue they were created on, and who holds them."""
    tasks: dict[str, Row] = {}
    for e in world.events():
        if isinstance(e, jo.TaskCreated):
            tasks.setdefault(e.task_id, {"queue": e.queue, "priority": e.priority, "sla": e.sla_due_at})
            tasks[e.task_id].setdefault("assignee", None)
        elif isinstance(e, ta.TaskClaimed | ta.TaskReleased | ta.TaskClosed) and "done" not in tasks[e.task_id]:
            if isinstance(e, ta.TaskClosed):
                tasks[e.task_id]["done"] = True
            else:
                tasks[e.task_id]["assignee"] = e.assignee if isinstance(e, ta.TaskClaimed) else None
    overdue = [t for t in tasks.values() if "done" not in t and t["sla"] < world.now]
    mix = {(t["queue"], t["assignee"] is None, t["priority"] in ("urgent", "high")) for t in overdue}
    require(len(overdue) < len(tasks) and len(mix) >= 4, "mix of overdue tasks (queues, claimed or not, priorities)")
    out = []
    for queue, count in Counter(t["queue"] for t in overdue).items():
        mine = [t for t in overdue if t["queue"] == queue]
        out.append(
            {
                "origin_queue": queue,
                "overdue": count,
                "urgent_or_high": sum(t["priority"] in ("urgent", "high") for t in mine),
                "unclaimed": sum(t["assignee"] is None for t in mine),
                "oldest_sla": min(t["sla"] for t in mine),
            }
        )
    return [sorted(out, key=lambda r: (-r["overdue"], r["origin_queue"]))]


# --- journey_instances --------------------------------------------------------------------------------------------


def _instances(world: World) -> dict[str, Row]:
    instances: dict[str, Row] = {}
    for e in world.events():
        if isinstance(e, jo.JourneyStarted):
            instances[e.instance_id] = {"journey_id": e.journey_id, "status": "active", "outcome": None}
        elif isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
            status = "completed" if isinstance(e, jo.JourneyCompleted) else "exited"
            instances[e.instance_id].update(status=status, outcome=e.outcome)
    return instances


def funnel(world: World) -> Result:
    instances = _instances(world).values()
    out = []
    for journey in sorted({i["journey_id"] for i in instances}):
        statuses = Counter(i["status"] for i in instances if i["journey_id"] == journey)
        out.append(
            {
                "journey_id": journey,
                "started": statuses.total(),
                **{s: statuses[s] for s in ("active", "completed", "exited")},
            }
        )
    require(any(all(r[s] > 0 for s in ("active", "completed", "exited")) for r in out), "journey in every status")
    return [out]


def endings(world: World) -> Result:
    ended = Counter(
        (i["journey_id"], i["status"], i["outcome"]) for i in _instances(world).values() if i["status"] != "active"
    )
    require(len({k[0] for k in ended}) < len(ended), "journey that ends in more than one way")
    rows = [{"journey_id": j, "status": s, "outcome": o, "instances": n} for (j, s, o), n in ended.items()]
    return [sorted(rows, key=lambda r: (r["journey_id"], -r["instances"], r["status"], r["outcome"]))]


# --- patient_timeline ---------------------------------------------------------------------------------------------


def timeline(world: World, patient_id: str) -> Result:
    """One patient's clinical events and readable engine decisions, by when they happened (a message when due)."""
    rows = []
    for position, e in enumerate(world.recorded[patient_id]):
        if e.type in ENGINE_TYPES and not isinstance(e, READABLE + LOYALTY):
            continue
        at = e.due_at if isinstance(e, jo.MessageRequested) else e.occurred_at
        engine = isinstance(e, READABLE)
        row = {
            "at": at,
            "kind": e.type,
            "journey_id": "loyalty" if isinstance(e, LOYALTY) else e.journey_id if engine else None,  # type: ignore[attr-defined]
            "step_id": (getattr(e, "step_id", None) or None) if engine else None,
            "detail": Mentions(_mentions(e)),
            "reason": getattr(e, "reason", None) or "",
        }
        rows.append((at, position, row))
    kinds = {r["kind"] for _, _, r in rows}
    require({"message.requested", "outreach.replied", "journey.started"} <= kinds and len(rows) >= 15, "rich timeline")
    return [[row for _, _, row in sorted(rows, key=lambda t: t[:2])]]


def _mentions(e: Event) -> str:
    """What the row's detail must mention (the test checks it is contained): the decision's facts, or a clinical
    event's identifying fields; never free text."""
    if isinstance(e, jo.MessageRequested):
        return e.template
    if isinstance(e, jo.TaskCreated):
        return f"{e.queue}: {e.title}"
    if isinstance(e, jo.ChurnFlagged):
        return f"{e.flag_reason} (+{e.weight}, score {e.score}, {e.level})"
    if isinstance(e, jo.JourneyCompleted | jo.JourneyExited):
        return e.outcome
    if isinstance(e, jo.JourneyStarted):
        return e.content_hash
    if isinstance(e, lo.LoyaltyEnrolled):
        return e.tier
    if isinstance(e, LOYALTY):
        return ""  # the programme's rows are checked by kind, time and reason here; their details in the unit tests
    for field in ("encounter_id", "appointment_id", "condition_id", "procedure_id", "response_id", "message_id"):
        if isinstance(getattr(e, field, None), str):
            return f"{field.replace('_', ' ')} {getattr(e, field)}"
    return ""


# --- visits, follow-up (followup.v1) and revisits (revisit.v1) ---------------------------------------------------

STAYS = ("inpatient", "day_surgery")
APPOINTMENT_EVENTS = (
    ap.AppointmentBooked,
    ap.AppointmentRescheduled,
    ap.AppointmentCancelled,
    ap.AppointmentNoShow,
    ap.AppointmentAttended,
)


def _encounters(world: World) -> dict[tuple[str, str], Row]:
    """Each encounter as its events left it: the latest time of each kind, a department once given, cancelled while
    no later event of it came."""
    rows: dict[tuple[str, str], Row] = {}
    for e in world.events():
        if isinstance(e, en.EncounterAdmitted | en.EncounterDischarged | en.EncounterCompleted):
            row = rows.setdefault((e.patient_id, e.encounter_id), {"department": None, "disposition": None})
            row.update(encounter_class=e.encounter_class, cancelled=False)
            row["department"] = e.department or row["department"]
            if isinstance(e, en.EncounterAdmitted):
                row["admitted_at"] = e.occurred_at
            elif isinstance(e, en.EncounterDischarged):
                row["discharged_at"] = e.occurred_at
                row["admitted_at"] = e.admitted_at or row.get("admitted_at")
                row["disposition"] = e.disposition or row["disposition"]
            else:
                row["completed_at"] = e.occurred_at
        elif isinstance(e, en.EncounterCancelled) and (e.patient_id, e.encounter_id) in rows:
            rows[(e.patient_id, e.encounter_id)]["cancelled"] = True
    return rows


def _visit_rows(world: World) -> list[tuple[str, datetime, date, str | None]]:
    """(patient, moment, local date, department) of every visit: a stay at its discharge, another encounter at its
    completion (or discharge), an appointment whose latest event is its attendance."""
    out = []
    for (patient, _), r in _encounters(world).items():
        stay = r["encounter_class"] in STAYS
        moment = r.get("discharged_at") if stay else (r.get("completed_at") or r.get("discharged_at"))
        if moment is not None and not r["cancelled"]:
            out.append((patient, moment, _day(moment), r["department"]))
    latest: dict[tuple[str, str], Event] = {}
    for e in world.events():
        if isinstance(e, ap.AppointmentBooked) and (e.patient_id, e.appointment_id) in latest:
            continue  # a late booking changes no status
        if isinstance(e, APPOINTMENT_EVENTS):
            latest[(e.patient_id, e.appointment_id)] = e
    for (patient, _), e in latest.items():
        if isinstance(e, ap.AppointmentAttended):
            out.append((patient, e.occurred_at, _day(e.occurred_at), e.department))
    return out


def _closes(day: date, days: int) -> datetime:
    """The start of the local day ``days`` after ``day``: when a window of days - 1 days after it closes."""
    return datetime.combine(day + timedelta(days=days), datetime.min.time(), SHANGHAI)


def _episodes(world: World) -> list[Row]:
    encounters = _encounters(world)
    visits = _visit_rows(world)
    deaths = {e.patient_id: e.occurred_at for e in world.events() if isinstance(e, pa.PatientDeceased)}
    contacts = _contacts_by_stay(world)
    out = []
    for (patient, encounter_id), r in encounters.items():
        discharged = r.get("discharged_at")
        if r["encounter_class"] not in STAYS or discharged is None or r["cancelled"]:
            continue
        if r["disposition"] == "changed-to-outpatient":
            continue
        day = _day(discharged)
        closes30 = _closes(day, 31)
        readmitted = any(
            other is not r
            and p == patient
            and other["encounter_class"] in STAYS
            and not other["cancelled"]
            and (t := other.get("admitted_at") or other.get("discharged_at")) is not None
            and discharged <= t < closes30
            for (p, _), other in encounters.items()
        )
        died = r["disposition"] == "expired" or (patient in deaths and deaths[patient] < closes30)
        excluded = (
            "readmitted" if readmitted else "died" if died else "transfer" if r["disposition"] == "transfer" else None
        )
        first_visit = min((at for p, at, d, _ in visits if p == patient and d > day), default=None)
        reached = [t for t in contacts.get((patient, encounter_id), ()) if t > discharged]
        contact = min([t for t in (first_visit, *reached) if t is not None], default=None)
        out.append(
            {
                "department": r["department"],
                "excluded": excluded,
                "first_visit": first_visit,
                "first_contact": contact,
                "closes7": _closes(day, 8),
                "closes30": closes30,
            }
        )
    return out


def _contacts_by_stay(world: World) -> dict[tuple[str, str], list[datetime]]:
    """Per (patient, encounter), the contacts of the journeys the encounter keyed: the latest reply to each of their
    messages, and when a call of one of their tasks reached the patient (the task's first close)."""
    keyed = {e.instance_id: (e.patient_id, e.key) for e in world.events() if isinstance(e, jo.JourneyStarted) and e.key}
    instance_of = {m: r["instance_id"] for m, r in reminders(world).items()}
    task_instance = {e.task_id: e.instance_id for e in world.events() if isinstance(e, jo.TaskCreated)}
    last_reply: dict[str, datetime] = {}
    reached: dict[str, datetime | None] = {}
    for e in world.events():
        if isinstance(e, ou.OutreachReplied) and e.message_id in instance_of:
            last_reply[e.message_id] = e.occurred_at
        elif isinstance(e, ta.TaskClosed) and e.task_id not in reached:
            reached[e.task_id] = e.reached_at
    contacts = [(instance_of[m], t) for m, t in last_reply.items()]
    contacts += [(task_instance[k], t) for k, t in reached.items() if t is not None]
    out: dict[tuple[str, str], list[datetime]] = {}
    for instance, when in contacts:
        stay = keyed.get(instance)
        if stay is not None:
            out.setdefault((stay[0], str(stay[1])), []).append(when)
    return out


def followup(world: World) -> Result:
    """followup.v1 per department, over the episodes nothing excluded whose 30-day window closed by now."""
    counted = [e for e in _episodes(world) if e["excluded"] is None and e["closes30"] <= world.now]
    out = []
    for department in sorted({e["department"] for e in counted}):
        mine = [e for e in counted if e["department"] == department]
        within30 = sum(e["first_visit"] is not None and e["first_visit"] < e["closes30"] for e in mine)
        out.append(
            {
                "department": department,
                "episodes": len(mine),
                "visit_7_days": sum(e["first_visit"] is not None and e["first_visit"] < e["closes7"] for e in mine),
                "visit_30_days": within30,
                "contact_30_days": sum(
                    e["first_contact"] is not None and e["first_contact"] < e["closes30"] for e in mine
                ),
                "visit_30_pct": (Decimal(100) * within30 / len(mine)).quantize(Decimal("0.1"), ROUND_HALF_UP),
            }
        )
    require(any(0 < r["visit_30_days"] < r["episodes"] for r in out), "department with stays followed up and not")
    require(any(r["contact_30_days"] > r["visit_30_days"] for r in out), "stay contacted by a reply and no visit")
    return [out]


def followup_left_out(world: World) -> Result:
    states = Counter(e["excluded"] or ("open" if e["closes30"] > world.now else "counted") for e in _episodes(world))
    require({"open", "counted"} <= set(states), "episode still open and one counted")
    return [[{"state": s, "episodes": n} for s, n in sorted(states.items())]]


def revisits(world: World) -> Result:
    """revisit.v1 with a 30-day window, per department, over the deduplicated visits whose window closed by now."""
    rows = _visit_rows(world)
    firsts: dict[tuple[str, date, str | None], datetime] = {}
    for patient, moment, day, department in rows:
        key = (patient, day, department)
        firsts[key] = min(firsts.get(key, moment), moment)
    today = _day(world.now)
    indexes = [(p, d, dept) for (p, d, dept) in firsts if d + timedelta(days=30) < today]
    out = []
    for department in sorted({dept for _, _, dept in indexes}):
        mine = [(p, d) for p, d, dept in indexes if dept == department]
        returned = sum(any(q == p and d < v <= d + timedelta(days=30) for q, _, v, _ in rows) for p, d in mine)
        same = sum(
            min((v for q, _, v, dp in rows if q == p and v > d and dp == department), default=date.max)
            <= d + timedelta(days=30)
            for p, d in mine
        )
        pct = (Decimal(100) * returned / len(mine)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        out.append(
            {
                "department": department,
                "index_visits": len(mine),
                "returned": returned,
                "returned_same_department": same,
                "returned_pct": pct,
            }
        )
    require(any(0 < r["returned"] < r["index_visits"] for r in out), "department with visits returned to and not")
    return [out]
