"""family_contract.signed / family_contract.ended -> household_members rows. Pure.

A contract signed again (renewed under the same id, a corrected export) overwrites its row and clears an earlier end;
an end marks the member's row of that contract only.
"""

from __future__ import annotations

from events import households as hh
from events.base import Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

TABLE = "household_members"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, hh.FamilyContractSigned):
        row = {
            "contract_id": e.contract_id,
            "patient_id": e.patient_id,
            "household_id": e.household_id,
            "role": e.role,
            "team": e.team,
            "package": e.package,
            "starts_on": e.starts_on,
            "ends_on": e.ends_on,
            "signed_at": e.occurred_at,
            "ended_at": None,
            "end_reason": None,
        }
        return [Upsert(TABLE, ("contract_id", "patient_id"), row)]
    if isinstance(e, hh.FamilyContractEnded):
        where = {"contract_id": e.contract_id, "patient_id": e.patient_id}
        return [Update(TABLE, {"ended_at": e.occurred_at, "end_reason": e.reason}, where)]
    return []


PROJECTION = Projection(
    name="households",
    tables=(TABLE,),
    changes=changes,
    reads=(hh.FamilyContractSigned, hh.FamilyContractEnded),
    package=__package__ or __name__,
)
