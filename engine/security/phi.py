"""Which fields of the clinical events identify a patient, and sealing and revealing them.

Every clinical event type is listed twice: its fields sealed with the patient's key (``SEALED``) and its other
text fields, kept clear, each group for a reason (``CLEAR``). A test holds the two lists to the event models
(tests/unit/security/test_phi.py): a new event type, or a new text field, fails it until someone decides.

A field is named by its path: ``contact.phone`` (a nested model's field), ``identifiers[].value`` (that field of
each element of a tuple), ``items{}`` (each text value of a mapping; numbers stay clear). The name bound into a
sealed value is that path, with a mapping's key in place of ``{}`` (``items.q10``): stable across event types, so
a read model may keep the sealed value as it is (the contact directory's phone) and reveal it as
``contact.phone``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from engine.security.cipher import DataKey, epoch_of, is_sealed, reveal, seal
from engine.security.errors import AlreadySealedError, NotSealedError, UnclassifiedEventError
from engine.security.patient_keys import PatientKeys, relation_key_id
from events.base import Event

E = TypeVar("E", bound=Event)
M = TypeVar("M", bound=BaseModel)
Transform = Callable[[str, str], str]  # (value, field name) -> value

# The envelope identifies events, sources and journeys, never a person: careloop's patient id is a keyed pseudonym
# (engine/security/pseudonyms.py) and a source's message id is its control number.
ENVELOPE = ("event_id", "patient_id", "source.system", "source.message_id", "correlation_id", "causation_id")

_DEMOGRAPHICS = ("name", "contact.phone", "contact.email", "contact.wechat_openid", "identifiers[].value")
# Journeys read these: zone and language for send times and templates, authority and kind name the issuer and
# type of an identifier (not the person), and attributes are what conditions test (no connector puts a person's
# details there; a mapping that did would be a defect).
_PROFILE = ("identifiers[].authority", "identifiers[].kind", "timezone", "language", "attributes{}")
# The hospital's own ids of visits, appointments and results, its departments and staff, and codes with their
# display text: what journeys match on and analysts count.
_CODING = ("system", "code", "display")
_ENCOUNTER = ("encounter_id", "department", "clinician", *(f"diagnoses[].{c}" for c in _CODING))
_APPOINTMENT = ("appointment_id", "department", "clinician", "service")
_CODE = tuple(f"code.{c}" for c in _CODING)
_MESSAGE = ("message_id", "instance_id")  # the engine's own ids

SEALED: Mapping[str, tuple[str, ...]] = {
    "patient.registered": _DEMOGRAPHICS,
    "patient.updated": _DEMOGRAPHICS,
    "patient.merged": (),
    "patient.deceased": (),
    "patient.erased": (),
    "encounter.admitted": (),
    "encounter.discharged": (),
    "encounter.completed": (),
    "encounter.cancelled": (),
    "procedure.completed": (),
    "appointment.booked": (),
    "appointment.rescheduled": (),
    "appointment.cancelled": (),
    "appointment.no_show": (),
    "appointment.attended": (),
    "observation.recorded": ("narrative",),  # a report someone wrote (HL7 TX/FT)
    "condition.diagnosed": (),
    "questionnaire.completed": ("items{}",),  # scored items are numbers; text items are free-text answers
    "consent.granted": (),
    "consent.withdrawn": (),
    "outreach.paused": ("reason",),  # typed by staff: may name or describe the patient whatever the schema says
    "outreach.resumed": (),
    "outreach.sent": (),
    "outreach.delivered": (),
    "outreach.read": (),
    "outreach.failed": (),
    "outreach.replied": ("text",),  # whatever the patient wrote
    "task.claimed": (),
    "task.released": (),
    "task.closed": ("note",),  # typed by staff
    "points.redemption_requested": (),
    "points.adjustment_requested": (),
    "referral.submitted": (),
    "referral.received": (),
    "referral.answered": (),
    "referral.converted": (),
    # the relative's name and contact are theirs, sealed under the relation key (RELATION_SEALED), not the patient's
    "relationship.recorded": (),
    "relationship.ended": (),
    "relationship.consent_granted": (),
    "relationship.consent_withdrawn": (),
    "relationship.linked": (),
    "relationship.erased": (),
    "family_contract.signed": (),
    "family_contract.ended": (),
}

# A relative is a data subject too (issue 18): what identifies them is sealed with a key of their own, the relation
# key, owned by the patient the link is about (erasing the patient destroys it; erasing one relative destroys only
# theirs). Bound to ``relation_key_id(relation_id)``, so a value moved to another link does not reveal.
RELATION_SEALED: Mapping[str, tuple[str, ...]] = {
    "relationship.recorded": (
        "person.name",
        "person.contact.phone",
        "person.contact.email",
        "person.contact.wechat_openid",
    ),
}

CLEAR: Mapping[str, tuple[str, ...]] = {
    # the referral code and its resolved owner are pseudonyms of the referrer's patient id (like patient_id), which
    # the core compares and hands over to: never the new patient's identifier
    "patient.registered": (*_PROFILE, "referral.code", "referral.referrer_patient_id"),
    "patient.updated": _PROFILE,
    "patient.merged": ("into_patient_id",),  # a pseudonym like patient_id
    "patient.deceased": (),
    # a pseudonymous staff id (its reason is a code): the erasing person's own words stay in the audit trail
    "patient.erased": ("requested_by",),
    "encounter.admitted": _ENCOUNTER,
    "encounter.discharged": (*_ENCOUNTER, "disposition"),  # a coded disposition (home, transfer)
    "encounter.completed": _ENCOUNTER,
    # the source's coded reason (HL7 table 0062's text or code, a FHIR status), not text someone typed
    "encounter.cancelled": ("encounter_id", "reason"),
    "procedure.completed": ("procedure_id", *_CODE, "category", "encounter_id", "department", "clinician"),
    "appointment.booked": _APPOINTMENT,
    "appointment.rescheduled": _APPOINTMENT,
    "appointment.cancelled": (*_APPOINTMENT, "reason"),  # the scheduling system's cancellation reason code
    "appointment.no_show": _APPOINTMENT,
    "appointment.attended": _APPOINTMENT,
    # value: a number, code or short string journeys compare (sealing it would silently change what conditions
    # match); a narrative (HL7 TX/FT) goes to the sealed ``narrative`` instead. A FHIR valueString stays here: FHIR
    # does not tell a written report from a short result, and narratives come in DiagnosticReport, not mapped.
    "observation.recorded": ("observation_id", *_CODE, "value", "unit", "reference_range", "encounter_id"),
    "condition.diagnosed": ("condition_id", *_CODE, "encounter_id"),
    "questionnaire.completed": ("response_id", "instrument", "message_id"),
    "consent.granted": ("purpose", "relation_id"),  # relation_id: the relative's own channel, a pseudonym
    "consent.withdrawn": ("purpose", "relation_id"),
    "outreach.paused": ("by",),  # staff ids
    "outreach.resumed": ("by",),
    "outreach.sent": (*_MESSAGE, "gateway", "gateway_ref"),
    "outreach.delivered": _MESSAGE,
    "outreach.read": _MESSAGE,
    "outreach.failed": (*_MESSAGE, "reason"),  # the dispatcher's or gateway's reason, PHI-free by contract
    # the stop or start word the whole reply is, classified at the intake (a configured word, not the patient's)
    "outreach.replied": (*_MESSAGE, "keyword"),
    "task.claimed": ("task_id", "assignee"),
    "task.released": ("task_id", "by"),
    "task.closed": ("task_id", "outcome", "by"),  # outcome is a code (reached, rebooked...)
    # a reward of the programme, the caller's request id and a pseudonymous staff or client id: no person's words
    "points.redemption_requested": ("reward_id", "ref", "by"),
    "points.adjustment_requested": ("external_id", "by"),  # the caller's adjustment id, a staff or client id
    # a referral's code and id and both sides' patient ids are pseudonyms of the patients' ids (like patient_id)
    "referral.submitted": ("code", "referrer_patient_id"),
    "referral.received": ("code", "referral_id", "referee_patient_id"),
    "referral.answered": ("code", "referral_id", "referrer_patient_id"),
    "referral.converted": ("referral_id", "referee_patient_id"),
    # the link's pseudonymous ids, the source's role code and system, and the language and zone messages to the
    # relative are written and timed in (as a patient's own)
    "relationship.recorded": (
        "relation_id",
        "role_code",
        "role_system",
        "person.language",
        "person.timezone",
        "related_patient_id",
        "household_id",
    ),
    "relationship.ended": ("relation_id",),
    # the signed form's reference is the hospital's document id, not its content
    "relationship.consent_granted": ("relation_id", "basis_ref"),
    "relationship.consent_withdrawn": ("relation_id", "by"),
    "relationship.linked": ("subject_patient_id", "relation_id"),
    "relationship.erased": ("relation_id",),
    # the signing system's ids and codes: contract, pseudonymous household, care team, service package, end reason
    "family_contract.signed": ("contract_id", "household_id", "team", "package"),
    "family_contract.ended": ("contract_id", "reason"),
}


def sealed_fields(event_type: str) -> tuple[str, ...]:
    try:
        return SEALED[event_type]
    except KeyError:
        raise UnclassifiedEventError(
            f"{event_type}: not a clinical event type engine/security/phi.py classifies", event_type, "type"
        ) from None


def relation_sealed_fields(event_type: str) -> tuple[str, ...]:
    """The fields of ``event_type`` sealed with the relation key of the event's ``relation_id`` (a relative's)."""
    return RELATION_SEALED.get(event_type, ())


def seal_event(event: E, keys: PatientKeys) -> E:
    """A copy with every patient-identifying field sealed with the patient's key (made on first use), and every
    relative-identifying field with the relation key the patient owns (ErasedError when the patient was erased,
    RelationErasedError when that relative was). An event with nothing to seal comes back as it is (it is frozen); a
    value already sealed is refused."""
    paths = [p for p in sealed_fields(event.type) if _present(event, p)]
    relation_paths = [p for p in relation_sealed_fields(event.type) if _present(event, p)]
    if paths:
        event = _each(event, paths, _sealing(event.type, keys.key_for(event.patient_id), event.patient_id))
    if relation_paths:
        relation_id = _relation_id(event)
        key = keys.key_for_relation(event.patient_id, relation_id)
        event = _each(event, relation_paths, _sealing(event.type, key, relation_key_id(relation_id)))
    return event


def _sealing(event_type: str, key: DataKey, subject: str) -> Transform:
    def sealing(value: str, field: str) -> str:
        if is_sealed(value):
            raise AlreadySealedError(f"{event_type}: {field} is already sealed", event_type, field)
        return seal(key, value, subject, field)

    return sealing


def reveal_event(event: E, keys: PatientKeys) -> E:
    """A copy with every identifying field in clear. ErasedError if the key of a value (the patient's, or the
    relative's relation key) was erased; NotSealedError if such a field holds a clear value (it should never have
    rested so)."""
    paths = [p for p in sealed_fields(event.type) if _present(event, p)]
    relation_paths = [p for p in relation_sealed_fields(event.type) if _present(event, p)]
    if paths:
        event = _each(event, paths, _revealing(event.type, keys, event.patient_id))
    if relation_paths:
        event = _each(event, relation_paths, _revealing(event.type, keys, relation_key_id(_relation_id(event))))
    return event


def _revealing(event_type: str, keys: PatientKeys, subject: str) -> Transform:
    epochs: dict[int, DataKey] = {}

    def revealing(value: str, field: str) -> str:
        if not is_sealed(value):
            raise NotSealedError(
                f"{event_type}: {field} holds a clear value where a sealed one was expected", event_type, field
            )
        epoch = epoch_of(value, field)
        if epoch not in epochs:
            epochs[epoch] = keys.key_at(subject, epoch)
        return reveal(epochs[epoch], value, subject, field)

    return revealing


def mask_event(event: E, mask: str) -> E:
    """A copy with every identifying field present (the patient's and a relative's) replaced by ``mask`` (what an
    erased key sealed)."""
    every = (*sealed_fields(event.type), *relation_sealed_fields(event.type))
    paths = [p for p in every if _present(event, p)]
    return _each(event, paths, lambda value, field: mask) if paths else event


def _relation_id(event: Event) -> str:
    relation_id = getattr(event, "relation_id", None)
    if not isinstance(relation_id, str):
        raise UnclassifiedEventError(f"{event.type}: has relative's fields but no relation_id", event.type, "type")
    return relation_id


def reveal_value(keys: PatientKeys, token: str, patient_id: str, field: str, where: str) -> str:
    """One sealed value of a read model (``where``: its table, say) in clear: the key of its epoch, revealed for
    ``patient_id``'s ``field``. NotSealedError if it is a clear value; ErasedError if its key was erased."""
    if not is_sealed(token):
        raise NotSealedError(f"{where}: {field} holds a clear value where a sealed one was expected", where, field)
    return reveal(keys.key_at(patient_id, epoch_of(token, field)), token, patient_id, field)


def _each(event: E, paths: list[str], transform: Transform) -> E:
    for path in paths:
        event = _apply(event, path, transform)
    return event


def _apply(model: M, path: str, transform: Transform) -> M:
    """``model`` with the value at ``path`` replaced by ``transform(value, its field name)``, copied up the path."""
    head, _, rest = path.partition(".")
    name = head.removesuffix("[]").removesuffix("{}")
    value: Any = getattr(model, name)
    if value is None:
        return model
    if head.endswith("[]"):
        new: Any = tuple(_apply(item, rest, _within(head, transform)) for item in value)
    elif head.endswith("{}"):
        new = {k: transform(v, f"{name}.{k}") if isinstance(v, str) else v for k, v in value.items()}
    elif rest:
        new = _apply(value, rest, _within(head, transform))
    else:
        new = transform(value, name)
    return model.model_copy(update={name: new})


def _within(head: str, transform: Transform) -> Transform:
    return lambda value, field: transform(value, f"{head}.{field}")


def _present(model: BaseModel, path: str) -> bool:
    """Whether ``path`` holds any text to seal (most events' optional fields are empty)."""
    head, _, rest = path.partition(".")
    value: Any = getattr(model, head.removesuffix("[]").removesuffix("{}"))
    if head.endswith("[]"):
        return any(_present(item, rest) for item in value)
    if head.endswith("{}"):
        return any(isinstance(v, str) for v in value.values())
    return value is not None and (not rest or _present(value, rest))
