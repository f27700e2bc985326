"""Events -> patient_profiles rows. Pure.

A demographic event sets the fields it gives (patient.updated leaves out what did not change) and leaves the
others; the row follows the log's order, so a correction that arrives after a later change (an older
patient.updated delivered late) is applied as it arrives. Of the free-form attributes only ``tier`` is kept (when
given: attributes merge key by key). Names, contacts and identifiers never reach this table.
"""

from __future__ import annotations

import json
from typing import Any

from events import patient as pa
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Upsert

TABLE = "patient_profiles"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operation for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, pa.PatientRegistered | pa.PatientUpdated):
        given = {"birth_date": e.birth_date, "sex": e.sex, "tier": _tier(e.attributes)}
        return [_row(e, {name: value for name, value in given.items() if value is not None})]
    if isinstance(e, pa.PatientDeceased):
        return [_row(e, {"deceased_at": e.occurred_at})]
    if isinstance(e, pa.PatientMerged):
        return [_row(e, {"merged_into": e.into_patient_id})]
    return []


def _tier(attributes: dict[str, pa.AttributeValue]) -> str | None:
    """The membership tier, the one attribute analysts group by (the others are free-form and may identify).
    Kept as the hospital wrote it: text as is, a number or a flag in its JSON spelling ('2', 'true')."""
    value = attributes.get("tier")
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _row(e: Event, values: dict[str, Any]) -> Upsert:
    return Upsert(TABLE, ("patient_id",), {"patient_id": e.patient_id, **values, "updated_at": e.occurred_at})


PROJECTION = Projection(
    name="patient_profiles",
    tables=(TABLE,),
    changes=changes,
    reads=(pa.PatientRegistered, pa.PatientUpdated, pa.PatientDeceased, pa.PatientMerged),
    package=__package__ or __name__,
)
