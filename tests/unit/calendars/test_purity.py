"""The calendars are pure, like the journey core that will call them: the standard library, the two calendar
libraries and the did-you-mean helper only; no clock read and no I/O (a date is always an argument)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.unit.core.test_purity import STDLIB_FORBIDDEN, forbidden_calls, imported_modules

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(ROOT.joinpath("engine", "calendars").glob("*.py"))
ALLOWED = ("engine.calendars", "engine.yamlfile.suggest", "tyme4py", "chinese_calendar")


def not_allowed(modules: set[str]) -> set[str]:
    return {
        name
        for name in modules
        if name != "__future__"
        and not name.startswith(ALLOWED)
        and not (name.split(".")[0] in sys.stdlib_module_names and name.split(".")[0] not in STDLIB_FORBIDDEN)
    }


def test_the_calendars_have_modules_to_check() -> None:
    assert ROOT / "engine" / "calendars" / "terms.py" in MODULES and len(MODULES) >= 8


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_calendar_module_imports_only_the_standard_library_and_the_calendar_libraries(path: Path) -> None:
    assert not_allowed(imported_modules(ast.parse(path.read_text()))) == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_calendar_module_never_reads_the_clock_or_does_io(path: Path) -> None:
    assert forbidden_calls(ast.parse(path.read_text())) == set()


def test_the_check_would_catch_a_clock_read_and_a_metadata_read() -> None:
    tree = ast.parse("from importlib.metadata import version\nimport os\nfrom datetime import date\ndate.today()\n")
    assert not_allowed(imported_modules(tree)) == {"os"}
    assert forbidden_calls(tree) == {"today"}
