"""Chaos harness: kill `runner run` again and again against a faulty simulator, then audit.

Starts `runner sim serve --profile chaos` (errors, lost replies, slow and dropped
connections, truncated and reset downloads, expired URLs, failed tasks, a 429 storm) in
its own process, writes a manifest of N tasks, and runs the real `runner run` in a
subprocess: once to each named crash point (RUNNER_CRASH_AT), K times killed with SIGKILL
at a random moment, then to the end. It then checks, against the simulator's ledger:

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
import hashlib
import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.crashpoints import CRASH_POINTS
from runner.simulator import DEFAULT_API_KEY
from runner.store import JOURNAL_NAME, Store
from runner.tasks import TaskState

__all__ = ["ChaosConfig", "Figures", "main", "run_chaos"]

RUN_NAME = "chaos"
TERMINAL = {TaskState.DONE, TaskState.FAILED, TaskState.EXPIRED, TaskState.CANCELLED}
KILLED = -signal.SIGKILL
CRASHED = 137  # what a crash point exits with


@dataclass(frozen=True)
class ChaosConfig:
    """One harness run."""

    tasks: int = 30
    kills: int = 3
    seed: int = 1
    time_scale: float = 0.005  #: real seconds per simulated second (a 90 s task takes 0.45 s)
    kill_window: tuple[float, float] | None = None  #: seconds into a run a kill lands; None: see below
    local_image_every: int = 10  #: every n-th row uses a local image (uploaded), the rest URLs
    final_attempts: int = 6  #: resumptions allowed after the last kill to finish the run
    run_timeout: float = 900.0  #: seconds one `runner run` may take before it counts as hung
    storm_every_s: float = 4.0  #: real seconds between storms (a 429 storm, then a 503 storm)
    storm_length_s: float = 0.5  #: real seconds each storm lasts


@dataclass
class Figures:
    """What the harness saw; `violations` lists every broken promise."""

    tasks: int = 0
    invocations: int = 0
    random_kills: int = 0
    crash_points_hit: list[str] = field(default_factory=list)
    crash_points_missed: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    done: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    unfinished: int = 0
    server_submissions: int = 0
    server_requests: int = 0
    throttled: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    download_faults: dict[str, int] = field(default_factory=dict)
    server_duplicates: int = 0
    reported_resubmissions: int = 0
    reconciled: int = 0
    sha_mismatches: int = 0
    part_files: int = 0
    integrity: str = ""
    status_rows: int = 0
    violations: list[str] = field(default_factory=list)


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
    command = [sys.executable, "-m", "runner", "sim", "serve", "--port", "0", "--config", str(settings)]
    command += ["--seed", str(config.seed), "--time-scale", str(config.time_scale)]
    with log.open("w") as errors:
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"runner sim serve did not start; see {log}")
            yield url
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def fetch_ledger(url: str) -> dict[str, Any]:
    """The simulator's ledger (GET /_sim/ledger)."""
    request = urllib.request.Request(url.removesuffix("/api/v1") + "/_sim/ledger")
    request.add_header("Authorization", f"Bearer {DEFAULT_API_KEY}")
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


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


def tiny_png(width: int = 320, height: int = 240) -> bytes:
    """A valid grey PNG (the smallest image every model accepts)."""
    raw = zlib.compress((b"\x00" + b"\x80" * (width * 3)) * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def write_manifest(folder: Path, config: ChaosConfig) -> Path:
    """chaos.yaml + tasks.csv (N rows: remote image URLs, and a local PNG every few rows)."""
    (folder / "frame.png").write_bytes(tiny_png())
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


# -- the audit --------------------------------------------------------------------------------------


def audit(run_dir: Path, ledger: dict[str, Any], config: ChaosConfig, figures: Figures) -> None:
    """Fill `figures` from the journal, the files and the ledger; record every violation."""
    figures.tasks = config.tasks
    by_task_id = {entry["task_id"]: entry for entry in ledger["submissions"]}
    journal = run_dir / JOURNAL_NAME
    figures.integrity = _integrity(journal)
    with Store.open(journal) as store:
        records = store.records()
        events = Counter(event["event"] for event in store.events())
    failed: Counter[str] = Counter()
    for record in records:
        if record.state is TaskState.DONE:
            figures.done += 1
            figures.sha_mismatches += not _file_matches(
                run_dir, record.video_path, record.task_id, by_task_id
            )
        elif record.state is TaskState.FAILED:
            failed[record.error_code or "unknown"] += 1
        elif record.state is TaskState.EXPIRED:
            figures.expired += 1
        elif record.state not in TERMINAL:
            figures.unfinished += 1
    figures.failed = dict(sorted(failed.items()))
    figures.reported_resubmissions = events["not_found"]
    figures.reconciled = events["adopted"]
    figures.part_files = len(list(run_dir.rglob("*.part")))
    figures.status_rows = _status_rows(run_dir)
    _server_side(ledger, figures)
    _judge(figures, len(records))


def _integrity(journal: Path) -> str:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def _file_matches(run_dir: Path, path: str | None, task_id: str | None, served: dict[str, Any]) -> bool:
    if path is None or task_id not in served or not (run_dir / path).is_file():
        return False
    digest = hashlib.sha256((run_dir / path).read_bytes()).hexdigest()
    return bool(digest == served[task_id]["video_sha256"])


def _status_rows(run_dir: Path) -> int:
    table = run_dir / "status.csv"
    if not table.is_file():
        return 0
    with table.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _server_side(ledger: dict[str, Any], figures: Figures) -> None:
    """Requests, faults and duplicates as the simulator counted them."""
    submissions = ledger["submissions"]
    figures.server_submissions = len(submissions)
    figures.server_requests = sum(sum(codes.values()) for codes in ledger["requests"].values())
    figures.throttled = int(ledger["throttled_total"])
    figures.faults_injected = dict(ledger["faults"])
    downloads = ledger["downloads"]
    figures.download_faults = {k: downloads[k] for k in ("truncated", "reset", "expired") if downloads[k]}
    # A failed task submitted again is a new attempt, not a duplicate: count live bodies only.
    live = Counter(entry["request_sha256"] for entry in submissions if entry["status"] != "FAILED")
    figures.server_duplicates = sum(count - 1 for count in live.values())


def _judge(figures: Figures, journal_rows: int) -> None:
    checks = [
        (figures.unfinished == 0, f"{figures.unfinished} tasks are not in a terminal state"),
        (figures.sha_mismatches == 0, f"{figures.sha_mismatches} videos differ from what the server served"),
        (figures.part_files == 0, f"{figures.part_files} .part files were left behind"),
        (figures.integrity == "ok", f"journal integrity check: {figures.integrity}"),
        (
            journal_rows == figures.tasks,
            f"the journal has {journal_rows} tasks, the manifest {figures.tasks}",
        ),
        (
            figures.status_rows == figures.tasks,
            f"status.csv has {figures.status_rows} rows, not {figures.tasks}",
        ),
        (
            figures.server_duplicates <= figures.reported_resubmissions,
            f"the server saw {figures.server_duplicates} duplicate submissions, "
            f"the runner reported {figures.reported_resubmissions}",
        ),
        (not figures.crash_points_missed, f"crash points never reached: {figures.crash_points_missed}"),
    ]
    figures.violations = [message for ok, message in checks if not ok]


# -- output -------------------------------------------------------------------------------------------


def render_text(figures: Figures, config: ChaosConfig) -> str:
    failed = ", ".join(f"{code} {n}" for code, n in figures.failed.items()) or "none"
    faults = ", ".join(f"{kind} {n}" for kind, n in sorted(figures.faults_injected.items())) or "none"
    downloads = ", ".join(f"{kind} {n}" for kind, n in figures.download_faults.items()) or "none"
    lines = [
        f"Chaos run: {figures.tasks} tasks, seed {config.seed}, time scale {config.time_scale}, "
        f"{figures.invocations} runner processes in {figures.wall_s:.0f}s",
        f"  kills: {figures.random_kills} random SIGKILLs; crash points hit: {len(figures.crash_points_hit)}"
        f"/{len(CRASH_POINTS)}",
        f"  outcome: {figures.done} done, failed by code: {failed}, {figures.expired} expired, "
        f"{figures.unfinished} unfinished",
        f"  server: {figures.server_requests} requests, {figures.server_submissions} submissions, "
        f"{figures.throttled} throttled (429)",
        f"  faults injected: {faults}; download faults: {downloads}",
        f"  duplicates: server saw {figures.server_duplicates}, runner reported "
        f"{figures.reported_resubmissions}; ambiguous submissions adopted: {figures.reconciled}",
        f"  files: {figures.sha_mismatches} sha256 mismatches, {figures.part_files} .part files; "
        f"journal integrity: {figures.integrity}; status.csv rows: {figures.status_rows}/{figures.tasks}",
    ]
    verdict = "OK: every promise held." if not figures.violations else "VIOLATIONS:"
    lines.append(verdict)
    lines += [f"  - {v}" for v in figures.violations]
    return "\n".join(lines)


def render_markdown(figures: Figures, config: ChaosConfig) -> str:
    """The figures as a markdown table, with the command that produced them."""
    failed = ", ".join(f"{code}: {n}" for code, n in figures.failed.items()) or "none"
    faults = ", ".join(f"{kind}: {n}" for kind, n in sorted(figures.faults_injected.items())) or "none"
    downloads = ", ".join(f"{kind}: {n}" for kind, n in figures.download_faults.items()) or "none"
    rows = [
        ("Tasks in the manifest", f"{figures.tasks:,}"),
        ("`runner run` processes", f"{figures.invocations} ({figures.wall_s:.0f} s in all)"),
        ("Random SIGKILLs", str(figures.random_kills)),
        ("Named crash points hit", f"{len(figures.crash_points_hit)} of {len(CRASH_POINTS)}"),
        ("Done (video verified)", f"{figures.done:,}"),
        ("Failed, by code", failed),
        ("Expired", str(figures.expired)),
        ("Left unfinished", str(figures.unfinished)),
        ("Requests the server answered", f"{figures.server_requests:,}"),
        ("Throttled (429)", f"{figures.throttled:,}"),
        ("Faults injected", faults),
        ("Download faults", downloads),
        ("Duplicate submissions seen by the server", str(figures.server_duplicates)),
        ("Resubmissions the runner reported", str(figures.reported_resubmissions)),
        ("Ambiguous submissions found and adopted", str(figures.reconciled)),
        ("Videos differing from the server's sha256", str(figures.sha_mismatches)),
        ("`.part` files left", str(figures.part_files)),
        ("Journal `PRAGMA integrity_check`", figures.integrity),
        ("status.csv rows", f"{figures.status_rows:,} of {figures.tasks:,}"),
        ("Violations", "; ".join(figures.violations) or "none"),
    ]
    command = f"python bench/chaos.py --tasks {config.tasks} --kills {config.kills} --seed {config.seed}"
    table = ["| Measure | Value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join([f"`{command}` (time scale {config.time_scale}):", "", *table, ""])


def write_markdown(path: Path, block: str, config: ChaosConfig) -> None:
    """Put `block` between this configuration's markers in `path` (added at the end if absent)."""
    tag = f"bench/chaos.py --tasks {config.tasks} --kills {config.kills}"
    begin, end = f"<!-- {tag}: begin -->", f"<!-- {tag}: end -->"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    marked = f"{begin}\n{block}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + marked + rest.split(end, 1)[1]
    else:
        text = f"{text.rstrip()}\n\n{marked}\n" if text.strip() else marked + "\n"
    path.write_text(text, encoding="utf-8")


# -- entry point -------------------------------------------------------------------------------------


def run_chaos(config: ChaosConfig, work: Path) -> Figures:
    """The whole harness in `work`; the figures (their `violations` empty when all held)."""
    figures = Figures()
    manifest = write_manifest(work, config)
    started = time.monotonic()
    with simulator(config, work / "sim.log") as url:
        final = torture(manifest, url, work, config, figures)
        ledger = fetch_ledger(url)
    figures.wall_s = time.monotonic() - started
    (work / "ledger.json").write_text(json.dumps(ledger, indent=1))
    audit(work / "out" / RUN_NAME, ledger, config, figures)
    if final not in (0, 3):
        figures.violations.append(f"the last run exited {final}, not 0 or 3; see {work / 'runner.log'}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-scale", type=float, default=ChaosConfig.time_scale)
    parser.add_argument("--workdir", type=Path, help="Keep everything here (default: a temp dir).")
    parser.add_argument("--write-markdown", type=Path, help="Also write the figures as markdown here.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON instead.")
    args = parser.parse_args(argv)
    config = ChaosConfig(tasks=args.tasks, kills=args.kills, seed=args.seed, time_scale=args.time_scale)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        figures = run_chaos(config, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="runner-chaos-") as folder:
            figures = run_chaos(config, Path(folder))
    if args.json:
        print(json.dumps(figures.__dict__, indent=2))
    else:
        print(render_text(figures, config))
    if args.write_markdown is not None:
        write_markdown(args.write_markdown, render_markdown(figures, config), config)
    return 1 if figures.violations else 0


if __name__ == "__main__":
    sys.exit(main())
