"""Deaths in the ADT feed: PID-29/PID-30 or a discharge disposition that means death give patient.deceased, first
among the message's events, on any ADT message; contradictions are rejected with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .hospital import events, evn, message, msh, pid, pv1, rejected

SHANGHAI = timezone(timedelta(hours=8))


def a03(*, death: str = "", indicator: str = "", disposition: str = "", discharged: str = "20260302100000") -> bytes:
    return message(
        msh("ADT^A03", "DISCH-0001"),
        evn("A03", "20260302100200"),
        pid("MRN-D1", f29=death, f30=indicator),
        pv1("V-D1", f36=disposition, f44="20260225080000", f45=discharged),
    )


def test_a_discharge_with_a_death_indicator_gives_patient_deceased_first_then_the_discharge() -> None:
    found = events(a03(death="20260302094000", indicator="Y"))

    assert [e.type for e in found] == ["patient.deceased", "encounter.discharged"]
    deceased, discharged = found
    assert deceased.occurred_at == datetime(2026, 3, 2, 9, 40, tzinfo=SHANGHAI)  # PID-29
    assert deceased.patient_id == discharged.patient_id
    assert discharged.occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # the discharge is kept


def test_a_death_indicator_without_a_time_dies_at_the_messages_event_time() -> None:
    deceased = events(a03(indicator="Y"))[0]

    assert deceased.type == "patient.deceased"
    assert deceased.occurred_at == datetime(2026, 3, 2, 10, 2, tzinfo=SHANGHAI)  # EVN-2


def test_a_death_time_alone_reports_the_death() -> None:
    assert [e.type for e in events(a03(death="202603020940"))] == ["patient.deceased", "encounter.discharged"]


@pytest.mark.parametrize(
    "disposition",
    ["20^Expired^UB04", "40", "41^Expired at home", "42", "5^死亡", "5", "09^Patient died", "^Deceased", "死亡"],
)
def test_a_discharge_disposition_that_means_death_reports_it_at_the_discharge_time(disposition: str) -> None:
    found = events(a03(disposition=disposition))

    assert [e.type for e in found] == ["patient.deceased", "encounter.discharged"]
    assert found[0].occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # PV1-45


@pytest.mark.parametrize("disposition", ["01^Discharged home", "05^Cancer center", "2^医嘱转院", "07^Left AMA", ""])
def test_other_discharge_dispositions_are_ordinary_discharges(disposition: str) -> None:
    assert [e.type for e in events(a03(disposition=disposition))] == ["encounter.discharged"]


def test_a_spelled_out_no_and_yes_are_read_as_the_indicator() -> None:
    assert [e.type for e in events(a03(indicator="NO"))] == ["encounter.discharged"]
    assert [e.type for e in events(a03(indicator="Yes"))] == ["patient.deceased", "encounter.discharged"]


@pytest.mark.parametrize("no_information", ["UNK", "NI", "NONE", "不详"])
def test_an_indicator_that_says_there_is_no_information_reads_as_empty(no_information: str) -> None:
    assert [e.type for e in events(a03(indicator=no_information))] == ["encounter.discharged"]
    with_death_time = a03(indicator=no_information, death="20260302094000")
    assert [e.type for e in events(with_death_time)] == ["patient.deceased", "encounter.discharged"]


def test_an_update_that_reports_a_death_gives_patient_deceased_before_the_update() -> None:
    payload = message(msh("ADT^A08", "UPD-0001"), evn("A08"), pid("MRN-D2", f29="20260306190800", f30="Y"))

    assert [e.type for e in events(payload)] == ["patient.deceased", "patient.updated"]


def test_a_merge_that_reports_the_survivors_death_gives_it_first() -> None:
    payload = message(msh("ADT^A40", "MRG-0001"), evn("A40"), pid("MRN-NEW", f30="Y"), "MRG|MRN-OLD^^^RENHE^MR")

    assert [e.type for e in events(payload)] == ["patient.deceased", "patient.merged"]


@pytest.mark.parametrize(
    ("fields", "detail", "words"),
    [
        ({"death": "20260302094000", "indicator": "N"}, "PID-30", "not deceased (N), but PID-29 gives a date"),
        ({"indicator": "X"}, "PID-30", "'X' is not a yes/no indicator; expected Y or N"),
        ({"indicator": "N", "disposition": "20^Expired"}, "PV1-36", "means the patient died, but PID-30 says"),
    ],
    ids=["N-with-a-death-time", "not-Y-or-N", "N-with-an-expired-disposition"],
)
def test_contradictory_death_fields_reject_the_message_with_the_reason(
    fields: dict[str, str], detail: str, words: str
) -> None:
    reject = rejected(a03(**fields))

    assert (reject.category, reject.location.detail) == ("invalid", detail)
    assert words in reject.reason
