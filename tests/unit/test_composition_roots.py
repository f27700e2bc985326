"""One composition root per process (engine/processes), and nothing connects at import time: importing every root
(and so every part it wires) opens no socket and no PostgreSQL connection; services are reached only when a root
is called."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = sorted(
    f"engine.processes.{p.stem}" for p in ROOT.joinpath("engine", "processes").glob("*.py") if p.stem != "__init__"
)

# Imports the modules named on its command line with every way of connecting refused.
PROBE = """
import importlib, socket, sys
import psycopg

def refuse(*args, **kwargs):
    raise AssertionError("connected at import time")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = refuse
psycopg.connect = refuse
psycopg.Connection.connect = classmethod(refuse)
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def imported_with_connections_refused(*modules: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *modules], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_there_is_a_composition_root_for_each_process() -> None:
    found = [name.removeprefix("engine.processes.") for name in ROOTS]
    assert found == ["dispatcher", "erasure", "intake", "loyalty", "projections", "stack", "worker"]


def test_importing_every_composition_root_connects_to_nothing() -> None:
    result = imported_with_connections_refused(*ROOTS)
    assert result.returncode == 0, result.stderr


def test_a_module_that_connects_when_imported_is_caught(tmp_path: Path) -> None:
    tmp_path.joinpath("connects_on_import.py").write_text(
        "import socket\nsocket.create_connection(('127.0.0.1', 9092), timeout=1)\n", encoding="utf-8"
    )
    result = imported_with_connections_refused("connects_on_import", cwd=tmp_path)
    assert result.returncode != 0 and "connected at import time" in result.stderr
