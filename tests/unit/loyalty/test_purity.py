"""The loyalty ledger stays pure, like the journey core: it imports the standard library only (the journey core
imports it, and the core imports no dateutil), and reads no clock and does no I/O (what it reaches through others is
held by the `pure-loyalty-ledger` and `pure-core` contracts in .importlinter)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.unit.core.test_purity import STDLIB_FORBIDDEN, forbidden_calls, imported_modules

ROOT = Path(__file__).resolve().parents[3]
LEDGER = sorted(ROOT.joinpath("engine", "loyalty").glob("*.py"))
ALLOWED = ("engine.loyalty",)


def not_allowed(modules: set[str]) -> set[str]:
    return {
        name
        for name in modules
        if name != "__future__"
        and not name.startswith(ALLOWED)
        and not (name.split(".")[0] in sys.stdlib_module_names and name.split(".")[0] not in STDLIB_FORBIDDEN)
    }


def test_the_ledger_has_modules_to_check() -> None:
    assert ROOT / "engine" / "loyalty" / "ledger.py" in LEDGER and len(LEDGER) >= 5


@pytest.mark.parametrize("path", LEDGER, ids=lambda p: p.name)
def test_ledger_module_imports_only_the_standard_library(path: Path) -> None:
    assert not_allowed(imported_modules(ast.parse(path.read_text()))) == set()


@pytest.mark.parametrize("path", LEDGER, ids=lambda p: p.name)
def test_ledger_module_never_reads_the_clock_or_does_io(path: Path) -> None:
    assert forbidden_calls(ast.parse(path.read_text())) == set()


def test_the_check_would_catch_a_clock_read_and_a_shell_import() -> None:
    tree = ast.parse("import logging\nfrom engine.store import x\nfrom datetime import datetime\ndatetime.now()\n")
    assert not_allowed(imported_modules(tree)) == {"logging", "engine.store"}
    assert forbidden_calls(tree) == {"now"}
