"""The chaos harness's figures: what it measured, how each promise is judged, how it is shown.

`audit` reads the run folder (journal, videos, status.csv) and the simulator's ledger into
`Figures`; `render_text` prints them and `render_markdown`/`write_markdown` put them in a
marked block of a markdown file (docs/reliability.md). Used by bench/chaos.py.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.core.tasks import TaskRecord, TaskState
from runner.engine.crashpoints import CRASH_POINTS
from runner.journal.store import JOURNAL_NAME, Store

__all__ = ["ChaosConfig", "Figures", "audit", "render_markdown", "render_text", "write_markdown"]

TERMINAL = {TaskState.DONE, TaskState.FAILED, TaskState.EXPIRED, TaskState.CANCELLED}


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
    reported_resubmissions: int = 0
    wrong_adoptions: int = 0  #: rows holding a task made from another row's request
    paid_twice: int = 0  #: extra successes of one request body
    reported_double_charges: int = 0  #: tasks the runner listed as possible double charges
    unreported_double_charges: int = 0  #: extra successes no row reported
    reconciled: int = 0
    sha_mismatches: int = 0
    part_files: int = 0
    integrity: str = ""
    status_rows: int = 0
    bad_inputs_tried: int = 0
    bad_inputs_refused: int = 0  #: exit 1 with an `Error:` message
    bad_input_requests: int = 0  #: requests the simulator saw while they were tried (must be 0)
    violations: list[str] = field(default_factory=list)


# -- the audit --------------------------------------------------------------------------------------


def audit(run_dir: Path, ledger: dict[str, Any], config: ChaosConfig, figures: Figures) -> None:
    """Fill `figures` from the journal, the files and the ledger; record every violation."""
    figures.tasks = config.tasks
    by_task_id = {entry["task_id"]: entry for entry in ledger["submissions"]}
    journal = run_dir / JOURNAL_NAME
    figures.integrity = _integrity(journal)
    with Store.open(journal) as store:
        records = store.records()
        prompts = {record.id: store.spec(record.id).prompt for record in records}
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
    figures.wrong_adoptions = sum(
        1 for r in records if r.task_id in by_task_id and by_task_id[r.task_id]["prompt"] != prompts[r.id]
    )
    _double_charges(records, prompts, ledger, figures)
    figures.part_files = len(list(run_dir.rglob("*.part")))
    figures.status_rows = _status_rows(run_dir)
    _server_side(ledger, figures)
    _judge(figures, len(records))


def _double_charges(
    records: list[TaskRecord], prompts: dict[str, str | None], ledger: dict[str, Any], figures: Figures
) -> None:
    """Each request body the server generated more than once is paid twice; each such extra
    must be reported on its row (every prompt of the chaos manifest is its row's own)."""
    succeeded = Counter(entry["prompt"] for entry in ledger["submissions"] if entry["status"] == "SUCCEEDED")
    reported = {prompts[r.id]: len(r.double_charge_ids or []) for r in records}
    figures.paid_twice = sum(count - 1 for count in succeeded.values())
    figures.reported_double_charges = sum(1 for r in records if r.double_charge_ids)
    figures.unreported_double_charges = sum(
        max(0, count - 1 - reported.get(prompt, 0)) for prompt, count in succeeded.items()
    )


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
        (figures.wrong_adoptions == 0, f"{figures.wrong_adoptions} tasks hold another task's video"),
        (
            figures.unreported_double_charges == 0,
            f"{figures.unreported_double_charges} videos were paid twice without the runner saying so",
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
        f"  ambiguous submissions: {figures.reconciled} adopted, {figures.reported_resubmissions} sent "
        f"again; wrong adoptions: {figures.wrong_adoptions}",
        f"  double charges: {figures.paid_twice} paid twice, {figures.reported_double_charges} reported "
        f"as possible, {figures.unreported_double_charges} unreported",
        f"  files: {figures.sha_mismatches} sha256 mismatches, {figures.part_files} .part files; "
        f"journal integrity: {figures.integrity}; status.csv rows: {figures.status_rows}/{figures.tasks}",
    ]
    if figures.bad_inputs_tried:
        lines.append(
            f"  bad input: {figures.bad_inputs_refused}/{figures.bad_inputs_tried} manifests refused "
            f"with exit 1, {figures.bad_input_requests} requests sent"
        )
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
        ("Ambiguous submissions found and adopted", str(figures.reconciled)),
        ("Ambiguous submissions sent again", str(figures.reported_resubmissions)),
        ("Wrong adoptions (a task holding another's video)", str(figures.wrong_adoptions)),
        ("Videos paid twice (the server generated one request twice)", str(figures.paid_twice)),
        ("Possible double charges the runner reported", str(figures.reported_double_charges)),
        ("Double charges not reported", str(figures.unreported_double_charges)),
        ("Videos differing from the server's sha256", str(figures.sha_mismatches)),
        ("`.part` files left", str(figures.part_files)),
        ("Journal `PRAGMA integrity_check`", figures.integrity),
        ("status.csv rows", f"{figures.status_rows:,} of {figures.tasks:,}"),
        (
            "Bad manifests refused (exit 1, nothing sent)",
            f"{figures.bad_inputs_refused} of {figures.bad_inputs_tried}; "
            f"{figures.bad_input_requests} requests reached the simulator",
        ),
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
