"""Patients found to be one, and identifiers that change.

- A34, A39, A40 merge: ``patient.merged`` per PID/MRG pair; MRG-1 (else MRG-4, the deprecated prior patient id)
  names the retired identifiers, PID-3 the survivor's; the identity port records the merge.
- A46, A47 change of patient identifiers: per PID/MRG pair, ``patient.updated`` with PID-3 as the identifiers.
  The patient is resolved by MRG-1's old identifiers followed by PID-3's new ones, which links the new ones to
  the patient the old ones name (``PatientIdentity.resolve``: any known identifier links the others). The old
  identifiers stay linked too (careloop never unlinks one; a message that still uses them reaches the same
  patient). New identifiers that already belong to another patient make it a merge, not a change: rejected.
  Deaths in the PID are reported for the same patient, first.
"""

from __future__ import annotations

from connectors.hl7v2.common import Draft, Header, PatientGroup, event_time, patient_groups, patient_of
from connectors.hl7v2.deaths import deaths
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import identifiers
from connectors.hl7v2.visit import demographics
from events import patient as pa
from events.patient import Identifier


def merge(msg: Message, header: Header) -> list[Draft]:
    """One ``patient.merged`` per PID (survivor) and each MRG that follows it (retired identifiers)."""
    drafts: list[Draft] = []
    for group, mrg in _pairs(msg, header):
        retired = _prior(mrg, header)
        survivor = patient_of(group.pid, header)
        n = len(drafts) + 1
        drafts.append(Draft(pa.PatientMerged, retired, event_time(msg, header), {}, f"MRG{n}", survivor))
    return drafts


def change_identifiers(msg: Message, header: Header) -> list[Draft]:
    pairs = _pairs(msg, header)
    # the identifiers each PID's patient is known by: its (first) MRG's old ones, then its new ones
    known_by = {group.pid: (*_prior(mrg, header), *patient_of(group.pid, header)) for group, mrg in reversed(pairs)}
    drafts = deaths(msg, header, lambda group: known_by.get(group.pid) or patient_of(group.pid, header))
    for n, (group, mrg) in enumerate(pairs, start=1):
        new = patient_of(group.pid, header)
        update = demographics(msg, header, group.pid, new, pa.PatientUpdated)
        both = tuple(dict.fromkeys((*_prior(mrg, header), *new)))  # old first: resolving them finds the patient
        drafts.append(Draft(pa.PatientUpdated, both, update.occurred_at, update.fields, f"MRG{n}", linked=new))
    return drafts


def _pairs(msg: Message, header: Header) -> list[tuple[PatientGroup, Segment]]:
    """Each MRG with the PID above it."""
    pairs = [(g, s) for g in patient_groups(msg) for s in g.segments if s.name == "MRG"]
    if not pairs:
        raise FieldError(
            "MRG-1", f"an {header.message_type} needs a PID followed by an MRG naming the prior identifiers"
        )
    return pairs


def _prior(mrg: Segment, header: Header) -> tuple[Identifier, ...]:
    # MRG-1 prior patient identifier list; MRG-4 (prior patient id, deprecated) in old feeds
    found = identifiers(mrg.repetitions(1), header.facility) or identifiers(mrg.repetitions(4), header.facility)
    if not found:
        raise FieldError("MRG-1", "no prior patient identifier")
    return found
