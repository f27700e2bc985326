"""Deaths reported in any ADT message -> ``patient.deceased``, placed before the message's other events.

A discharge is the usual way a death arrives (an A03 with PID-30 = Y and PID-29, or a discharge disposition
PV1-36 that means death), but an A08 or any other ADT may carry it. The engine applies a message's events in
order and starts no journey for a deceased patient, so ``patient.deceased`` comes first: nothing the discharge
would start can then request a message.

Per PID (with the PV1 that follows it):

- PID-29 (date/time of death) set, or PID-30 (death indicator) Y (also spelled Yes), or PV1-36 meaning death
  (``codes.means_death``: UB-04 20, 40, 41, 42; China's 离院方式 5; Expired/Died/Deceased/死亡 in its code or
  text) -> ``patient.deceased``.
- ``occurred_at``: PID-29; else, for a death told by PV1-36, the discharge time PV1-45; else EVN-2, else MSH-7.
- Contradictions reject the message: PID-30 = N with PID-29 set, PID-30 = N with a PV1-36 meaning death, and a
  PID-30 that is neither Y nor N.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from connectors.hl7v2.codes import indicator, means_death
from connectors.hl7v2.common import Draft, Header, PatientGroup, event_time, optional_time, patient_groups, patient_of
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message
from events.patient import Identifier, PatientDeceased

IdentifiersOf = Callable[[PatientGroup], tuple[Identifier, ...]]


def deaths(msg: Message, header: Header, identifiers_of: IdentifiersOf | None = None) -> list[Draft]:
    """One ``patient.deceased`` per PID that reports a death. ``identifiers_of`` says whose identifiers the
    patient is known by (an identifier change lists the old ones first); PID-3 by default."""
    told = any(p.get(29) or p.get(30) for p in msg.all("PID")) or any(v.first_repetition(36) for v in msg.all("PV1"))
    if not told:
        return []  # the usual case, found without grouping the message
    drafts: list[Draft] = []
    for n, group in enumerate(patient_groups(msg), start=1):
        when = _death(msg, header, group)
        if when is not None:
            ids = identifiers_of(group) if identifiers_of else patient_of(group.pid, header)
            drafts.append(Draft(PatientDeceased, ids, when, {}, f"PID{n}"))
    return drafts


def _death(msg: Message, header: Header, group: PatientGroup) -> datetime | None:
    """When the patient died, or None when this PID reports no death."""
    pid, pv1 = group.pid, group.first("PV1")
    died_at = optional_time(pid, 29, header)
    deceased = indicator(pid.get(30), "PID-30")
    by_disposition = pv1 is not None and means_death(pv1.get(36), pv1.get(36, 2))
    if deceased is False and died_at is not None:
        raise FieldError("PID-30", "says the patient is not deceased (N), but PID-29 gives a date/time of death")
    if deceased is False and by_disposition:
        raise FieldError("PV1-36", "the discharge disposition means the patient died, but PID-30 says not deceased (N)")
    if died_at is not None:
        return died_at
    if by_disposition:
        return optional_time(pv1, 45, header) or event_time(msg, header)
    return event_time(msg, header) if deceased else None
