"""What the mapping works out once per message (a patient's identity, a date/time text) stays within that message:
the identity port is asked once for a lab report's patient however many results it holds, and a time written the
same way in two messages is read in each message's own source time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base import InMemoryIdentity, Mapped
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.profiles import SourceProfile, SourceProfiles
from events.patient import Identifier
from tests.keys import PSEUDONYMS, patient_id

from .hospital import message, msh, pid, rejected, segment


class CountingIdentity(InMemoryIdentity):
    """The in-memory identity, counting what it is asked."""

    def __init__(self) -> None:
        super().__init__(PSEUDONYMS)
        self.asked: list[tuple[Identifier, ...]] = []

    def resolve(self, identifiers: Sequence[Identifier]) -> str:
        self.asked.append(tuple(identifiers))
        return super().resolve(identifiers)


def obx(n: int, code: str, value: str, when: str) -> str:
    return segment("OBX", {1: str(n), 2: "NM", 3: f"{code}^^LN", 5: value, 6: "mmol/L", 11: "F", 14: when})


def lab_report(*results: str, app: str = "LIS", when: str = "20260302101500") -> bytes:
    order = segment("OBR", {1: "1", 2: "ORD-1", 3: "LAB-1", 4: "24323-8^CMP^LN", 7: when})
    return message(msh("ORU^R01", app=app), pid(), order, *results)


def test_a_lab_report_asks_the_identity_port_once_for_its_patient_however_many_results_it_holds() -> None:
    identity = CountingIdentity()
    when = "20260302101500"
    payload = lab_report(obx(1, "2345-7", "5.4", when), obx(2, "2160-0", "88", when), obx(3, "3094-0", "6.1", when))

    [outcome] = map_bytes(payload, "lis.hl7", identity)

    assert isinstance(outcome, Mapped)
    assert len(outcome.events) == 3
    assert {e.patient_id for e in outcome.events} == {patient_id("RENHE", "MRN-0001")}
    assert identity.asked == [(Identifier(authority="RENHE", value="MRN-0001", kind="MR"),)]


def test_each_message_of_a_file_asks_the_identity_port_for_its_own_patient() -> None:
    identity = CountingIdentity()
    when = "20260302101500"
    payload = lab_report(obx(1, "2345-7", "5.4", when)) + lab_report(obx(1, "2345-7", "5.9", when))

    outcomes = list(map_bytes(payload, "lis.hl7", identity))

    assert [type(o) for o in outcomes] == [Mapped, Mapped]
    assert len(identity.asked) == 2


def test_the_same_time_text_in_messages_from_two_sources_is_read_in_each_sources_time_zone() -> None:
    systems = {
        "lis-shanghai": SourceProfile(timezone="Asia/Shanghai"),
        "lis-berlin": SourceProfile(timezone="Europe/Berlin"),
    }
    options = MappingOptions(SourceProfiles(systems=systems))
    when = "20260302101500"
    payload = lab_report(obx(1, "2345-7", "5.4", when), app="LIS-SHANGHAI") + lab_report(
        obx(1, "2345-7", "5.4", when), app="LIS-BERLIN"
    )

    shanghai, berlin = (o for o in map_bytes(payload, "lis.hl7", InMemoryIdentity(PSEUDONYMS), options))

    assert isinstance(shanghai, Mapped) and isinstance(berlin, Mapped)
    assert shanghai.events[0].occurred_at == datetime(2026, 3, 2, 10, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert berlin.events[0].occurred_at == datetime(2026, 3, 2, 10, 15, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_malformed_time_after_a_well_formed_one_still_rejects_the_message_naming_its_field() -> None:
    good, bad = "20260302101500", "20261302101500"  # month 13
    payload = lab_report(obx(1, "2345-7", "5.4", good), obx(2, "2160-0", "88", good), obx(3, "3094-0", "6.1", bad))

    reject = rejected(payload)

    assert reject.location.detail == "OBX-14"
    assert reject.reason.startswith("OBX-14: not a real date/time")
    assert bad not in reject.reason
