"""The core stays pure: it imports events/, the standard library and pydantic only, and reads no clock, does no
I/O, keeps no logging and draws no randomness from the environment.

What these modules import directly is checked here against an allow-list (import-linter cannot express one);
what they reach through others is checked by the contracts in .importlinter (`lint-imports`, run by `make lint`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = sorted([*ROOT.joinpath("engine", "journeys").glob("*.py"), *ROOT.joinpath("events").glob("*.py")])
# scipy: the check-ins' trend statistics (engine/journeys/trends.py, issue 18 §4), pure computation, no I/O.
THIRD_PARTY_ALLOWED = {"pydantic", "pydantic_core", "scipy"}
# Ours that the core may import: itself, the events, the 'did you mean' helper of the journeys language, the
# loyalty points ledger (pure, held to it by tests/unit/loyalty/test_purity.py) and the calendar computations of
# calendar-triggered journeys (pure, held to it by tests/unit/calendars/test_purity.py).
OURS_ALLOWED = ("engine.journeys", "events", "engine.yamlfile.suggest", "engine.loyalty", "engine.calendars")
STDLIB_FORBIDDEN = {"logging", "random", "socket", "asyncio", "os", "subprocess", "time", "threading", "pickle"}
STDLIB_FORBIDDEN |= {"copyreg", "shelve", "sqlite3", "urllib", "http", "io", "tempfile", "shutil", "pathlib"}
FORBIDDEN_METHODS = {"now", "utcnow", "today", "monotonic", "perf_counter", "read_text", "write_text"}
FORBIDDEN_FUNCTIONS = {"open", "print", "eval", "exec", "input", "breakpoint"}
# A cache on a module's function lives as long as the process and is shared by every catalog: what the core needs
# is compiled once when journeys.yaml loads (the catalog), never kept beside it.
MODULE_CACHES = {"lru_cache", "cache"}


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module imported, by its full dotted name (``from a.b import c`` counts as ``a.b``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def not_allowed(modules: set[str]) -> set[str]:
    found = set()
    for name in modules:
        top = name.split(".")[0]
        if name == "__future__" or name.startswith(OURS_ALLOWED) or top in THIRD_PARTY_ALLOWED:
            continue
        if top in sys.stdlib_module_names and top not in STDLIB_FORBIDDEN:
            continue
        found.add(name)
    return found


def forbidden_calls(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
                found.add(func.attr)
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_FUNCTIONS:
                found.add(func.id)
    return found


def module_caches(tree: ast.AST) -> set[str]:
    """functools' caches decorating (or wrapping) a function: ``@lru_cache``, ``@functools.cache``, ``lru_cache(f)``."""
    found = set()
    for node in ast.walk(tree):
        targets = [*node.decorator_list] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
        if isinstance(node, ast.Call):
            targets.append(node.func)
        for target in targets:
            called = target.func if isinstance(target, ast.Call) else target
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", None)
            if name in MODULE_CACHES:
                found.add(name)
    return found


def test_module_caches_are_found() -> None:
    cached = (
        "import functools\n@functools.lru_cache(maxsize=8)\ndef f(x): return x\n"
        "@cache\ndef g(): pass\nh = lru_cache(f)\n"
    )
    assert module_caches(ast.parse(cached)) == {"lru_cache", "cache"}
    assert module_caches(ast.parse("def f(x): return x\n")) == set()


def test_the_core_has_modules_to_check() -> None:
    assert len(CORE) > 40
    assert ROOT / "engine" / "journeys" / "machine.py" in CORE and ROOT / "engine" / "journeys" / "evolve.py" in CORE


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_only_events_the_standard_library_and_pydantic(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert not_allowed(imported_modules(tree)) == set()


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_never_reads_the_clock_or_does_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert forbidden_calls(tree) == set()


def test_the_checker_would_catch_a_violation() -> None:
    source = (
        "import faust\nfrom kafka import KafkaProducer\nimport logging\nfrom engine.outreach.templates import render\n"
        "from dateutil.relativedelta import relativedelta\nfrom engine.yamlfile.source import read_yaml\n"
        "import datetime\nfrom pydantic import BaseModel\nfrom events.base import Event\n"
        "from engine.journeys.state import PatientState\nfrom engine.yamlfile.suggest import closest\n"
        "x = datetime.now()\nprint(x)\n"
    )
    tree = ast.parse(source)
    assert not_allowed(imported_modules(tree)) == {
        "faust",
        "kafka",
        "logging",
        "engine.outreach.templates",
        "dateutil.relativedelta",
        "engine.yamlfile.source",
    }
    assert forbidden_calls(tree) == {"now", "print"}


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_keeps_no_module_level_cache(path: Path) -> None:
    assert module_caches(ast.parse(path.read_text())) == set()
