"""Chaos harness: kill `runner run` again and again against a faulty simulator, then audit.

Starts `runner sim serve --profile chaos` (errors, lost replies, slow and dropped
connections, truncated and reset downloads, expired URLs, failed tasks) plus recurring 429
and 503 storms in its own process. First every bad manifest of tests/data/bad_manifests/
is run against it (each must exit 1, and the simulator must see no request). Then it
writes a manifest of N tasks and runs the real `runner run` in a subprocess: once to each
named crash point (RUNNER_CRASH_AT), K times killed with SIGKILL at a random moment, then
to the end. It then checks, against the simulator's ledger (bench/chaos_figures.py):

- every task is done, failed (with a code) or expired; none is left in between;
- every video's sha256 equals the one the simulator served; no `.part` file is left;
- duplicate submissions seen by the server <= those the runner reported (resubmitted
  after an ambiguity it could not resolve);
- the journal passes `PRAGMA integrity_check`; status.csv has one row per task.

Prints the figures; exits 1 on any violation. `--write-markdown PATH` also writes them
as a markdown block (docs/reliability.md is made this way).

    python bench/chaos.py --tasks 30 --kills 3            # a minute or less
    python bench/chaos.py --tasks 1000 --kills 20 --write-markdown docs/reliability.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos_figures import ChaosConfig, Figures, audit, render_markdown, render_text, write_markdown

from runner.engine.crashpoints import CRASH_POINTS
from runner.simulator.process import fetch_ledger, spawn_server

__all__ = ["main", "run_chaos"]

RUN_NAME = "chaos"
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "bad_manifests"
DEMO_IMAGE = Path(__file__).resolve().parent.parent / "manifests" / "images" / "bridge.png"
KILLED = -signal.SIGKILL
CRASHED = 137  # what a crash point exits with


# -- the simulator and the runner as processes -------------------------------------------------


def storms(config: ChaosConfig, horizon_s: float = 7200.0) -> list[dict[str, Any]]:
    """Fault windows (simulated seconds) for the whole run: 429 on creates, then 503 on creates
    and polls, each `storm_length_s` long, alternating every `storm_every_s / 2` real seconds."""
    windows: list[dict[str, Any]] = []
    scale = config.time_scale
    length = config.storm_length_s / scale
    for n in range(1, int(horizon_s / config.storm_every_s) + 1):
        start = n * config.storm_every_s / scale
        windows.append({"kind": "429", "start": start, "end": start + length, "endpoints": ["create"]})
        middle = start + config.storm_every_s / 2 / scale
        windows.append(
            {"kind": "503", "start": middle, "end": middle + length, "endpoints": ["create", "query"]}
        )
    return windows


@contextmanager
def simulator(config: ChaosConfig, log: Path) -> Iterator[str]:
    """`runner sim serve` (the chaos profile plus storms) on a free loopback port; yields its URL."""
    settings = log.with_name("sim.json")  # JSON is YAML: the simulator reads it with --config
    settings.write_text(json.dumps({"profile": "chaos", "faults": {"windows": storms(config)}}))
    args = ["--config", str(settings), "--seed", str(config.seed), "--time-scale", str(config.time_scale)]
    with spawn_server(*args, stderr_path=log) as server:
        yield server.url


def run_runner(
    manifest: Path, url: str, work: Path, log: Path, *, env: dict[str, str] | None = None,
    kill_after: float | None = None, timeout: float = 900.0,
) -> int:  # fmt: skip
    """One `runner run`; its exit status (-9 when this harness killed it)."""
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--endpoint", url]
    command += ["--out", str(work / "out"), "--no-progress"]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DASHSCOPE_API_KEY", None)
    with log.open("a") as output:
        output.write(f"\n=== {' '.join(command[3:])} env={env or {}} kill_after={kill_after}\n")
        output.flush()
        process = subprocess.Popen(command, stdout=output, stderr=output, env=full_env)
        try:
            process.wait(timeout=kill_after if kill_after is not None else timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return KILLED if kill_after is not None else -1
        return process.returncode


# -- the manifest ---------------------------------------------------------------------------------


def write_manifest(folder: Path, config: ChaosConfig) -> Path:
    """chaos.yaml + tasks.csv (N rows: remote image URLs, and a local PNG every few rows)."""
    shutil.copyfile(DEMO_IMAGE, folder / "frame.png")
    with (folder / "tasks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prompt", "img_url", "meta.row"])
        for n in range(config.tasks):
            local = config.local_image_every and n % config.local_image_every == 0
            image = "frame.png" if local else f"https://img.example/chaos/{n}.png"
            writer.writerow([f"c{n:05d}", f"Chaos scene number {n}", image, n])
    manifest = folder / "chaos.yaml"
    manifest.write_text(
        f"name: {RUN_NAME}\nmodel: wan2.6-i2v-flash\n"
        "defaults: {resolution: 720P, duration: 5, audio: false}\nrows: tasks.csv\n",
        encoding="utf-8",
    )
    return manifest


# -- bad input -------------------------------------------------------------------------------------


def try_bad_inputs(corpus: Path, url: str, work: Path, figures: Figures) -> None:
    """Run every manifest of the corpus (plus 100 MB files made here) against the simulator:
    each must exit 1 with a message, and the simulator must see no request at all."""
    from click.testing import CliRunner

    from runner.cli import main as runner_main

    before = _request_count(url)
    for manifest in _bad_manifests(corpus, work / "bad"):
        own_endpoint = (
            "endpoint: http" in manifest.read_text(errors="replace") if manifest.is_file() else False
        )
        args = ["run", str(manifest), "--out", str(work / "bad-out"), "--no-progress"]
        args += [] if own_endpoint else ["--endpoint", url]
        if manifest.suffix == ".csv":
            args += ["--model", "wan2.6-i2v-flash"]
        result = CliRunner().invoke(runner_main, args)
        figures.bad_inputs_tried += 1
        refused = result.exit_code == 1 and result.stderr.startswith("Error:")
        figures.bad_inputs_refused += refused
        if not refused:
            figures.violations.append(f"bad input {manifest.name} exited {result.exit_code}")
    figures.bad_input_requests = _request_count(url) - before
    if (work / "bad-out").exists():
        figures.violations.append("a bad manifest created files under --out")


def _bad_manifests(corpus: Path, scratch: Path) -> list[Path]:
    scratch.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in corpus.iterdir() if p.is_file() and not p.name.startswith("accepted_"))
    big_yaml, nul_csv, big_png = scratch / "big.yaml", scratch / "nul.csv", scratch / "huge.png"
    for path, head in (
        (big_yaml, b""),
        (nul_csv, b"id,prompt,img_url\n"),
        (big_png, DEMO_IMAGE.read_bytes()),
    ):
        with path.open("wb") as handle:
            handle.write(head)
            handle.truncate(100 * 1024 * 1024)  # sparse: no 100 MB written
    image_row = "model: wan2.6-i2v-flash\ntasks:\n  - {id: a, prompt: a cat, img_url: huge.png}\n"
    (scratch / "huge-image.yaml").write_text(image_row)
    return [*files, big_yaml, nul_csv, scratch / "huge-image.yaml"]


def _request_count(url: str) -> int:
    return sum(sum(codes.values()) for codes in fetch_ledger(url)["requests"].values())


# -- the schedule of kills ------------------------------------------------------------------------


def torture(manifest: Path, url: str, work: Path, config: ChaosConfig, figures: Figures) -> int:
    """Crash points, random kills, then runs to the end; the last exit status."""
    chance = random.Random(config.seed)
    log = work / "runner.log"
    for point in CRASH_POINTS:
        env = {"RUNNER_CRASH_AT": point, "RUNNER_CRASH_AFTER": str(chance.randint(1, 4))}
        status = run_runner(manifest, url, work, log, env=env, timeout=config.run_timeout)
        figures.invocations += 1
        (figures.crash_points_hit if status == CRASHED else figures.crash_points_missed).append(point)
    low, high = config.kill_window or _kill_window(config)
    for _ in range(3 * config.kills):  # a run that ends before its kill is retried, aiming earlier
        if figures.random_kills == config.kills:
            break
        status = run_runner(manifest, url, work, log, kill_after=chance.uniform(low, high))
        figures.invocations += 1
        if status == KILLED:
            figures.random_kills += 1
        else:
            high = max(low, high / 2)
    status = -1
    for _ in range(config.final_attempts):
        status = run_runner(manifest, url, work, log, timeout=config.run_timeout)
        figures.invocations += 1
        if status in (0, 3):
            break
    return status


def _kill_window(config: ChaosConfig) -> tuple[float, float]:
    """Spread the kills over the whole run: at 5 submissions/s, N tasks take about N/5 seconds."""
    return 0.5, max(4.0, 2.0 * config.tasks / (5.0 * max(config.kills, 1)))


# -- entry point -------------------------------------------------------------------------------------


def run_chaos(config: ChaosConfig, work: Path, corpus: Path | None = None) -> Figures:
    """The whole harness in `work`; the figures (their `violations` empty when all held)."""
    figures = Figures()
    manifest = write_manifest(work, config)
    started = time.monotonic()
    with simulator(config, work / "sim.log") as url:
        if corpus is not None:
            try_bad_inputs(corpus, url, work, figures)
        final = torture(manifest, url, work, config, figures)
        ledger = fetch_ledger(url)
    figures.wall_s = time.monotonic() - started
    (work / "ledger.json").write_text(json.dumps(ledger, indent=1))
    bad_input_violations = figures.violations
    audit(work / "out" / RUN_NAME, ledger, config, figures)
    figures.violations = bad_input_violations + figures.violations
    if figures.bad_input_requests:
        figures.violations.append(f"bad manifests sent {figures.bad_input_requests} requests")
    if final not in (0, 3):
        figures.violations.append(f"the last run exited {final}, not 0 or 3; see {work / 'runner.log'}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-scale", type=float, default=ChaosConfig.time_scale)
    parser.add_argument(
        "--bad-inputs", type=Path, default=DEFAULT_CORPUS, help="Folder of bad manifests to try first."
    )
    parser.add_argument("--no-bad-inputs", action="store_true", help="Skip the bad-manifest stage.")
    parser.add_argument("--workdir", type=Path, help="Keep everything here (default: a temp dir).")
    parser.add_argument("--write-markdown", type=Path, help="Also write the figures as markdown here.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON instead.")
    args = parser.parse_args(argv)
    config = ChaosConfig(tasks=args.tasks, kills=args.kills, seed=args.seed, time_scale=args.time_scale)
    corpus = None if args.no_bad_inputs or not args.bad_inputs.is_dir() else args.bad_inputs
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        figures = run_chaos(config, args.workdir, corpus)
    else:
        with tempfile.TemporaryDirectory(prefix="runner-chaos-") as folder:
            figures = run_chaos(config, Path(folder), corpus)
    if args.json:
        print(json.dumps(figures.__dict__, indent=2))
    else:
        print(render_text(figures, config))
    if args.write_markdown is not None:
        write_markdown(args.write_markdown, render_markdown(figures, config), config)
    return 1 if figures.violations else 0


if __name__ == "__main__":
    sys.exit(main())
