"""The contact directory (dispatch_contacts) holds the patients' names and addresses sealed, as the intakes sealed
them in patient.registered/updated: the dispatcher reveals a row in memory, for the one message it sends, and
nothing revealed is stored or logged. A relative's row (dispatch_relative_contacts) is sealed under the relation's
own key (relationship.recorded's ``person.*``), and revealed with it."""

from __future__ import annotations

from dataclasses import replace

from engine.dispatch.errors import PermanentSendError
from engine.dispatch.rendering import Contact
from engine.security.errors import CipherError, ErasedError, NotSealedError, PatientKeyError
from engine.security.patient_keys import PatientKeys, relation_key_id
from engine.security.phi import reveal_value

TABLE = "dispatch_contacts"
RELATIVES = "dispatch_relative_contacts"
# Contact's attribute -> the field name its value was sealed under in the events (engine/security/phi.py)
SEALED_AS = {
    "name": "name",
    "phone": "contact.phone",
    "email": "contact.email",
    "wechat_openid": "contact.wechat_openid",
}


# The same for a relative: the fields relationship.recorded sealed under the relation key (RELATION_SEALED)
RELATIVE_SEALED_AS = {
    "name": "person.name",
    "phone": "person.contact.phone",
    "email": "person.contact.email",
    "wechat_openid": "person.contact.wechat_openid",
}


def revealed_relative(contact: Contact, relation_id: str, keys: PatientKeys, sealed: bool = True) -> Contact:
    """A relative's row in clear, with their relation key. PermanentSendError, naming the field, when it cannot be:
    the relative's data was erased (their key, or the patient's with all their relation keys), or a value is clear."""
    if not sealed:
        return contact
    return _revealed(contact, relation_key_id(relation_id), keys, RELATIVE_SEALED_AS, RELATIVES, "relative")


def revealed(contact: Contact, patient_id: str, keys: PatientKeys, sealed: bool = True) -> Contact:
    """The row with its sealed fields in clear. PermanentSendError, naming the field and never its value, when
    one cannot be: the patient was erased, or the value is clear or does not authenticate (not the intakes').
    ``sealed`` False (CARELOOP_SEAL_PATIENT_DATA=false, only to measure sealing's cost): the row is clear already."""
    if not sealed:
        return contact
    return _revealed(contact, patient_id, keys, SEALED_AS, TABLE, "patient")


def _revealed(
    contact: Contact, subject: str, keys: PatientKeys, sealed_as: dict[str, str], table: str, who: str
) -> Contact:
    clear = {}
    for attribute, field in sealed_as.items():
        value = getattr(contact, attribute)
        if value is None:
            continue
        try:
            clear[attribute] = reveal_value(keys, value, subject, field, table)
        except ErasedError as exc:
            raise PermanentSendError(f"the {who}'s data was erased: there is no one to send to") from exc
        except NotSealedError as exc:
            raise PermanentSendError(f"{table}: {field} holds a clear value where a sealed one was expected") from exc
        except (CipherError, PatientKeyError) as exc:
            raise PermanentSendError(f"{table}: {field} cannot be revealed: {exc}") from exc
    return replace(contact, **clear)
