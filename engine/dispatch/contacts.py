"""The contact directory (dispatch_contacts) holds the patients' names and addresses sealed, as the intakes sealed
them in patient.registered/updated: the dispatcher reveals a row in memory, for the one message it sends, and
nothing revealed is stored or logged."""

from __future__ import annotations

from dataclasses import replace

from engine.dispatch.errors import PermanentSendError
from engine.dispatch.rendering import Contact
from engine.security.errors import CipherError, ErasedError, NotSealedError, PatientKeyError
from engine.security.patient_keys import PatientKeys
from engine.security.phi import reveal_value

TABLE = "dispatch_contacts"
# Contact's attribute -> the field name its value was sealed under in the events (engine/security/phi.py)
SEALED_AS = {
    "name": "name",
    "phone": "contact.phone",
    "email": "contact.email",
    "wechat_openid": "contact.wechat_openid",
}


def revealed(contact: Contact, patient_id: str, keys: PatientKeys, sealed: bool = True) -> Contact:
    """The row with its sealed fields in clear. PermanentSendError, naming the field and never its value, when
    one cannot be: the patient was erased, or the value is clear or does not authenticate (not the intakes').
    ``sealed`` False (CARELOOP_SEAL_PATIENT_DATA=false, only to measure sealing's cost): the row is clear already."""
    if not sealed:
        return contact
    clear = {}
    for attribute, field in SEALED_AS.items():
        value = getattr(contact, attribute)
        if value is None:
            continue
        try:
            clear[attribute] = reveal_value(keys, value, patient_id, field, TABLE)
        except ErasedError as exc:
            raise PermanentSendError("the patient's data was erased: there is no one to send to") from exc
        except NotSealedError as exc:
            raise PermanentSendError(f"{TABLE}: {field} holds a clear value where a sealed one was expected") from exc
        except (CipherError, PatientKeyError) as exc:
            raise PermanentSendError(f"{TABLE}: {field} cannot be revealed: {exc}") from exc
    return replace(contact, **clear)
