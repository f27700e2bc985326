"""`careloop calendar status`: a file's calendar journeys and their seasons, each dated, moved to a working day, or
held because the official working days of its year are not known (design §3.5)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from engine.cli.calendar import calendar_app, held_soon
from engine.language.loader import check_text
from tests.unit.journeys.test_calendar_campaign import JOURNEYS, WORKING_DAY

runner = CliRunner()


def test_status_lists_each_season_its_working_day_move_and_the_held_year(tmp_path: Path) -> None:
    # 国务院办公厅关于2026年部分节假日安排的通知: 1 to 5 May 2026 off; chinesecalendar holds no notice for 2027 yet.
    path = tmp_path / "journeys.yaml"
    path.write_text(WORKING_DAY, encoding="utf-8")
    result = runner.invoke(calendar_app, ["status", "sanfu-tie", "--journeys", str(path), "--years", "2025-2027"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "official working days known: 2004 to 2026 (chinesecalendar)",
        "sanfu-tie v1: 05-01 at 09:00 (patient time), moved to a working day on or after it",
        "  2025: 2025-05-06 (moved from 2025-05-01, not a working day)",
        "  2026: 2026-05-06 (moved from 2026-05-01, not a working day)",
        "  2027: 2027-05-01 HELD: China's official working days for 2027 are not known: the installed "
        "chinesecalendar covers 2004 to 2026 (a newer release adds a year once the State Council publishes it)",
    ]


def test_status_dates_a_fu_campaign_for_any_year(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(JOURNEYS, encoding="utf-8")
    result = runner.invoke(calendar_app, ["status", "--journeys", str(path), "--years", "2026-2028"])

    assert result.exit_code == 0, result.output
    # 初伏 2026-07-15, 2027-07-20, 2028-07-14 (the almanac's), two months before.
    assert result.output.splitlines()[2:] == ["  2026: 2026-05-15", "  2027: 2027-05-20", "  2028: 2028-05-14"]


def test_an_unknown_calendar_journey_is_refused_with_the_one_meant(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(JOURNEYS, encoding="utf-8")
    result = runner.invoke(calendar_app, ["status", "sanfu-ti", "--journeys", str(path)])

    assert result.exit_code == 1
    assert "error: no calendar journey 'sanfu-ti' in " in result.output
    assert "did you mean 'sanfu-tie'?" in result.output


def test_validate_is_warned_of_a_held_season_within_18_months_and_only_then(tmp_path: Path) -> None:
    catalog, _ = check_text(WORKING_DAY, "journeys.yaml")
    assert catalog is not None

    warned = held_soon(catalog, date(2026, 11, 30))
    assert [w.split(" (")[0] for w in warned] == ["sanfu-tie season 2027", "sanfu-tie season 2028"]
    assert warned[0] == (
        "sanfu-tie season 2027 (2027-05-01) is held: China's official working days for 2027 are not known: the "
        "installed chinesecalendar covers 2004 to 2026 (a newer release adds a year once the State Council "
        "publishes it); upgrade chinesecalendar once the State Council's notice is out (docs/calendars.md)"
    )
    assert held_soon(catalog, date(2025, 6, 1)) == []  # 1 May 2027 is further than 18 months away


def test_dates_lists_a_rules_days_season_by_season() -> None:
    # 春节 2026 to 2030 (the Hong Kong Observatory's tables); 初伏 -2mo as the campaign books.
    result = runner.invoke(calendar_app, ["dates", "festival:春节", "--years", "2026-2030"])
    assert (result.exit_code, result.output.splitlines()) == (
        0,
        [
            "春节",
            "  2026: 2026-02-17",
            "  2027: 2027-02-06",
            "  2028: 2028-01-26",
            "  2029: 2029-02-13",
            "  2030: 2030-02-03",
        ],
    )
    result = runner.invoke(calendar_app, ["dates", "fu:初伏", "--offset", "-2mo", "--years", "2027"])
    assert result.output.splitlines() == ["初伏 -2mo", "  2027: 2027-05-20"]


def test_dates_moves_to_a_working_day_and_holds_an_unknown_year() -> None:
    # 国庆节 2026: 1 to 7 October off (国务院办公厅关于2026年部分节假日安排的通知).
    result = runner.invoke(
        calendar_app, ["dates", "fixed:10-01", "--working-day", "on_or_after", "--years", "2026-2027"]
    )
    lines = result.output.splitlines()
    assert lines[1] == "  2026: 2026-10-08 (moved from 2026-10-01)"
    assert lines[2].startswith("  2027: 2027-10-01 HELD: China's official working days for 2027 are not known")


def test_dates_refuses_a_misspelt_rule_with_the_name_meant() -> None:
    result = runner.invoke(calendar_app, ["dates", "fu:初付"])
    assert result.exit_code == 2
    assert "error: 'fu:初付': rule: unknown 伏 period '初付'; did you mean '初伏'?" in result.output
