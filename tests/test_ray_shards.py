"""`runner run M --ray --shards N` on a local Ray cluster (2 CPUs) against a loopback simulator.

One shard's worker process is killed mid-run; Ray runs the shard again, its journal makes
that a resume, and the simulator's ledger shows every task created exactly once. A
real-time smoke test: what it asserts does not depend on how fast the machine is, only
that a shard is still working when the test looks (each shard runs its tasks one by one).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from factories import write_manifest
from loopback_sim import serve_sim

from runner.cli import main
from runner.core import TaskState
from runner.journal import JOURNAL_NAME, Store

ray = pytest.importorskip("ray")

SHARDS = 3
TASKS = 12
MANIFEST = """\
name: m
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5, audio: false}
limits: {concurrency: 1}
matrix: {seed: [1, 2, 3, 4]}
tasks:
  - {id: cat, prompt: A cat on a roof, img_url: "https://img.example/cat.png"}
  - {id: dog, prompt: A dog in the rain, img_url: "https://img.example/dog.png"}
  - {id: owl, prompt: An owl at night, img_url: "https://img.example/owl.png"}
"""


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_runs_every_shard_survives_a_killed_worker_and_merges(tmp_path: Path, local_ray: None) -> None:
    manifest = write_manifest(tmp_path, MANIFEST)
    out = tmp_path / "out"
    with serve_sim("--time-scale", "0.01", "--seed", "3") as sim:
        args = [
            "run",
            str(manifest),
            "--endpoint",
            sim.url,
            "--out",
            str(out),
            "--ray",
            "--shards",
            str(SHARDS),
        ]
        outcome: list[Result] = []
        driver = threading.Thread(target=lambda: outcome.append(CliRunner().invoke(main, args)))
        driver.start()
        killed = _kill_a_busy_shard(out / "m", driver)
        driver.join(timeout=300)
        ledger = sim.ledger()
    assert outcome, "the --ray run did not end"
    result = outcome[0]
    assert result.exit_code == 0, result.output
    assert killed is not None, "no shard was caught mid-run"
    assert f"Merged {SHARDS} folders" in result.output and f"{TASKS} tasks, {TASKS} done" in result.output
    bodies = [entry["request_sha256"] for entry in ledger["submissions"]]
    assert len(bodies) == len(set(bodies)) == TASKS  # each task created once, killed shard included
    assert ledger["duplicate_bodies"] == 0
    table = pd.read_parquet(out / "m" / "merged" / "status.parquet")
    assert (table["state"] == "done").sum() == TASKS


def _kill_a_busy_shard(folder: Path, driver: threading.Thread) -> int | None:
    """SIGKILL the worker of the first shard seen with some, not all, of its tasks done."""
    deadline = time.monotonic() + 240
    while driver.is_alive() and time.monotonic() < deadline:
        for index in range(SHARDS):
            shard = folder / f"shard-{index}-of-{SHARDS}"
            pid = _busy_worker(shard)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.02)
    return None


def _busy_worker(shard: Path) -> int | None:
    store = Store.open_readonly(shard / JOURNAL_NAME)
    if store is None:
        return None
    with store:
        counts = store.counts()
    done, total = counts.get(TaskState.DONE, 0), sum(counts.values())
    if not 0 < done < total:
        return None
    holder = re.search(r"runner pid (\d+)", (shard / "state.lock").read_text(encoding="utf-8"))
    pid = int(holder.group(1)) if holder else None
    return pid if pid is not None and pid != os.getpid() else None
