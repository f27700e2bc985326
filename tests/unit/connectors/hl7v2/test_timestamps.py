"""Timestamps as senders write them: every DTM/TS precision, fractions with and without the point, the TS's
precision component, offsets; times without an offset in the source profile's time zone; impossible ones rejected
with the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connectors.hl7v2.common import MappingOptions
from connectors.profiles import SourceProfile, SourceProfiles

from .hospital import mapped, message, msh, pid, profiles, pv1, rejected

SHANGHAI = ZoneInfo("Asia/Shanghai")


def a08(when: str, app: str = "HIS", facility: str = "RENHE") -> bytes:
    return message(msh("ADT^A08", "UPD-0001", when, app=app, facility=facility), pid(), pv1())


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=SHANGHAI)),
        ("202603", datetime(2026, 3, 1, tzinfo=SHANGHAI)),
        ("20260302", datetime(2026, 3, 2, tzinfo=SHANGHAI)),
        ("2026030210", datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)),
        ("202603021005", datetime(2026, 3, 2, 10, 5, tzinfo=SHANGHAI)),
        ("20260302100506", datetime(2026, 3, 2, 10, 5, 6, tzinfo=SHANGHAI)),
        ("20260302100506.1", datetime(2026, 3, 2, 10, 5, 6, 100000, tzinfo=SHANGHAI)),
        ("20260302100506.1234", datetime(2026, 3, 2, 10, 5, 6, 123400, tzinfo=SHANGHAI)),
        ("20260302100506637", datetime(2026, 3, 2, 10, 5, 6, 637000, tzinfo=SHANGHAI)),  # 17 digits: ms, no point
        ("20260302100506637123", datetime(2026, 3, 2, 10, 5, 6, 637123, tzinfo=SHANGHAI)),  # SSffffff
        ("20260302100506.637123", datetime(2026, 3, 2, 10, 5, 6, 637123, tzinfo=SHANGHAI)),
        ("20260302100506.6371239", datetime(2026, 3, 2, 10, 5, 6, 637123, tzinfo=SHANGHAI)),  # past microseconds
        ("20260302100506+0800", datetime(2026, 3, 2, 10, 5, 6, tzinfo=timezone(timedelta(hours=8)))),
        ("20260302100506637-0500", datetime(2026, 3, 2, 10, 5, 6, 637000, tzinfo=timezone(timedelta(hours=-5)))),
        ("202603021005+0545", datetime(2026, 3, 2, 10, 5, tzinfo=timezone(timedelta(hours=5, minutes=45)))),
        ("20260302100506^S", datetime(2026, 3, 2, 10, 5, 6, tzinfo=SHANGHAI)),  # TS-2, degree of precision
        ("20110613122406637", datetime(2011, 6, 13, 12, 24, 6, 637000, tzinfo=SHANGHAI)),
    ],
)
def test_every_timestamp_form_senders_use_is_read(written: str, expected: datetime) -> None:
    recorded_at = mapped(a08(written)).events[0].recorded_at

    assert recorded_at == expected and recorded_at.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "written", ["20260230100000", "20261302", "20260302250000", "20260302106000", "20260302100506+2400", "2026030"]
)
def test_an_impossible_or_malformed_timestamp_is_rejected_naming_the_field(written: str) -> None:
    reject = rejected(a08(written))

    assert (reject.category, reject.location.detail) == ("invalid", "MSH-7")


def test_times_without_an_offset_are_in_the_time_zone_of_the_sending_systems_profile() -> None:
    options = MappingOptions(
        SourceProfiles(
            default=SourceProfile(timezone="Asia/Shanghai"),
            systems={
                "his@urumqi": SourceProfile(timezone="Asia/Urumqi"),
                "lis": SourceProfile(timezone="Europe/London"),
            },
        )
    )

    def recorded(app: str, facility: str) -> datetime:
        return mapped(a08("20260302100500", app, facility), options=options).events[0].recorded_at

    assert recorded("HIS", "URUMQI").utcoffset() == timedelta(hours=6)  # MSH-3@MSH-4
    assert recorded("LIS", "RENHE").utcoffset() == timedelta(hours=0)  # MSH-3 (London in March: GMT)
    assert recorded("HIS", "RENHE").utcoffset() == timedelta(hours=8)  # no profile: the default


def test_a_default_time_zone_is_the_profiles_and_keeps_event_ids() -> None:
    shanghai = mapped(a08("20260302100500")).events[0]
    london = mapped(a08("20260302100500"), options=profiles(timezone="Europe/London")).events[0]

    assert london.recorded_at == datetime(2026, 3, 2, 10, 5, tzinfo=ZoneInfo("Europe/London"))
    assert shanghai.event_id == london.event_id  # ids derive from the message, not from the time
