"""The fault-injection suite's record and its rendering as docs/reliability.md.

tests/faults records one entry per scenario in tests/faults/.last-run.json; `python -m tests.faults.report`
renders the last run as a Markdown page: a table per scenario, the date and the seeds.
"""

from __future__ import annotations

import fcntl
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAST_RUN = ROOT / "tests" / "faults" / ".last-run.json"
DOC = ROOT / "docs" / "reliability.md"

INTRO = """\
# Reliability: the fault-injection suite

`make faults` (`pytest tests/faults -m faults`) drives the live pipeline (the real worker and projection
runner as child processes, a per-test database, topics and consumer group) through a seeded synthetic hospital
stream of 150 patients over 90 days while injecting faults, once on the embedded Tansu broker and once on real
Apache Kafka 4.4. Then it checks:

- **exactly once**: the event store equals `careloop simulate` fed the same accepted events in the same arrival
  order (duplicates, late and out-of-order arrivals included), patient by patient, event by event;
- **no message request lost or duplicated**: the requested `message_id`s in `reminder_queue` (past `scheduled`)
  are exactly simulate's `message.requested` ids, each once;
- **every approved message sent exactly once**: the dispatcher sends through an HTTP gateway on loopback that
  honours `Idempotency-Key` (as real SMS and WeChat aggregators do with a client reference); each approved
  message reached it exactly once, none was lost and nothing unapproved was sent, although the dispatcher was
  SIGKILLed mid-run (in doubt sends are re-sent with the same key: "gateway requests" counts them);
- **projections**: every table equals a rebuild from scratch (`careloop projections rebuild`);
- **poison**: each invalid-JSON, unknown-type and wrong-key message is on the dead-letter topic with its reason
  and original bytes (a message may be dead-lettered twice when the worker is killed between sending the dead
  letter and committing its batch: at least once, by design);
- **broker restart** (Apache Kafka): every message acknowledged with `acks=all` while the broker restarts under
  connected clients is consumable afterwards.

Faults: the worker is SIGKILLed once per chunk of the stream at a seeded delay (0-0.8 s) after the chunk is
published, and restarted, while a second worker shares the consumer group's 4 partitions with it throughout
(restarted if it exits); a third joins the group, is SIGKILLed and joins again (forced rebalances while all
consume); the dispatcher is SIGKILLed at a dozen seeded points and restarted; the
projection runner is SIGKILLed and restarted; a seeded sample of published events
is published again; poison messages are mixed in; a few patients' first event arrives after later events of
other patients and after the clock passed it, and some patients' events arrive swapped; the shared PostgreSQL
is stopped and started mid-run with the worker busy; on Apache Kafka the broker restarts with the worker, the
publisher and the projection runner connected. On Tansu the worker runs with a 2 s consumer session so that
each kill costs a rejoin of ~4 s rather than ~14 s (Apache Kafka refuses sessions under 6 s and rejoins fast).

Not covered: a Tansu restart (its data lives in memory, a restart is a new broker), network partitions, disk
full, clock skew between hosts.

Findings, and what became of them:

- **A PostgreSQL restart killed the worker and the projection runner** (the faust timer `fire_timers` let a
  `psycopg.OperationalError` escape; the runner gave up on "terminating connection due to administrator
  command"). Fixed: periodic jobs log and retry on the next tick, the runner reconnects with backoff, batches
  wait for the database. `test_the_worker_and_projection_runner_ride_out_a_postgresql_restart` now passes and
  the scenarios require zero child crashes.
- **Dead letters were duplicated under kills** (the consumer resumed from the broker's committed offsets, which
  lag careloop's, so a poison message was dead-lettered again on each redelivery). Fixed: the worker skips
  messages below the offsets committed in PostgreSQL for the same topic id. A kill between sending a dead
  letter and committing can still repeat it once (at least once): deduplicate by origin partition/offset.

This page is generated from `tests/faults/.last-run.json` by `python -m tests.faults.report`.
"""


def record(path: Path, scenario: str, entry: dict[str, Any]) -> None:
    """Merge one scenario's entry into the last-run file (entries of other scenarios stay)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        data = json.loads(text) if text.strip() else {}
        data.setdefault("scenarios", {})[scenario] = entry
        data["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        f.seek(0)
        f.truncate()
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "none"
    return "-" if value is None else str(value)


def render(data: dict[str, Any]) -> str:
    lines = [INTRO, f"## Last run: {data.get('updated', 'unknown')}", ""]
    scenarios = data.get("scenarios", {})
    seeds = {name: s.get("seed") for name, s in scenarios.items() if s.get("seed") is not None}
    if seeds:
        lines.append("Seeds: " + ", ".join(f"{name} `{seed}`" for name, seed in sorted(seeds.items())) + ".")
        lines.append("")
    for name, entry in sorted(scenarios.items()):
        lines += [f"### {name}", "", "| measure | value |", "| --- | --- |"]
        for kind, n in entry.get("faults", {}).items():
            lines.append(f"| fault: {kind} | {n} |")
        for key, value in entry.items():
            if key != "faults":
                lines.append(f"| {key} | {_cell(value)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else LAST_RUN
    target = Path(args[1]) if len(args) > 1 else DOC
    if not source.is_file():
        print(f"no fault-injection record at {source}; run `make faults` first", file=sys.stderr)
        return 1
    target.write_text(render(json.loads(source.read_text())))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
