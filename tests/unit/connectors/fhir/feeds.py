"""FHIR JSON as hospital systems send it, built in the tests: a HIS facade's transaction Bundle of an inpatient stay
(patient, encounter), with Chinese names, local phone numbers and +08:00 times. Each builder returns plain JSON data
a test changes before mapping it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from connectors.base import Location
from connectors.fhir import FhirOptions, MapResult, map_document
from connectors.profiles import SourceProfile, SourceProfiles
from tests.keys import memory_identity

# When the intake read the file or received the request (the shell's clock, here fixed).
RECEIVED = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
MRN = "urn:oid:2.16.156.10011.1.12"  # a hospital's medical record numbers (an OID under China's arc)

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "pat-1001",
    "meta": {"lastUpdated": "2026-03-01T08:05:00+08:00"},
    "identifier": [
        {
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": MRN,
            "value": "0012345",
        }
    ],
    "name": [{"use": "official", "family": "欧阳", "given": ["娜娜"]}],
    "gender": "female",
    "birthDate": "1990-06-15",
    "telecom": [{"system": "phone", "value": "138 8486 0701", "use": "mobile"}],
}

STAY: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "enc-2001",
    "meta": {"lastUpdated": "2026-03-05T10:30:00+08:00"},
    "status": "finished",
    "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
    "subject": {"reference": "Patient/pat-1001"},
    "period": {"start": "2026-03-01T09:00:00+08:00", "end": "2026-03-05T10:00:00+08:00"},
    "serviceType": {"text": "General Surgery"},
    "hospitalization": {
        "dischargeDisposition": {"coding": [{"system": DISPOSITION, "code": "home", "display": "Home"}]}
    },
}

APPOINTMENT_EXAMPLE: dict[str, Any] = {
    "resourceType": "Appointment",
    "id": "apt-3001",
    "meta": {"lastUpdated": "2026-03-02T16:00:00+08:00"},
    "status": "booked",
    "start": "2026-03-19T09:30:00+08:00",
    "end": "2026-03-19T09:45:00+08:00",
    "participant": [{"actor": {"reference": "Patient/pat-1001"}, "status": "accepted"}],
}


def patient(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(PATIENT) | changes


def stay(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(STAY) | changes


def bundle(*resources: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A transaction Bundle of the resources, in order."""
    entries = [
        {
            "fullUrl": f"urn:uuid:7f0c1a52-0000-4000-8000-{i:012d}",
            "resource": r,
            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r.get('id', i)}"},
        }
        for i, r in enumerate(resources)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries} | changes


def profiles(**default: str) -> SourceProfiles:
    return SourceProfiles(default=SourceProfile(**default))


def mapped(document: Any, **options: Any) -> MapResult:
    """Map JSON data (or raw bytes) as the intake does; received_at is the shell's unless a test says otherwise."""
    data = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    options.setdefault("received_at", RECEIVED)
    return map_document(data, Location("his-west.json"), memory_identity(), FhirOptions(**options))


def types(result: MapResult) -> list[str]:
    return [e.type for e in result.events]


def reasons(result: MapResult) -> list[str]:
    return [str(r.reason) for r in result.rejects]
