"""Section 2: the same batch by `runner run` and by the official SDK (bench/sdk_baseline.py).

Both run against a fresh `runner sim serve` at real-time speed with the same config and
seed (median generation time 8 s), one after the other, each as its own process, so the
ledger, CPU time and peak memory belong to one client. The makespan is the client process's
wall time (start-up included); LB is computed from the generation times the simulator drew
for that client's submissions (under chaos, failed tasks' times count too). A task counts as delivered only
if its video on disk has the SHA-256 the simulator recorded for that task id.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.processes import Measured, measure, serve
from runner.core.efficiency import makespan_lower_bound
from runner.journal.store import JOURNAL_NAME

__all__ = ["ClientRun", "run_runner", "run_sdk", "run_section", "tasks", "verified"]

MODEL = "wan2.6-i2v-flash"  # 5 submissions/s, 5 concurrent
CONCURRENCY = 5


def _sim_settings(profile: str, seed: int) -> dict[str, Any]:
    return {
        "profile": profile,
        "seed": seed,
        "time_scale": 1.0,
        "video_bytes": 256 * 1024,
        "timing": {"median_s": 8.0, "dispatch_delay_s": [0.05, 0.5], "max_run_s": 60.0},
    }


def tasks(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"s{i:03d}",
            "model": MODEL,
            "prompt": f"A lighthouse at dusk, the beam sweeping over the waves, take {i}",
            "img_url": f"https://img.example/sdk/{i}.png",
            "parameters": {"resolution": "720P", "duration": 5},
        }
        for i in range(count)
    ]


def _manifest(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "sdk-compare",
        "model": MODEL,
        "defaults": {"resolution": "720P", "duration": 5},
        "tasks": [{"id": t["id"], "prompt": t["prompt"], "img_url": t["img_url"]} for t in tasks],
    }


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(videos: dict[str, tuple[str, Path]], ledger: dict[str, Any]) -> int:
    """Videos whose bytes match what the simulator generated for that task id."""
    expected = {s["task_id"]: s["video_sha256"] for s in ledger["submissions"]}
    return sum(1 for task_id, path in videos.values() if expected.get(task_id) == _sha256(path))


def _runner_videos(run_dir: Path) -> dict[str, tuple[str, Path]]:
    with sqlite3.connect(run_dir / JOURNAL_NAME) as db:
        rows = db.execute("SELECT id, task_id, video_path FROM tasks WHERE state = 'done'").fetchall()
    return {row[0]: (row[1], run_dir / row[2]) for row in rows}


def _runner_failures(run_dir: Path) -> dict[str, int]:
    """Why the tasks without a video ended that way: error code -> count, from the journal."""
    with sqlite3.connect(run_dir / JOURNAL_NAME) as db:
        query = "SELECT COALESCE(error_code, state), COUNT(*) FROM tasks WHERE state != 'done' GROUP BY 1"
        return {str(code): int(count) for code, count in db.execute(query).fetchall()}


def _figures(name: str, run: Measured, ledger: dict[str, Any], delivered: int, count: int) -> dict[str, Any]:
    """One client's row; LB is in real seconds (the simulator's seconds times its time scale)."""
    requests = ledger["requests"]
    task_requests = sum(sum(requests.get(ep, {}).values()) for ep in ("create", "query", "list"))
    ran = [s for s in ledger["submissions"] if s["scheduled_time"] is not None and s["end_time"] is not None]
    durations = [(s["end_time"] - s["scheduled_time"]) * ledger["time_scale"] for s in ran]
    bound = makespan_lower_bound(durations, CONCURRENCY, 5.0 / ledger["time_scale"])
    return {
        "client": name,
        "tasks": count,
        "makespan_s": run.wall_s,
        "lb_s": bound,
        "requests_per_task": task_requests / count,
        "gets_per_task": sum(requests.get("query", {}).values()) / count,
        "lists_per_task": sum(requests.get("list", {}).values()) / count,
        "submit_429": ledger["throttled"].get("create", 0),
        "delivered": delivered,
        "lost": count - delivered,
        "cpu_s": run.cpu_s,
        "peak_mb": run.peak_mb,
        "exit": run.returncode,
    }


@dataclass
class ClientRun:
    """One client's run of a batch against its own simulator: what it cost and what it left."""

    client: str
    measured: Measured
    ledger: dict[str, Any]  #: the simulator's, with its time_scale
    videos: dict[str, tuple[str, Path]]  #: task id -> (DashScope task id, video on disk)
    lost_why: dict[str, int]


def run_runner(
    tasks: list[dict[str, Any]], settings: dict[str, Any], tmp: Path, extra: Sequence[str] = ()
) -> ClientRun:
    """`runner run` of the batch against a fresh `runner sim serve` with `settings`; `extra`: more
    arguments (a `--trace FILE`)."""
    manifest = tmp / "sdk-compare.yaml"
    manifest.write_text(yaml.safe_dump(_manifest(tasks)))
    with serve(settings) as sim:
        command = [sys.executable, "-m", "runner", "run", str(manifest), "--endpoint", sim.url]
        command += ["--out", str(tmp / "outputs"), "--no-progress", *extra]
        run = measure(command)
        ledger = sim.ledger() | {"time_scale": settings["time_scale"]}
    run_dir = tmp / "outputs" / "sdk-compare"
    return ClientRun("runner run", run, ledger, _runner_videos(run_dir), _runner_failures(run_dir))


def run_sdk(tasks: list[dict[str, Any]], settings: dict[str, Any], tmp: Path) -> ClientRun:
    """The SDK's documented pattern (bench/sdk_baseline.py) against a fresh simulator."""
    spec = tmp / "tasks.json"
    spec.write_text(json.dumps(tasks))
    baseline = Path(__file__).with_name("sdk_baseline.py")
    with serve(settings) as sim:
        command = [sys.executable, str(baseline), sim.url, str(spec), str(tmp / "sdk")]
        run = measure([*command, "--workers", str(CONCURRENCY)])
        ledger = sim.ledger() | {"time_scale": settings["time_scale"]}
    result = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {"videos": {}}
    videos = {k: (v["task_id"], Path(v["path"])) for k, v in result["videos"].items()}
    return ClientRun("dashscope SDK", run, ledger, videos, result.get("errors", {}))


def verified(run: ClientRun) -> int:
    """Videos whose bytes match what the simulator generated for that task id."""
    return _verified(run.videos, run.ledger)


def run_section(smoke: bool) -> list[dict[str, Any]]:
    """Side-by-side rows for the default and chaos profiles (default only when smoke)."""
    count = 6 if smoke else 50
    profiles = ("default",) if smoke else ("default", "chaos")
    rows = []
    for profile in profiles:
        settings = _sim_settings(profile, seed=11)
        if smoke:
            settings |= {"time_scale": 0.05}
        batch = tasks(count)
        for client in (run_runner, run_sdk):
            with tempfile.TemporaryDirectory(prefix="bench-sdk-") as tmp:
                run = client(batch, settings, Path(tmp))
                row = _figures(run.client, run.measured, run.ledger, verified(run), count)
            rows.append({"profile": profile, **row, "lost_why": run.lost_why})
    return rows
