"""What an erased patient's state is, and which inputs it still takes. Pure.

``patient.erased`` (published by ``careloop erase`` once the patient's data key is destroyed) leaves a blank state
that remembers only the erased key epoch: no profile, journeys, messages, tasks, flags or signals. From then on the
core ignores the patient's inputs: they decide nothing and are not recorded as the patient's events, so nothing new
about a patient who was erased is kept (the store's record of applied inputs keeps only the input's id, so a
redelivery is still recognised).

The one way back is a *re-registration*: a ``patient.registered`` or ``patient.updated`` whose identifying fields
are sealed under a key epoch later than the erased one. The intakes seal with the patient's live key
(engine/security/patient_keys.py), and an erased patient has none until someone renews it on purpose
(``PatientKeys.renew``), so a later epoch means the patient came back. A message sealed before the erasure and
delivered after it carries the erased epoch, and a demographics event with nothing sealed (or sealed nowhere, as
in a simulation of clear events) carries none: both are ignored, and the patient stays erased.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.journeys.state import EMPTY, PatientState, Profile
from events.base import Event
from events.patient import PatientErased, PatientRegistered, PatientUpdated

if TYPE_CHECKING:  # fold_inputs folds patient.erased with ``forgotten``
    from engine.journeys.fold_inputs import Changes

# The sealed text form of engine/security/cipher.py, ``enc1:<key epoch>:<base64url>`` (the core does not import
# the cipher: it only reads which epoch sealed a value; tests/unit/journeys/test_erasure.py holds the two together)
_SEALED = re.compile(r"enc1:([1-9][0-9]{0,9}):[A-Za-z0-9_-]+")


def is_erased(state: PatientState) -> bool:
    return state.erased_epoch is not None


def ignores(state: PatientState, trigger: object) -> bool:
    """Whether an erased patient's state takes no notice of ``trigger`` (a tick, or an event that is not their
    re-registration); never for a patient who is not erased."""
    if state.erased_epoch is None:
        return False
    return not (isinstance(trigger, Event) and reregisters(state.erased_epoch, trigger))


def reregisters(erased_epoch: int, event: Event) -> bool:
    """Whether ``event`` is demographics sealed under a key epoch after ``erased_epoch``."""
    if not isinstance(event, PatientRegistered | PatientUpdated):
        return False
    return any(epoch > erased_epoch for epoch in sealed_epochs(event))


def sealed_epochs(event: PatientRegistered | PatientUpdated) -> set[int]:
    """The key epochs the event's sealed identifying fields name (phi.SEALED's demographics)."""
    contact = event.contact
    values = [event.name, *(i.value for i in event.identifiers)]
    if contact is not None:
        values += [contact.phone, contact.email, contact.wechat_openid]
    return {int(m.group(1)) for v in values if v is not None and (m := _SEALED.fullmatch(v))}


def forgotten(state: PatientState, event: PatientErased) -> Changes:
    """The fields of ``state`` that ``patient.erased`` changes: everything the patient's journeys knew, blanked;
    the erased epoch kept (the highest seen, should an older erasure be delivered again)."""
    epoch = max(event.key_epoch, state.erased_epoch or 0)
    return {
        "profile": Profile(),
        "instances": EMPTY,
        "flags": MappingProxyType({}),
        "messages": EMPTY,
        "tasks": EMPTY,
        "sent": (),
        "no_shows": (),
        "unanswered": (),
        "feedback": (),
        "erased_epoch": epoch,
        "experiments": frozenset(),  # the read models drop the assignment: a re-registered patient is assigned anew
        "loyalty": None,  # points, tier and badges go with the patient; a re-registered patient enrols anew
        "family": None,  # links and their consent go too: the relation keys the patient owned are shredded
        "calendar": None,  # the campaigns' schedule and attendance are the patient's too
    }
