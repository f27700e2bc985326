"""The careloop command: clear messages and exit codes, never a traceback for a user error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from tests.builders import MISSPELT_JOURNEYS as BAD_JOURNEYS
from tests.cli import invoke

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _run_from_the_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CARELOOP_JOURNEYS", raising=False)


def test_validate_accepts_the_shipped_journeys() -> None:
    code, out, _ = invoke("validate")
    assert code == 0
    assert "journeys.yaml: ok, 18 journeys" in out


def test_validate_reports_a_misspelt_step_an_unknown_event_type_and_a_bad_duration(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(BAD_JOURNEYS)
    code, _, err = invoke("validate", str(path))
    assert code == 1
    assert f"{path}:6:14: error: entry.event: unknown event type 'encounter.discharge'" in err
    assert f"{path}:10:24: error: steps.0.wait.offset: invalid duration '3x'" in err
    assert f"{path}:13:15: error: unknown step 'day-7-mesage'; did you mean 'day-7-message'?" in err
    assert "3 error(s)" in err


def test_validate_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "cannot read" in err


def test_simulate_prints_the_post_op_day_3_and_day_7_messages_at_local_times() -> None:
    code, out, _ = invoke("simulate", "--events", "docs/samples/post-op.jsonl", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    rows = doc["patients"][0]["timeline"]
    messages = [(r["at"], r["step_id"], r["detail"]) for r in rows if r["kind"] == "message.requested"]
    assert messages[:2] == [
        ("2026-03-05T10:00:00+08:00", "day-3-care", "postop-day3-care via wechat/sms [care]"),
        ("2026-03-09T10:00:00+08:00", "day-7-rehab", "postop-day7-rehab via wechat/sms/email [care]"),
    ]
    day3 = next(r for r in rows if r["step_id"] == "day-3-care")
    assert "3d from encounter.discharged 2026-03-02 10:00+08:00, at 10:00 Asia/Shanghai" in day3["reason"]


def test_simulate_table_shows_each_patient_and_a_summary() -> None:
    code, out, _ = invoke("simulate", "--events", "docs/samples/post-op.jsonl", "--until", "2026-03-31")
    assert code == 0
    assert "patient P001" in out
    assert re.search(r"2026-03-05 10:00 \+0800 +post-op-follow-up +day-3-care +message", out)
    assert "1 patients, 1 journeys started, 2 messages, 0 tasks, 0 churn flags" in out


def test_simulate_rejects_a_bad_event_file_listing_each_bad_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = (ROOT / "docs/samples/post-op.jsonl").read_text().splitlines()
    events.write_text("\n".join([good[0], "{not json", good[1].replace('"encounter.discharged"', '"encounter.x"')]))
    code, out, err = invoke("simulate", "--events", str(events))
    assert code == 1
    assert f"{events}:2: not valid UTF-8 JSON" in err
    assert f"{events}:3: unknown event type 'encounter.x'" in err
    assert "2 invalid event(s); nothing was simulated" in err
    assert out == ""


def test_simulate_with_broken_journeys_says_so_and_runs_nothing(tmp_path: Path) -> None:
    journeys = tmp_path / "j.yaml"
    journeys.write_text(BAD_JOURNEYS)
    code, out, err = invoke("simulate", "--events", "docs/samples/post-op.jsonl", "--journeys", str(journeys))
    assert code == 1 and "has errors; nothing was run" in err and out == ""


def test_simulate_rejects_a_malformed_until() -> None:
    code, _, err = invoke("simulate", "--events", "docs/samples/post-op.jsonl", "--until", "next tuesday")
    assert code == 2 and "--until 'next tuesday'" in err


def test_show_prints_an_outline_and_a_mermaid_diagram() -> None:
    code, out, _ = invoke("show", "appointment-reminders")
    assert code == 0
    assert "wait -3d from start_at at 09:00 (patient time)" in out
    assert "flowchart TD" in out and "-->|appointment.no_show|" in out


def test_show_suggests_a_close_journey_name() -> None:
    code, _, err = invoke("show", "post-op")
    assert code == 1 and "did you mean 'post-op-follow-up'?" in err


def test_schema_export_writes_the_three_schemas(tmp_path: Path) -> None:
    code, _, _ = invoke("schema", "export", "--out", str(tmp_path))
    assert code == 0
    for name in ("events.schema.json", "engine-events.schema.json", "journeys.schema.json"):
        assert json.loads((tmp_path / name).read_text())["$schema"].startswith("https://json-schema.org/")


# An ADT^A04 from a Chinese HIS that does not say its character set (no MSH-18) and writes names in GB18030.
UNLABELLED_GB18030 = (
    "MSH|^~\\&|HIS|RENHE|CARELOOP|RENHE|20260302100500||ADT^A04|GB-1|P|2.5\r"
    "PID|1||MRN-8^^^RENHE^MR||欧阳^娜娜||19800101|F\r"
    "PV1|1|O|ent^^^RENHE||||||||||||||||V-8\r"
).encode("gb18030")


def test_publish_decodes_an_unlabelled_message_in_the_charset_the_source_profile_names(tmp_path: Path) -> None:
    message = tmp_path / "adt.hl7"
    message.write_bytes(UNLABELLED_GB18030)
    sources = tmp_path / "sources.yaml"
    sources.write_text("systems:\n  HIS@RENHE: {charset: gb18030, timezone: Asia/Shanghai}\n", encoding="utf-8")

    result = runner.invoke(app, ["publish", "hl7", str(message), "--dry-run"], env={"CARELOOP_SOURCES": str(sources)})

    assert result.exit_code == 0, result.stderr
    registered = json.loads(result.stdout.splitlines()[0])
    assert registered["name"] == "欧阳娜娜"


def test_publish_takes_the_default_charset_from_the_command_line_and_rejects_without_it(tmp_path: Path) -> None:
    message = tmp_path / "adt.hl7"
    message.write_bytes(UNLABELLED_GB18030)

    flagged = runner.invoke(app, ["publish", "hl7", str(message), "--dry-run", "--charset", "gb18030"])
    unflagged = runner.invoke(app, ["publish", "hl7", str(message), "--dry-run"])

    assert flagged.exit_code == 0 and json.loads(flagged.stdout.splitlines()[0])["name"] == "欧阳娜娜"
    assert unflagged.exit_code == 1 and unflagged.stdout == ""
    assert "not valid utf-8" in unflagged.stderr.lower()
    assert "1 message(s): 0 event(s) mapped, 1 rejected" in unflagged.stderr


def test_a_sources_file_with_an_unknown_charset_is_a_usage_error_naming_file_and_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("default:\n  timezone: Asia/Shanghai\n  charset: klingon\n", encoding="utf-8")
    message = tmp_path / "adt.hl7"
    message.write_bytes(UNLABELLED_GB18030)

    result = runner.invoke(app, ["publish", "hl7", str(message), "--dry-run"], env={"CARELOOP_SOURCES": str(sources)})

    assert result.exit_code == 2
    assert f"source profile: {sources}:3: default.charset: unknown character set 'klingon'" in result.stderr
