"""`careloop whatif NEW.yaml --events FILE`: totals first, then each difference with why; its totals are what
`careloop simulate` of NEW.yaml counts over the same file; clear errors for bad input."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.cli import whatif_pool
from tests.builders import JOURNEYS, at, booked, discharge, registered, visit
from tests.cli import invoke
from tests.unit.journeys.test_whatif_parts import hospital as merged_hospital

runner = CliRunner()
POST_OP_V2 = "  - id: post-op-follow-up\n    version: 2 "
DAY_3 = '      - id: wait-day-3\n        wait: {offset: 3d, from: entry, at: "10:00"}'


@pytest.fixture(autouse=True)
def _run_from_the_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(JOURNEYS.parent)
    monkeypatch.delenv("CARELOOP_JOURNEYS", raising=False)


@pytest.fixture
def day_2(tmp_path: Path) -> Path:
    """journeys.yaml with the post-op day-3 message moved to day 2 (version bumped)."""
    text = JOURNEYS.read_text(encoding="utf-8")
    assert text.count(POST_OP_V2) == 1 and text.count(DAY_3) == 1
    path = tmp_path / "new.yaml"
    path.write_text(text.replace(POST_OP_V2, POST_OP_V2.replace("2 ", "3 ")).replace(DAY_3, DAY_3.replace("3d", "2d")))
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Two surgical discharges (P2 followed up at a visit), a booking for P1, a medical discharge for P3."""
    events = [
        registered("P1", at("2026-01-02 08:00")),
        registered("P2", at("2026-01-03 08:00")),
        registered("P3", at("2026-01-04 08:00")),
        discharge("P1", at("2026-03-02 10:00"), encounter_id="E1"),
        booked("P1", at("2026-03-06 11:00"), start_at=at("2026-04-20 09:00")),
        discharge("P2", at("2026-03-10 15:00"), encounter_id="E2"),
        discharge("P3", at("2026-03-11 09:00"), department="cardiology", encounter_id="E3"),
        visit("P2", at("2026-03-22 09:30")),
    ]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
    return path


def test_whatif_prints_the_totals_then_each_moved_message_with_its_reason(day_2: Path, history: Path) -> None:
    code, out, _ = invoke("whatif", str(day_2), "--events", str(history), "--until", "2026-06-30")

    assert code == 0
    lines = out.splitlines()
    assert (
        lines[0] == f"what if {day_2} replaced journeys.yaml, decisions from the beginning to 2026-06-30T00:00:00+08:00"
    )
    assert [line.split() for line in lines[1:7]] == [
        ["current", "new", "added", "removed", "moved"],
        ["message", "6", "6", "0", "0", "2"],
        ["task", "1", "1", "0", "0", "0"],
        ["flag", "2", "2", "0", "0", "0"],
        ["exit", "0", "0", "0", "0", "0"],
        ["completion", "4", "4", "0", "0", "0"],
    ]
    assert lines[7:10] == ["", "by journey", "  post-op-follow-up: 2 moved"]
    assert [line.split()[:3] for line in lines if line.startswith("  moved")] == [
        ["moved", "message", "post-op-follow-up"],
        ["moved", "message", "post-op-follow-up"],
    ]
    assert "2026-03-05T10:00+08:00 -> 2026-03-04T10:00+08:00" in out
    assert "why: post-op-follow-up v3: 2d from encounter.discharged 2026-03-02 10:00+08:00" in out
    assert "was: post-op-follow-up v2: 3d from encounter.discharged 2026-03-02 10:00+08:00" in out


def test_whatif_totals_equal_what_simulate_counts_for_the_new_file(day_2: Path, history: Path) -> None:
    code, out, _ = invoke("whatif", str(day_2), "-e", str(history), "--until", "2026-06-30", "--format", "json")
    assert code == 0
    report = json.loads(out)
    code, out, _ = invoke("simulate", "-e", str(history), "-j", str(day_2), "--until", "2026-06-30", "--format", "json")
    assert code == 0
    simulated = json.loads(out)["summary"]

    totals = report["totals"]
    assert (totals["message"]["new"], totals["task"]["new"], totals["flag"]["new"]) == (
        simulated["messages"],
        simulated["tasks"],
        simulated["churn_flags"],
    )
    assert [(d["change"], d["patient_id"], d["step_id"]) for d in report["differences"]] == [
        ("moved", "P1", "day-3-care"),
        ("moved", "P2", "day-3-care"),
    ]


def test_whatif_since_and_patients_narrow_what_is_compared(day_2: Path, history: Path) -> None:
    code, out, _ = invoke(
        "whatif", str(day_2), "-e", str(history), "--since", "2026-03-01", "--patients", "P1,P3", "--format", "json"
    )

    assert code == 0
    report = json.loads(out)
    assert report["since"] == "2026-03-01T00:00:00+08:00"
    assert [(d["patient_id"], d["new_at"]) for d in report["differences"]] == [("P1", "2026-03-04T10:00:00+08:00")]


def test_whatif_wants_exactly_one_history(day_2: Path, history: Path) -> None:
    for args in ([], ["--events", str(history), "--from-store"]):
        code, _, err = invoke("whatif", str(day_2), *args)
        assert code == 2
        assert "--events FILE or --from-store" in err


def test_whatif_lists_the_errors_of_the_new_file_and_compares_nothing(tmp_path: Path, history: Path) -> None:
    broken = tmp_path / "new.yaml"
    broken.write_text(JOURNEYS.read_text(encoding="utf-8").replace("offset: 3d", "offset: 3x", 1), encoding="utf-8")

    code, out, err = invoke("whatif", str(broken), "--events", str(history))

    assert code == 1 and out == ""
    assert f"{broken}:" in err and "3x" in err
    assert "has errors; nothing was compared" in err


def test_whatif_names_a_patient_with_no_events_and_a_bad_date(day_2: Path, history: Path) -> None:
    code, _, err = invoke("whatif", str(day_2), "--events", str(history), "--patients", "P1,P9")
    assert code == 1 and "no events for patient(s) P9" in err

    code, _, err = invoke("whatif", str(day_2), "--events", str(history), "--since", "March")
    assert code == 2 and "--since 'March'" in err


class Page(HTMLParser):
    """The page's headings and table rows as text, and every tag left open or closed out of order."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.misnested: list[str] = []
        self.tags: set[str] = set()
        self.blocks: list[list[str]] = []  # each heading, and each table row's cells, in page order
        self.text: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)
        if tag in ("h1", "h2", "h3", "tr"):
            self.blocks.append([])
        if tag in ("h1", "h2", "h3", "td", "th"):
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if self.open[-1:] != [tag]:
            self.misnested.append(f"</{tag}> inside {self.open}")
        else:
            self.open.pop()
        if tag in ("h1", "h2", "h3", "td", "th") and self.text is not None:
            self.blocks[-1].append(" ".join(" ".join(self.text).split()))
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def test_whatif_html_is_one_page_of_totals_then_journeys_then_each_patients_differences(
    day_2: Path, history: Path
) -> None:
    code, out, _ = invoke("whatif", str(day_2), "-e", str(history), "--until", "2026-06-30", "--format", "html")

    assert code == 0
    page = Page(out)
    assert page.open == [] and page.misnested == []
    assert not page.tags & {"script", "link", "img", "iframe"}  # nothing to run, nothing fetched
    blocks = page.blocks
    assert blocks[:9] == [
        [f"What if {day_2} replaced journeys.yaml"],
        ["Totals"],
        ["decision", "current", "new", "added", "removed", "moved"],
        ["message", "6", "6", "0", "0", "2"],
        ["task", "1", "1", "0", "0", "0"],
        ["flag", "2", "2", "0", "0", "0"],
        ["exit", "0", "0", "0", "0", "0"],
        ["completion", "4", "4", "0", "0", "0"],
        ["By journey"],
    ]
    assert blocks[10:12] == [["post-op-follow-up", "0", "0", "2"], ["By patient"]]
    assert blocks[12] == ["patient P1"]
    assert blocks[14] == [
        "moved",
        "message",
        "post-op-follow-up / day-3-care",
        "postop-day3-care",
        "2026-03-05T10:00+08:00",
        "2026-03-04T10:00+08:00",
        "post-op-follow-up v3: 2d from encounter.discharged 2026-03-02 10:00+08:00, at 10:00 Asia/Shanghai "
        "was: post-op-follow-up v2: 3d from encounter.discharged 2026-03-02 10:00+08:00, at 10:00 Asia/Shanghai",
    ]
    assert blocks[15] == ["patient P2"]
    assert blocks[17][:6] == [
        "moved",
        "message",
        "post-op-follow-up / day-3-care",
        "postop-day3-care",
        "2026-03-13T10:00+08:00",
        "2026-03-12T10:00+08:00",
    ]
    assert len(blocks) == 18  # nothing else differs


def test_whatif_html_escapes_what_the_journeys_file_names(tmp_path: Path, history: Path) -> None:
    text = JOURNEYS.read_text(encoding="utf-8")
    renamed = text.replace("template: postop-day3-care,", 'template: "postop-<day3>&care",').replace(
        "\n  postop-day3-care:", '\n  "postop-<day3>&care":'
    )
    assert renamed.count("<day3>&care") == 2
    new = tmp_path / "a<b>&c.yaml"
    new.write_text(renamed, encoding="utf-8")

    code, out, _ = invoke("whatif", str(new), "-e", str(history), "--until", "2026-06-30", "--format", "html")

    assert code == 0
    assert "<day3>" not in out and "a<b>" not in out
    assert "postop-&lt;day3&gt;&amp;care" in out
    page = Page(out)
    assert page.open == [] and page.misnested == []
    assert page.blocks[0] == [f"What if {new} replaced journeys.yaml"]
    rows = [b for b in page.blocks if len(b) == 7 and b[0] in ("added", "removed")]
    assert [(r[0], r[3]) for r in rows] == [
        ("added", "postop-<day3>&care"),
        ("removed", "postop-day3-care"),
        ("added", "postop-<day3>&care"),
        ("removed", "postop-day3-care"),
    ]


def test_whatif_prints_a_template_named_like_an_emoji_code_as_written(tmp_path: Path, history: Path) -> None:
    text = JOURNEYS.read_text(encoding="utf-8")
    renamed = text.replace("template: postop-day3-care,", 'template: ":clock3:",').replace(
        "\n  postop-day3-care:", '\n  ":clock3:":'
    )
    new = tmp_path / "new.yaml"
    new.write_text(renamed, encoding="utf-8")

    for fmt in ("table", "json"):
        code, out, _ = invoke("whatif", str(new), "-e", str(history), "--until", "2026-06-30", "--format", fmt)
        assert code == 0
        assert out.count(":clock3:") == 2, fmt


def test_whatif_refuses_an_unknown_format(day_2: Path, history: Path) -> None:
    code, out, err = invoke("whatif", str(day_2), "-e", str(history), "--format", "pdf")
    assert code == 2 and out == ""
    assert "--format must be one of table, json, html, not 'pdf'" in err


def test_whatif_on_several_processes_reports_exactly_what_one_process_does(
    day_2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "merged.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in merged_hospital()), encoding="utf-8")
    pools: list[int | None] = []

    class CountedPool(whatif_pool.ProcessPoolExecutor):
        def __init__(self, max_workers: int | None = None, **options: Any) -> None:
            pools.append(max_workers)
            super().__init__(max_workers, **options)

    monkeypatch.setattr(whatif_pool, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(whatif_pool, "SMALLEST_PART", 1)  # this small history in parts all the same
    for fmt in ("json", "table", "html"):
        args = ("whatif", str(day_2), "-e", str(path), "--until", "2026-06-30", "--format", fmt)
        one, several = invoke(*args, "--jobs", "1"), invoke(*args, "--jobs", "3")

        assert one[0] == 0 and one[1]
        assert several == one, fmt
        if fmt == "json":  # every patient's moved day-3 message, P3's from the record merged into it
            assert [d["patient_id"] for d in json.loads(one[1])["differences"]] == ["P1", "P2", "P3", "P4", "P5"]
    assert pools == [3, 3, 3]  # --jobs 1 ran here; --jobs 3 in a pool each time
