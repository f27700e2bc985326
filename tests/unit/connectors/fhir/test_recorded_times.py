"""recorded_at is when the source recorded a resource (its meta.lastUpdated, else its Bundle's meta.lastUpdated,
else Bundle.timestamp), else when careloop received it: never a clinical date such as a birth date. With none of
them the resource is rejected rather than dated by a guess. Offset-less times are read in the source's zone."""

from __future__ import annotations

from datetime import datetime

from connectors.profiles import SourceProfile, SourceProfiles

from .feeds import RECEIVED, bundle, mapped, patient, stay


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def undated(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "meta"}


def test_a_resource_without_last_updated_is_recorded_when_its_bundle_was_last_updated() -> None:
    document = bundle(
        undated(patient()),
        undated(stay()),
        meta={"lastUpdated": "2026-03-05T11:00:00+08:00"},
        timestamp="2026-03-05T11:30:00+08:00",
    )
    result = mapped(document)
    assert {e.recorded_at for e in result.events} == {at("2026-03-05T11:00:00+08:00")}


def test_then_when_the_bundle_was_assembled() -> None:
    result = mapped(bundle(undated(patient()), timestamp="2026-03-05T11:30:00+08:00"))
    [registered] = result.events
    assert registered.recorded_at == registered.occurred_at == at("2026-03-05T11:30:00+08:00")


def test_then_when_the_intake_received_it_and_never_at_birth() -> None:
    [registered] = mapped(undated(patient())).events
    assert registered.recorded_at == registered.occurred_at == RECEIVED
    assert registered.birth_date is not None and registered.recorded_at.year == 2026


def test_a_resource_own_last_updated_comes_first() -> None:
    document = bundle(patient(), meta={"lastUpdated": "2026-03-09T00:00:00+08:00"})
    [registered] = mapped(document).events
    assert registered.recorded_at == at("2026-03-01T08:05:00+08:00")


def test_with_no_time_known_at_all_the_resource_is_rejected_with_the_reason() -> None:
    result = mapped(bundle(undated(patient()), undated(stay())), received_at=None)
    assert result.events == []
    assert [r.location.detail for r in result.rejects] == ["Bundle.entry[0].resource", "Bundle.entry[1].resource"]
    for reject in result.rejects:
        assert "nothing says when it was recorded (no meta.lastUpdated, no Bundle.meta.lastUpdated or " in reject.reason
        assert "careloop will not invent one" in reject.reason


def test_a_clinical_time_still_dates_the_event_when_only_the_receipt_dates_the_record() -> None:
    [discharged] = mapped(undated(stay())).events
    assert discharged.occurred_at == at("2026-03-05T10:00:00+08:00")
    assert discharged.recorded_at == RECEIVED


def test_offset_less_times_are_read_in_the_zone_of_the_sources_profile() -> None:
    profiles = SourceProfiles(
        default=SourceProfile(timezone="Asia/Shanghai"), systems={"his-west": SourceProfile(timezone="Asia/Urumqi")}
    )
    local = stay(
        period={"start": "2026-03-01T09:00", "end": "2026-03-05T10:00"}, meta={"lastUpdated": "2026-03-05T12:00"}
    )
    west = bundle(patient(), local, meta={"source": "HIS-WEST"})
    [_, discharged] = mapped(west, profiles=profiles).events
    assert discharged.occurred_at.isoformat() == "2026-03-05T10:00:00+06:00"
    assert discharged.admitted_at is not None and discharged.admitted_at.isoformat() == "2026-03-01T09:00:00+06:00"
    assert discharged.recorded_at.isoformat() == "2026-03-05T12:00:00+06:00"
    [_, elsewhere] = mapped(bundle(patient(), local), profiles=profiles).events
    assert elsewhere.occurred_at.isoformat() == "2026-03-05T10:00:00+08:00", "other sources: the default profile"


def test_times_with_an_offset_keep_it_whatever_the_profile() -> None:
    profiles = SourceProfiles(default=SourceProfile(timezone="Europe/London"))
    [discharged] = mapped(stay(), profiles=profiles).events
    assert discharged.occurred_at.isoformat() == "2026-03-05T10:00:00+08:00"
