"""The core stays pure: no I/O frameworks, no wall clock, no logging, no randomness from the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = sorted([*ROOT.joinpath("engine", "journeys").glob("*.py"), *ROOT.joinpath("events").glob("*.py")])
FORBIDDEN_MODULES = {
    "faust",
    "kafka",
    "aiokafka",
    "psycopg",
    "structlog",
    "prometheus_client",
    "logging",
    "random",
    "socket",
    "requests",
    "httpx",
    "asyncio",
    "os",
    "subprocess",
    "time",
}
FORBIDDEN_METHODS = {"now", "utcnow", "today", "monotonic", "perf_counter", "read_text", "write_text"}
FORBIDDEN_FUNCTIONS = {"open", "print", "eval", "exec", "input", "breakpoint"}
# Reading journeys.yaml is the loader's one job; decide and evolve never call it.
ALLOWED = {"engine/journeys/loader.py": {"read_text"}}


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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


def test_the_core_has_modules_to_check() -> None:
    assert len(CORE) > 20


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_io_framework(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert imported_modules(tree) & FORBIDDEN_MODULES == set()


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_never_reads_the_clock_or_does_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert forbidden_calls(tree) - ALLOWED.get(str(path.relative_to(ROOT)), set()) == set()


def test_the_checker_would_catch_a_violation() -> None:
    tree = ast.parse("import faust\nfrom kafka import KafkaProducer\nx = datetime.now()\nprint(x)\n")
    assert imported_modules(tree) & FORBIDDEN_MODULES == {"faust", "kafka"}
    assert forbidden_calls(tree) == {"now", "print"}
