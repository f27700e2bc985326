"""A snapshot written by this checkout loads in a `pip install .` of the same version: nothing in a snapshot depends
on where careloop's files are (the pickles it replaced were valid for a digest of source files found beside the
package, which a wheel install does not have).

In the integration tier because it builds and installs a wheel (tens of seconds; pip fetches the build backend,
setuptools, from the package index the first time). The wheel's own dependencies are the checkout's virtual
environment, read as a plain path: its editable install of careloop is never activated, so the subprocess can
only import the installed copy, which the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from engine.journeys.machine import react
from engine.store import snapshots
from engine.store.application import JourneyStore
from engine.store.recorder import Commit
from tests.builders import at, catalog, discharge, registered

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

LOAD = textwrap.dedent(
    """
    import json, sys
    import engine
    from engine.store.application import JourneyStore, postgres_env

    store = JourneyStore(postgres_env(sys.argv[1]))
    loaded = store.load([sys.argv[2]])[sys.argv[2]]
    replayed = store.repository.get(loaded.id)
    print(json.dumps({
        "engine": engine.__file__,
        "snapshot_version": loaded.snapshot_version,
        "version": loaded.version,
        "equal_to_replay": loaded.state == replayed.state,
        "instances": len(loaded.state.instances),
    }))
    store.close()
    """
)


def _sources(into: Path) -> Path:
    """The checkout's files as `git ls-files` lists them (no build output written into the shared tree)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            (into / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name.decode())
    return into


def _wheel_install(tmp: Path) -> Path:
    """A virtual environment with careloop installed from a built wheel (not editable); its python."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, str(_sources(tmp / "src"))], check=True, cwd=tmp)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, as a path: a .pth line that is a path adds it without running the .pth files inside it.
    (Path(purelib) / "checkout-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_a_snapshot_written_by_the_checkout_loads_in_a_wheel_install(
    database_url: str, store: JourneyStore, tmp_path: Path
) -> None:
    aggregate = store.load(["P1"])["P1"]
    start = at("2026-03-02 10:00")
    for trigger in (registered("P1", start, birth_date="1960-01-01"), discharge("P1", start)):
        for decision in react(aggregate.state, trigger, catalog()):
            aggregate.record(decision.events, decision.state)
    store.commit([aggregate], Commit(consumer="c"))
    store.commit([], Commit(consumer="c", snapshots=[snapshots.take(aggregate)]))

    python = _wheel_install(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    ran = subprocess.run(
        [str(python), "-c", LOAD, database_url, "P1"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    loaded = json.loads(ran.stdout.strip().splitlines()[-1])
    assert Path(loaded["engine"]).is_relative_to(tmp_path / "venv"), "the wheel's copy, not the checkout's"
    assert loaded["snapshot_version"] == loaded["version"] == aggregate.version  # read from the snapshot
    assert loaded["equal_to_replay"] and loaded["instances"] == len(aggregate.state.instances) > 0
