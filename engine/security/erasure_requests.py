"""What an erasure request must say, from the command line or over the erasure API: the patient, the ground (a
reason code) and the request's id in the deployer's register of data subject requests.

The checks are the same for both, and their messages name the field, never the value given: a reference that is
not an id may be words about the patient, which nothing may repeat (a log, an answer, the audit trail that outlives
the erasure).
"""

from __future__ import annotations

import re
from typing import get_args

from engine.security.erasure import Request
from events.patient import ErasureReason

CODES: tuple[str, ...] = get_args(ErasureReason)
# A request's id in the deployer's register, not words: letters, digits and a few separators, as register ids are.
REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
# The ids careloop derives (engine/security/pseudonyms.py): "pt-" and 20 hex digits of an HMAC.
PATIENT_ID = re.compile(r"pt-[0-9a-f]{20}")
FIELDS = ("reason", "ref")
# A relation id (events/relationships.py): a UUID or a keyed pseudonym careloop made, never a relative's name.
RELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
RELATION_PROBLEM = "a relation id as careloop made it (letters, digits and . _ : -, at most 128), not a name"

REASON_PROBLEM = f"the ground of the erasure is one of {', '.join(CODES)}"
REF_PROBLEM = "a request's id (letters, digits and . _ : / -, at most 64), not words"


class InvalidRequestError(ValueError):
    """The request cannot be carried out as given: ``field`` says where."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


def erasure_request(patient_id: str, body: object, requested_by: str) -> Request:
    """The request a JSON body ({"reason": CODE, "ref": REQUEST-ID}) posted for ``patient_id`` makes, asked by
    ``requested_by``; InvalidRequestError naming the field otherwise. A field it does not know is refused rather
    than ignored: the caller meant something by it."""
    if not PATIENT_ID.fullmatch(patient_id):
        raise InvalidRequestError("patient_id", "a patient id is pt- and 20 lowercase hex digits, as careloop makes")
    if not isinstance(body, dict):
        raise InvalidRequestError(None, 'the body is a JSON object: {"reason": CODE, "ref": REQUEST-ID}')
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:
        raise InvalidRequestError(unknown[0], f"not a field of an erasure request (those are {', '.join(FIELDS)})")
    reason, ref = body.get("reason"), body.get("ref")
    if reason is None:
        raise InvalidRequestError("reason", f"required: {REASON_PROBLEM}")
    if reason not in CODES:
        raise InvalidRequestError("reason", f"not a reason code: {REASON_PROBLEM}")
    if ref is not None and not (isinstance(ref, str) and REF.fullmatch(ref)):
        raise InvalidRequestError("ref", f"not a reference: {REF_PROBLEM}")
    return Request(patient_id, reason, ref, requested_by)
