"""Patient identity and demographics events."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from events.base import Event, Frozen
from events.errors import UpcastError
from events.referral_codes import normalise_code
from events.upcasting import UPCASTERS, Payload

Sex = Literal["female", "male", "other", "unknown"]
AttributeValue = str | int | float | bool


class Identifier(Frozen):
    """A patient identifier as issued by an assigning authority (MRN, national id, insurance number)."""

    authority: str = Field(min_length=1)
    value: str = Field(min_length=1)
    kind: str | None = Field(default=None, description="HL7 identifier type code, e.g. MR, NI, SS.")


class Contact(Frozen):
    """How the patient can be reached. PHI: never logged."""

    phone: str | None = None
    email: str | None = None
    wechat_openid: str | None = None


def _valid_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (expected e.g. 'Asia/Shanghai')") from exc
    return value


class _Demographics(Frozen):
    name: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    timezone: str | None = Field(default=None, description="IANA zone for local send times, e.g. 'Asia/Shanghai'.")
    language: str | None = Field(default=None, description="BCP 47 locale for messages, e.g. 'zh-CN', 'en'.")
    contact: Contact | None = None
    identifiers: tuple[Identifier, ...] = ()
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Free attributes journeys may test, e.g. membership tier."
    )

    _tz = field_validator("timezone")(_valid_timezone)


class ReferralClaim(Frozen):
    """The referral code a new patient came with (design §6), as the intake resolved it. The code is a pseudonym of
    the referrer's patient id, not the new patient's: it is never one of the new patient's identifiers."""

    code: str = Field(description="The printed, normalised code, e.g. 'K7QM-2XRP-9D4T' (events/referral_codes.py).")
    referrer_patient_id: str | None = Field(
        default=None,
        min_length=1,
        description="Whose code it is, as the intake's referral directory said; null: no member has this code "
        "(the core refuses the claim, unknown_code).",
    )

    @field_validator("code")
    @classmethod
    def _printed(cls, value: str) -> str:
        if normalise_code(value) != value:
            raise ValueError("must be a referral code in its printed form, 12 Crockford symbols as XXXX-XXXX-XXXX")
        return value


class PatientRegistered(Event, _Demographics):
    """A new patient. Version 2 carries the referral code the patient was registered with, if any."""

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["patient.registered"] = "patient.registered"
    referral: ReferralClaim | None = None


@UPCASTERS.register("patient.registered", 1)
def _no_referral(data: Payload) -> Payload:
    """Version 1 predates referrals: nobody was registered with a code. A version 1 payload that names one is a
    publisher's mistake, refused rather than dropped."""
    if "referral" in data:
        raise UpcastError("patient.registered: schema_version 1 has no field 'referral'; publish it as version 2")
    return {**data, "referral": None}


class PatientUpdated(Event, _Demographics):
    """Demographics changed. Fields left out (null) are unchanged; attributes are merged key by key."""

    type: Literal["patient.updated"] = "patient.updated"


class PatientMerged(Event):
    """``patient_id`` was found to be a duplicate and merged into ``into_patient_id`` (HL7 A40/A34, FHIR link)."""

    type: Literal["patient.merged"] = "patient.merged"
    into_patient_id: str = Field(min_length=1)


class PatientDeceased(Event):
    type: Literal["patient.deceased"] = "patient.deceased"


ErasureReason = Literal["request", "retention", "consent_withdrawn", "purpose_fulfilled", "legal_obligation"]


class PatientErased(Event):
    """The patient's data key was destroyed (crypto-shredding, ``careloop erase``): what it sealed, wherever a copy
    went, can no longer be read. Carries no patient data: the why is a code (PIPL Art. 47's grounds: the patient
    asked, the retention period ended, consent was withdrawn, the purpose was met, a legal duty); the erasing
    person's own words stay in the audit trail. Every journey ends and outreach stops; the read models drop the
    patient's rows.
    """

    type: Literal["patient.erased"] = "patient.erased"
    reason: ErasureReason
    requested_by: str = Field(
        min_length=1, max_length=128, description="Pseudonymous id of who asked (a staff login, 'retention')."
    )
    key_epoch: int = Field(
        ge=1,
        description="The epoch of the patient's data key that was destroyed: only a registration sealed under a "
        "later epoch (the patient came back on purpose) starts journeys for the patient again.",
    )
