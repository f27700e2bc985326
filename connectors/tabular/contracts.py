"""A family doctor contract row (家庭医生签约, issue 18 design §2.4): what the connector adds to the fields a spec
maps for ``family_contract.signed|ended``, and the checks that need two columns at once. Pure.

- ``household_number`` (a mapping target, no event field) becomes ``household_id``, a keyed pseudonym
  (``households.py``): the export's number never reaches an event.
- ``end_reason`` (a target of the signed row): a row that gives an end reason but no end date is neither signed
  nor ended, and is refused naming the reason's column rather than read as signed (its reason silently dropped).
- A contract that ends before it starts (``ends_on`` before ``starts_on``), or an ended row whose end comes before
  its ``signed_on`` (a mapping target of the ended row), is refused naming the end's column, never the dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from connectors.base import PatientIdentity
from connectors.tabular.households import HouseholdIdError, household_id
from connectors.tabular.spec import EventSpec
from connectors.tabular.values import MISSING, CellError, RowContext, evaluate, first_column

HOUSEHOLD_NUMBER = "household_number"
SIGNED_ON = "signed_on"
END_REASON = "end_reason"


def contract_values(
    entry: EventSpec, ctx: RowContext, values: dict[str, Any], identity: PatientIdentity, system: str
) -> dict[str, Any]:
    """The fields the connector derives for the row's contract event (after the checks on its dates)."""
    if entry.type == "family_contract.ended":
        signed = evaluate(entry.fields[SIGNED_ON], ctx) if SIGNED_ON in entry.fields else MISSING
        ended = values.get("occurred_at")
        if isinstance(signed, date) and isinstance(ended, datetime) and ended.date() < _day(signed):
            raise _before(entry, "occurred_at", SIGNED_ON, "the contract ends before it was signed")
        return {}
    if END_REASON in entry.fields and evaluate(entry.fields[END_REASON], ctx) is not MISSING:
        reason = first_column(entry.fields[END_REASON])
        raise CellError(reason, f"column {reason} gives an end reason, but the row has no end date: {_BOTH}")
    if "starts_on" in values and "ends_on" in values and values["ends_on"] < values["starts_on"]:
        raise _before(entry, "ends_on", "starts_on", "the contract ends before it starts")
    if HOUSEHOLD_NUMBER not in entry.fields:
        return {}  # the loader demands it; a spec built in code without it is refused by the event model
    column = first_column(entry.fields[HOUSEHOLD_NUMBER])
    number = evaluate(entry.fields[HOUSEHOLD_NUMBER], ctx)
    if number is MISSING:
        raise CellError(column, f"column {column} is empty: family_contract.signed needs the household")
    try:
        return {"household_id": household_id(identity, system, str(number))}
    except HouseholdIdError as exc:
        raise CellError(column, str(exc)) from exc


_BOTH = "an ended contract needs both, a signed one neither"


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _before(entry: EventSpec, late: str, early: str, why: str) -> CellError:
    """An end before its start, pointing at the end's column and naming the start's (never the dates)."""
    column = first_column(entry.fields[late])
    return CellError(column, f"column {column}: {why} (column {first_column(entry.fields[early])})")
