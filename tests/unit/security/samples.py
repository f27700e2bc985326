"""One event of every clinical type, every optional text field filled, with values like those a hospital in
Beijing sends (a patient registered from an ADT^A04 with MRN, national id, mobile and WeChat openid; her visits,
results, replies and the care team's notes about her). PHI_VALUES lists each identifying value, to search for."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import households as hh
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events import referrals as rf
from events import relationships as rs
from events import tasks as ta
from events.base import Coding, Event, Source

CST = timezone(timedelta(hours=8))
PATIENT = "pt-3f9c2a71b04e8d56c1a0"
OTHER_PATIENT = "pt-9a0b1c2d3e4f5a6b7c8d"
NAME = "李芳"
PHONE = "+8613884860701"
EMAIL = "li.fang@example.cn"
OPENID = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
MRN = "MRN00482913"
NATIONAL_ID = "110101199003071234"
REPLY = "我这周在外地出差，下周再去复查可以吗？李芳"
NOTE = "Reached Li Fang's daughter on 13884860701; rebooked for Tuesday"
PAUSE_REASON = "Patient Li Fang in hospice care at home, family asked for no messages"
COMMENT = "The nurse on ward 5 (Zhang) was very kind to me, Li Fang"
# her daughter, recorded from an NK1 segment (a relative is a data subject too: sealed under the relation key)
RELATION = "rel-8c1d2e3f4a5b6c7d"
RELATIVE_NAME = "王小红"
RELATIVE_PHONE = "+8613912345678"
RELATIVE_EMAIL = "wang.xh@example.cn"
RELATIVE_OPENID = "oGZUI0fKx81Pm2QvLr7sTnWbHyAc"
REFERRAL_CODE = "53NZ-C24F-V7XV"
PHI_VALUES = (
    NAME,
    PHONE,
    EMAIL,
    OPENID,
    MRN,
    NATIONAL_ID,
    REPLY,
    NOTE,
    PAUSE_REASON,
    COMMENT,
    RELATIVE_NAME,
    RELATIVE_PHONE,
    RELATIVE_EMAIL,
    RELATIVE_OPENID,
)

_messages = itertools.count(1)
_at = datetime(2026, 3, 2, 10, 0, tzinfo=CST)


def event(cls: type[Event], patient: str = PATIENT, **fields: Any) -> Any:
    source = Source(system="his-main", message_id=f"MSG{next(_messages):06d}")
    return cls.create(source=source, patient_id=patient, occurred_at=_at, recorded_at=_at, **fields)


def demographics() -> dict[str, Any]:
    return {
        "name": NAME,
        "birth_date": "1990-03-07",
        "sex": "female",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "contact": pa.Contact(phone=PHONE, email=EMAIL, wechat_openid=OPENID),
        "identifiers": (
            pa.Identifier(authority="BJ-HOSP-1", value=MRN, kind="MR"),
            pa.Identifier(authority="CN-NATIONAL-ID", value=NATIONAL_ID, kind="NI"),
        ),
        "attributes": {"membership": "gold", "visits_last_year": 4},
    }


def icd10(code: str, display: str) -> Coding:
    return Coding(system="icd-10", code=code, display=display)


def _appointment(cls: type[Event], **fields: Any) -> Any:
    common: dict[str, Any] = {"appointment_id": "APT-20260309-017", "start_at": _at + timedelta(days=7), "end_at": None}
    details: dict[str, Any] = {"department": "endocrinology", "clinician": "Dr. Wang Lei", "service": "follow-up"}
    return event(cls, **common, **details, **fields)


def _encounter(cls: type[Event], **fields: Any) -> Any:
    coded = (icd10("E11.9", "Type 2 diabetes mellitus without complications"),)
    return event(
        cls,
        encounter_id="V2026030200417",
        department="endocrinology",
        clinician="Dr. Wang Lei",
        diagnoses=coded,
        **fields,
    )


def one_of_each() -> dict[str, Any]:
    """Every clinical event type, by type (Any: each test reads the fields of the type it picks)."""
    glucose = Coding(system="loinc", code="2345-7", display="Glucose [Mass/volume] in Serum or Plasma")
    built = [
        event(pa.PatientRegistered, **demographics()),
        event(pa.PatientUpdated, **demographics()),
        event(pa.PatientMerged, into_patient_id=OTHER_PATIENT),
        event(pa.PatientDeceased),
        event(pa.PatientErased, reason="retention", requested_by="retention", key_epoch=1),
        _encounter(en.EncounterAdmitted, encounter_class="inpatient"),
        _encounter(en.EncounterDischarged, encounter_class="inpatient", admitted_at=_at, disposition="home"),
        _encounter(en.EncounterCompleted, encounter_class="outpatient"),
        event(en.EncounterCancelled, encounter_id="V2026030200417", cancelled="admission", reason="Patient request"),
        event(
            en.ProcedureCompleted,
            procedure_id="PR-88121",
            code=Coding(system="cpt", code="27447", display="Total knee arthroplasty"),
            category="surgical",
            encounter_id="V2026030200417",
            department="orthopedics",
            clinician="Dr. Chen Jun",
        ),
        _appointment(ap.AppointmentBooked),
        _appointment(ap.AppointmentRescheduled, previous_start_at=_at + timedelta(days=6)),
        _appointment(ap.AppointmentCancelled, reason="CANCELLED_BY_PATIENT"),
        _appointment(ap.AppointmentNoShow),
        _appointment(ap.AppointmentAttended),
        event(
            fi.ObservationRecorded,
            observation_id="OBX-1",
            code=glucose,
            value="High",
            narrative="Fasting sample; patient reports missing the evening dose.",
            unit="mmol/L",
            abnormal_flag="high",
            reference_range="3.9-6.1",
            encounter_id="V2026030200417",
        ),
        event(fi.ConditionDiagnosed, condition_id="DX-1", code=icd10("I10", "Essential hypertension"), onset_at=_at),
        event(
            fi.QuestionnaireCompleted,
            response_id="QR-5521",
            instrument="satisfaction",
            score=9,
            items={"q1": 9, "speed": 7.5, "comment": COMMENT},
            message_id="msg-sat-1",
        ),
        event(ou.ConsentGranted, channel="wechat", purpose="care"),
        event(ou.ConsentWithdrawn, channel="sms", purpose="marketing"),
        event(ou.OutreachPaused, reason=PAUSE_REASON, by="nurse-0117"),
        event(ou.OutreachResumed, by="nurse-0117"),
        event(
            ou.OutreachSent,
            message_id="msg-1",
            channel="sms",
            instance_id="inst-1",
            gateway="aliyun-sms",
            gateway_ref="GW-771",
        ),
        event(ou.OutreachDelivered, message_id="msg-1", channel="sms", instance_id="inst-1"),
        event(ou.OutreachRead, message_id="msg-1", channel="wechat", instance_id="inst-1"),
        event(ou.OutreachFailed, message_id="msg-1", channel="sms", instance_id="inst-1", reason="HTTP 503"),
        event(ou.OutreachReplied, message_id="msg-1", channel="wechat", instance_id="inst-1", text=REPLY),
        event(ta.TaskClaimed, task_id="task-1", assignee="nurse-0117"),
        event(ta.TaskReleased, task_id="task-1", by="nurse-0117"),
        event(ta.TaskClosed, task_id="task-1", outcome="rebooked", by="nurse-0117", note=NOTE, reached_at=_at),
        event(lo.PointsRedemptionRequested, reward_id="parking-voucher", quantity=2, ref="R-0815", by="desk-0042"),
        event(
            lo.PointsAdjustmentRequested,
            external_id="ADJ-17",
            points=-200,
            qualifying=True,
            expires="never",
            reason_code="correction",
            by="desk-0042",
        ),
        *_referrals(),
        *_family(),
    ]
    return {e.type: e for e in built}


def _referrals() -> list[Any]:
    referral_id = rf.referral_id(PATIENT, REFERRAL_CODE)
    return [
        event(rf.ReferralSubmitted, code=REFERRAL_CODE, referrer_patient_id=OTHER_PATIENT),
        event(rf.ReferralReceived, code=REFERRAL_CODE, referral_id=referral_id, referee_patient_id=PATIENT),
        event(
            rf.ReferralAnswered,
            code=REFERRAL_CODE,
            referral_id=referral_id,
            outcome="accepted",
            referrer_patient_id=OTHER_PATIENT,
        ),
        event(rf.ReferralConverted, referral_id=referral_id, referee_patient_id=PATIENT),
    ]


def _family() -> list[Any]:
    person = rs.Person(
        name=RELATIVE_NAME,
        contact=pa.Contact(phone=RELATIVE_PHONE, email=RELATIVE_EMAIL, wechat_openid=RELATIVE_OPENID),
        language="zh-CN",
        timezone="Asia/Shanghai",
    )
    contract = {"contract_id": "FDC-110105-2026-0118", "household_id": "hh-5e1a9c"}
    return [
        event(
            rs.RelationshipRecorded,
            relation_id=RELATION,
            role="child",
            role_code="DAU",
            role_system="HL70063",
            person=person,
            related_patient_id=OTHER_PATIENT,
            household_id="hh-5e1a9c",
            since="1990-03-07",
        ),
        event(rs.RelationshipEnded, relation_id=RELATION, reason="source_ended", ended_at="2027-02-20"),
        event(
            rs.RelationshipConsentGranted,
            relation_id=RELATION,
            purposes=("care",),
            information=("appointments", "reminders"),
            granted_by="patient",
            basis_ref="CONSENT-FORM-2026-0412",
        ),
        event(rs.RelationshipConsentWithdrawn, relation_id=RELATION, purposes=("care",), by="desk-0042"),
        event(rs.RelationshipLinked, subject_patient_id=OTHER_PATIENT, relation_id=RELATION, role="parent"),
        event(rs.RelationshipErased, relation_id=RELATION, reason="request", key_epoch=1),
        event(
            hh.FamilyContractSigned,
            **contract,
            role="holder",
            team="chaoyang-team-03",
            package="elderly-basic",
            starts_on="2026-03-01",
            ends_on="2027-02-28",
        ),
        event(hh.FamilyContractEnded, contract_id=contract["contract_id"], reason="expired"),
    ]
