"""The requests the outreach intake accepts, as strict models: unknown fields and missing ones are errors.

Every request may say when it happened (``at``, with its UTC offset; default: when it arrived) and carry the
sender's own id for it (``receipt_id``, ``reply_id``, ``response_id``, ``request_id``): an id, or else the facts
themselves, make the event id, so a sender retrying the same callback is recognised downstream.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from connectors.outreach.errors import PayloadError
from events.outreach import Channel, ConsentChannel, Purpose
from events.relationships import Delivery, GrantedBy, Information, RelationPurpose

Id = Annotated[str, Field(min_length=1, max_length=200)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    at: AwareDatetime | None = Field(default=None, description="When it happened; default: when it arrived.")


class Receipt(_Payload):
    """A gateway's delivery report for a message careloop sent: delivered, read (the patient opened it: WeChat, app
    push and email gateways report it) or failed."""

    kind: Literal["receipt"] = "receipt"
    message_id: Id
    channel: Channel
    status: Literal["delivered", "read", "failed"]
    reason: str | None = Field(default=None, min_length=1, description="Why it failed; required when failed.")
    final: bool = Field(default=True, description="failed: no more retries on this channel.")
    attempt: int | None = Field(default=None, ge=1, description="The engine's attempt; default: the current one.")
    gateway_ref: str | None = Field(default=None, description="The gateway's id for the message.")
    receipt_id: Id | None = Field(default=None, description="The gateway's id for this receipt.")

    @model_validator(mode="after")
    def _failed_needs_reason(self) -> Receipt:
        if self.status == "failed" and not self.reason:
            raise ValueError("a failed receipt needs a reason (field 'reason')")
        return self


class Reply(_Payload):
    """A patient's answer to a message (``message_id``), or a message they sent unprompted (``patient_id``)."""

    kind: Literal["reply"] = "reply"
    message_id: Id | None = None
    patient_id: Id | None = None
    channel: Channel
    text: str | None = Field(default=None, max_length=10_000, description="PHI: never logged.")
    reply_id: Id | None = Field(default=None, description="The gateway's id for the inbound message.")

    @model_validator(mode="after")
    def _names_message_or_patient(self) -> Reply:
        if self.message_id is None and self.patient_id is None:
            raise ValueError("a reply names the message it answers (message_id) or, unprompted, the patient_id")
        return self


class QuestionnaireResponse(_Payload):
    kind: Literal["questionnaire"] = "questionnaire"
    patient_id: Id | None = None
    message_id: Id | None = Field(default=None, description="The outreach message that asked for it, if any.")
    instrument: Id
    items: dict[str, int | float | str] = Field(min_length=1)
    response_id: Id | None = Field(default=None, description="The form's id for this response.")

    @model_validator(mode="after")
    def _names_patient(self) -> QuestionnaireResponse:
        if self.message_id is None and self.patient_id is None:
            raise ValueError("a questionnaire response names the patient_id (or the message_id that asked for it)")
        return self


class ConsentChange(_Payload):
    kind: Literal["consent"] = "consent"
    patient_id: Id
    channel: ConsentChannel
    status: Literal["granted", "withdrawn"]
    purpose: Purpose = "care"
    relation_id: Id | None = Field(
        default=None, description="A relative's own channel (their opt-out); else the patient's."
    )
    request_id: Id | None = None


class RelationshipConsent(_Payload):
    """The patient's separate consent (a child's: the guardian's) that one relative may receive messages of
    ``purposes`` about ``information`` (PIPL Art. 23/29/31), or its withdrawal (``information`` empty: all of it)."""

    kind: Literal["relationship_consent"] = "relationship_consent"
    patient_id: Id
    relation_id: Id
    status: Literal["granted", "withdrawn"]
    purposes: tuple[RelationPurpose, ...] = Field(min_length=1)
    information: tuple[Information, ...] = ()
    delivery: Delivery | None = Field(default=None, description="granted: also (default) or instead.")
    granted_by: GrantedBy | None = Field(default=None, description="granted: patient or guardian (required).")
    basis_ref: Id | None = Field(default=None, description="granted: the signed form's reference.")
    expires_on: date | None = Field(default=None, description="granted: the consent lapses after this day.")
    by: str | None = Field(default=None, min_length=1, description="withdrawn: who recorded it (a staff id).")
    request_id: Id | None = None

    @model_validator(mode="after")
    def _fields_of_its_status(self) -> RelationshipConsent:
        if self.status == "granted":
            if not self.information:
                raise ValueError(
                    "a grant names the kinds of information the relative may receive (field 'information')"
                )
            if self.granted_by is None:
                raise ValueError("a grant says who gave it, patient or guardian (field 'granted_by')")
            if self.by is not None:
                raise ValueError("'by' records who withdrew a consent: a grant has granted_by and basis_ref")
            return self
        given = [f for f in ("delivery", "granted_by", "basis_ref", "expires_on") if getattr(self, f) is not None]
        if given:
            raise ValueError(f"a withdrawal takes no {given[0]!r}: it applies to the purposes and information named")
        return self


class Pause(_Payload):
    kind: Literal["pause"] = "pause"
    patient_id: Id
    reason: str = Field(min_length=1, max_length=500, description="Why, in words staff can read (no PHI).")
    by: str | None = Field(default=None, min_length=1)
    request_id: Id | None = None


class Resume(_Payload):
    kind: Literal["resume"] = "resume"
    patient_id: Id
    by: str | None = Field(default=None, min_length=1)
    request_id: Id | None = None


Payload = Receipt | Reply | QuestionnaireResponse | ConsentChange | RelationshipConsent | Pause | Resume
KINDS: dict[str, type[Payload]] = {
    "receipt": Receipt,
    "reply": Reply,
    "questionnaire": QuestionnaireResponse,
    "consent": ConsentChange,
    "relationship_consent": RelationshipConsent,
    "pause": Pause,
    "resume": Resume,
}
_adapters = {kind: TypeAdapter(cls) for kind, cls in KINDS.items()}


def parse(kind: str, data: Any, index: int | None = None) -> Payload:
    """One request of ``kind`` from decoded JSON (``index``: its place in a JSON array); a PayloadError names the
    first field at fault, e.g. ``items.q3`` or ``[2].channel``."""
    if kind not in KINDS:
        raise PayloadError(f"unknown request kind {kind!r} (kinds: {', '.join(KINDS)})")
    at = "" if index is None else f"[{index}]"
    if not isinstance(data, dict):
        raise PayloadError(f"{kind}{at} must be a JSON object, not {type(data).__name__}", at or None)
    data = {k: v for k, v in data.items() if not (k == "kind" and v == kind)}
    try:
        payload: Payload = _adapters[kind].validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        path = f"{at}.{field}".lstrip(".") if field else at
        message = str(first["msg"]).removeprefix("Value error, ")
        raise PayloadError(
            f"{kind}{at}: field {path!r}: {message}" if path else f"{kind}: {message}", path or None
        ) from exc
    return payload
