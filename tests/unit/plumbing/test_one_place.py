"""The plumbing is written once: PostgreSQL connections opened only by engine/plumbing/connections.py, kafka-python
producers built only by connectors/kafka_producer.py, and no retry loop doubling its own delay outside
engine/plumbing/retry.py. Read from the sources, so a new module that does it its own way fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("engine", "connectors", "projections", "events", "bench")
APPLICATION = sorted(p for package in PACKAGES for p in ROOT.joinpath(package).rglob("*.py"))

CONNECTS = {"engine/plumbing/connections.py"}  # the one place
PRODUCERS = {"connectors/kafka_producer.py"}
# The dispatcher's per-message gateway schedule (CARELOOP_DISPATCH__BACKOFF, "doubled each time") is a documented
# setting stored as next_try_at, not a loop waiting out a lost connection.
DOUBLINGS = {"engine/dispatch/sender.py"}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)]


def opens_a_connection(call: ast.Call) -> bool:
    """psycopg.connect(...), Connection.connect(...), psycopg.Connection.connect(...), AsyncConnection.connect(...)"""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "connect"):
        return False
    owner = func.value
    name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
    return name in {"psycopg", "Connection", "AsyncConnection"}


def builds_a_producer(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "KafkaProducer") or (
        isinstance(func, ast.Attribute) and func.attr == "KafkaProducer"
    )


def doubles_a_delay(path: Path) -> bool:
    """``delay * 2`` or ``backoff * 2 ** n``: a wait computed by hand."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            names = {n.id.lower() for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr.lower() for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            twos = [n for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value == 2]
            if twos and any("delay" in n or "backoff" in n for n in names):
                return True
    return False


def test_there_are_application_modules_to_read() -> None:
    assert len(APPLICATION) > 100


def test_postgresql_connections_are_opened_only_through_engine_connections() -> None:
    found = sorted({relative(p) for p in APPLICATION for c in calls(p) if opens_a_connection(c)} - CONNECTS)
    assert found == [], "open connections with engine.plumbing.connections.connect (or KeptConnection to keep one)"


def test_kafka_producers_are_built_only_by_the_factory() -> None:
    found = sorted({relative(p) for p in APPLICATION for c in calls(p) if builds_a_producer(c)} - PRODUCERS)
    assert found == [], "build producers with connectors.kafka_producer.kafka_producer"


def test_no_loop_doubles_its_own_retry_delay() -> None:
    found = sorted({relative(p) for p in APPLICATION if doubles_a_delay(p)} - DOUBLINGS)
    assert found == [], "retry with engine.plumbing.retry (tenacity: exponential backoff with jitter)"


def test_the_checks_recognise_what_they_look_for(tmp_path: Path) -> None:
    sample = tmp_path / "plumbing.py"
    sample.write_text(
        "import psycopg\nfrom kafka import KafkaProducer\n"
        "def f(url, delay):\n"
        "    psycopg.connect(url)\n    KafkaProducer(bootstrap_servers=url)\n    delay = min(delay * 2, 30.0)\n",
        encoding="utf-8",
    )
    assert any(opens_a_connection(c) for c in calls(sample))
    assert any(builds_a_producer(c) for c in calls(sample))
    assert doubles_a_delay(sample)
