"""The mapping is pure: parse and map import no I/O, clock or logging; only source.py touches the filesystem."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[4] / "connectors" / "hl7v2"
PURE = sorted(p for p in PACKAGE.glob("*.py") if p.name != "source.py")
FORBIDDEN_MODULES = {"os", "io", "pathlib", "socket", "logging", "time", "random", "asyncio", "kafka", "psycopg"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "read_bytes", "read_text", "print", "unescape"}


def names(tree: ast.AST) -> tuple[set[str], set[str]]:
    modules, calls = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):
            func = node.func
            calls.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return modules, calls


def test_there_are_pure_modules_to_check() -> None:
    assert {p.name for p in PURE} >= {"parse.py", "mapping.py", "adt.py", "oru.py", "siu.py", "values.py"}


@pytest.mark.parametrize("path", PURE, ids=[p.name for p in PURE])
def test_parsing_and_mapping_modules_do_no_io_and_read_no_clock(path: Path) -> None:
    modules, calls = names(ast.parse(path.read_text()))

    assert not modules & FORBIDDEN_MODULES
    # python-hl7's own unescape logs whole field values (PHI) on odd input: ours is used instead
    assert not calls & FORBIDDEN_CALLS - ({"unescape"} if path.name == "message.py" else set())
