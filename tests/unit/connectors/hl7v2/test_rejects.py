"""Missing or malformed required data is a Reject naming the segment-field; time zones are configurable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import Mapped
from connectors.hl7v2.common import MappingOptions
from connectors.hl7v2.source import map_bytes
from connectors.profiles import SourceProfile, SourceProfiles
from tests.keys import memory_identity

from .support import data, rejected, replace_segment, segments

A01 = "ADT_A01__fhirconv__ADT01-28.hl7"
A03 = "ADT_A03__fhirconv__ADT-A03-02.hl7"
S12 = "SIU_S12__v2tofhir__S12-New-Appointment-v2.3.hl7"
ORU = "ORU_R01__fhirconv__ORU-R01-RMGEAD.hl7"


def with_msh_field(name: str, number: int, value: bytes) -> bytes:
    header = segments(data(name))[0].split(b"|")
    header[number - 1] = value  # header[0] is "MSH", header[1] is MSH-2, so MSH-n is header[n - 1]
    return replace_segment(data(name), b"MSH", b"|".join(header))


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("build", "detail", "words"),
    [
        (
            lambda: replace_segment(data(A01), b"PID", b"PID|1||||EVERYMAN^ADAM"),
            "PID-3",
            "PID-3: no patient identifier",
        ),
        (lambda: with_msh_field(A01, 7, b"2019x"), "MSH-7", "MSH-7: expected an HL7 date/time"),
        (lambda: with_msh_field(A01, 7, b""), "MSH-7", "MSH-7: no message date/time"),
        (lambda: with_msh_field(A01, 3, b"").replace(b"|GOOD HEALTH HOSPITAL|GHH", b"||GHH"), "MSH-3", "no sending"),
        (lambda: with_msh_field(A01, 9, b""), "MSH-9", "MSH-9: no message type"),
        (
            lambda: data(A03).replace(b"20150209113419+0110", b"20150230113419+0110"),
            "PV1-45",
            "PV1-45: not a real date",
        ),
        (
            lambda: data(A03).replace(b"20150209113419+0110", b"20150209113419+2500"),
            "PV1-45",
            "PV1-45: not a real date",
        ),
        (lambda: replace_segment(data(A01), b"PV1", b"NTE|1||no visit"), "PV1", "PV1: no PV1 segment"),
        (
            lambda: replace_segment(data(A01), b"PID", b"PID|1||X^^^H||N||1961061"),
            "PID-7",
            "PID-7: expected an HL7 date",
        ),
        (lambda: replace_segment(data(S12), b"PID", b"NTE|1"), "PID-3", "no PID segment"),
        (
            lambda: replace_segment(replace_segment(data(S12), b"SCH", b"SCH|1209|13030"), b"AIP", b"AIP|1||JPULLEN1"),
            "TQ1-7",
            "no appointment start time",
        ),
        (lambda: replace_segment(data(S12), b"SCH", b"SCH|||||||||||^^15^201904231400"), "SCH-2", "no appointment id"),
        (lambda: replace_segment(data(ORU), b"OBX", b"NTE|1||no results"), "OBX", "without OBX segments"),
        (lambda: replace_segment(data("ADT_A40__fhirconv__ADT-A40-01.hl7"), b"MRG", b"MRG|"), "MRG-1", "no prior"),
    ],
    ids=[
        "no-PID-3",
        "bad-MSH-7",
        "no-MSH-7",
        "no-sender",
        "no-MSH-9",
        "Feb-30-discharge",
        "offset-out-of-range",
        "no-PV1",
        "bad-birth-date",
        "SIU-without-PID",
        "SIU-without-start",
        "SIU-without-id",
        "ORU-without-OBX",
        "A40-without-retired-id",
    ],
)
def test_missing_or_malformed_required_data_is_rejected_naming_the_field(
    build: Callable[[], bytes], detail: str, words: str
) -> None:
    payload = build()  # built from a real sample while the test runs, never at collection
    reject = rejected(payload)

    assert (reject.category, reject.location.detail) == ("invalid", detail)
    assert words in reject.reason
    assert reject.original == payload


@pytest.mark.corpus
def test_a_rejected_message_does_not_register_its_patient() -> None:
    identity = memory_identity()
    payload = data(A03).replace(b"20150209113419+0110", b"20150230113419+0110")

    list(map_bytes(payload, "test", identity))

    assert identity._by_index == {}


@pytest.mark.corpus
def test_reject_reasons_never_quote_patient_values() -> None:
    payload = replace_segment(data(A01), b"PID", b"PID|1||X^^^H||SECRETNAME||19610699")

    reject = rejected(payload)

    assert "SECRETNAME" not in reject.reason and "19610699" not in reject.reason


@pytest.mark.corpus
def test_an_unsupported_type_names_itself_and_the_supported_list() -> None:
    reject = rejected(with_msh_field(A01, 9, b"ACK^A01"))

    assert (reject.category, reject.location.detail) == ("unsupported", "MSH-9")
    assert reject.reason.startswith("ACK^A01 is not supported; supported message types: ADT^A01, ADT^A02")
    assert "ORU^R01" in reject.reason and "SIU^S26" in reject.reason


@pytest.mark.corpus
def test_the_trigger_comes_from_evn_1_only_when_msh_9_has_none() -> None:
    [outcome] = map_bytes(with_msh_field(A01, 9, b"ADT"), "test", memory_identity())

    assert isinstance(outcome, Mapped) and outcome.kind == "ADT^A01"


@pytest.mark.corpus
def test_timestamps_without_offset_use_the_configured_time_zone() -> None:
    payload = data("ADT_A08__v2tofhir__A08-Update-Patient-v2.3.hl7")  # MSH-7 20190423113910, no offset

    [shanghai] = map_bytes(payload, "test", memory_identity())
    london_profile = MappingOptions(SourceProfiles(default=SourceProfile(timezone="Europe/London")))
    [london] = map_bytes(payload, "test", memory_identity(), london_profile)

    assert isinstance(shanghai, Mapped) and isinstance(london, Mapped)
    assert shanghai.events[0].recorded_at == datetime(2019, 4, 23, 11, 39, 10, tzinfo=timezone(timedelta(hours=8)))
    assert london.events[0].recorded_at == datetime(2019, 4, 23, 11, 39, 10, tzinfo=timezone(timedelta(hours=1)))
    assert shanghai.events[0].event_id == london.events[0].event_id  # ids derive from the message, not the time


def test_an_unknown_default_time_zone_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="Asia/Shanghai"):
        MappingOptions(SourceProfiles(default=SourceProfile(timezone="Mars/Olympus")))
