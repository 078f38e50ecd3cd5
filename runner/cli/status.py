"""`runner status OUT_OR_MANIFEST`: what a run folder's journal says, read-only and offline.

`--json` gives the same facts as data: counts, cost and times as numbers (`wall_time` and
`efficiency` stay the text people read; `wall_time_s`, `efficiency_ratio`, `started_at_unix`
and `finished_at_unix` are their numbers).

Also home of `open_journal`, shared with `runner report`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner.cli.options import find_run_folder, run_folder_options
from runner.cli.terminal import terminal_safe_data
from runner.core import TaskRecord, TaskState
from runner.journal import JOURNAL_NAME, Store
from runner.outputs import META_NAMES, PROBLEM_STATES, InputCopies, run_header, status_rows, video_problem

__all__ = ["COMMANDS", "open_journal", "status", "status_data"]

F = TypeVar("F", bound=Callable[..., Any])

_PROMPT_WIDTH: Final = 40
_ERROR_WIDTH: Final = 60
_STATE_STYLES: Final = {
    TaskState.DONE: "green",
    TaskState.FAILED: "bold red",
    TaskState.EXPIRED: "dark_orange",
    TaskState.CANCELLED: "bright_black",
    TaskState.AMBIGUOUS: "magenta",
    TaskState.PLANNED: "bright_black",
}
_STATE_ORDER: Final = (
    TaskState.DONE,
    TaskState.FAILED,
    TaskState.EXPIRED,
    TaskState.CANCELLED,
    TaskState.AMBIGUOUS,
    TaskState.DOWNLOADING,
    TaskState.SUCCEEDED,
    TaskState.RUNNING,
    TaskState.PENDING,
    TaskState.SUBMITTING,
    TaskState.PLANNED,
)


def open_journal(folder: Path) -> Store | None:
    """The run folder's journal opened read-only, or None (after saying so) when there is none."""
    store = Store.open_readonly(folder / JOURNAL_NAME)
    if store is None:
        click.echo(f"No run has been recorded in {folder} yet (there is no {JOURNAL_NAME}).")
    return store


@click.command()
@click.argument("target", metavar="OUT_OR_MANIFEST", type=click.Path(path_type=Path))
@run_folder_options
@click.option("--all", "show_all", is_flag=True, help="List every task (default: only problems).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON for scripts.")
@click.option(
    "--verify",
    is_flag=True,
    help="Check every done video's size and SHA-256; exit 1 if one is not as recorded.",
)
def status(
    target: Path,
    out: Path,
    name: str | None,
    model: str | None,
    shard: str | None,
    show_all: bool,
    as_json: bool,
    verify: bool,
) -> None:
    """Show how a run stands, from its journal: counts, cost, failures by code, problem tasks.

    Reads only the run folder (no network, no lock: safe while a run is going on).
    """
    folder = find_run_folder(target, out, name, model, shard)
    store = Store.open_readonly(folder / JOURNAL_NAME) if as_json else open_journal(folder)
    if store is None:  # --json: scripts get JSON whatever the folder holds
        if as_json:
            click.echo(json.dumps({"run_folder": str(folder), "state": "not started", "counts": {}}))
        return
    with store:
        data = status_data(folder, store, show_all=show_all, verify=verify)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_status(Console(highlight=False), data)
    if data.get("video_problems"):
        raise SystemExit(1)


def status_data(
    folder: Path, store: Store, *, show_all: bool = False, verify: bool = False
) -> dict[str, Any]:
    """The status as plain data: run facts, counts, failures by code, and the listed tasks
    (`verify`: and the done videos that are missing or altered)."""
    records = store.records()
    header = run_header(folder, store, records)
    rows, _ = status_rows(store, InputCopies(folder, write=False))  # a reader: it copies nothing
    problem_values = {state.value for state in PROBLEM_STATES}
    listed = rows if show_all else [row for row in rows if _is_problem(row, problem_values)]
    return {
        "run_folder": str(folder),
        "manifest": header["manifest"],
        "endpoint": header["endpoint"],
        "state": header["state"],
        "state_detail": header["state_detail"],
        "account": header["account"],
        "accounts": {
            name: {k: v for k, v in share.items() if k != "line"}
            for name, share in header["accounts"].items()
        },
        "shard": header["shard"],
        "started_at": header["started_at"],
        "finished_at": header["finished_at"],
        "wall_time": header["wall_time"],
        "efficiency": header["efficiency"],
        **_numbers(store, header["state"]),
        "meta": {name: store.get_meta(name) for name in META_NAMES},
        "total": len(records),
        "counts": header["counts"],
        "cost": round(sum(record.cost or 0.0 for record in records), 6),
        "currency": header["currency"] or None,
        "failures_by_code": _failures_by_code(records),
        "possible_double_charges": store.double_charges(),
        "tasks_listed": "all" if show_all else "problems",
        "tasks": listed,
    } | ({"video_problems": _video_problems(folder, records)} if verify else {})


#: runs that ended before their tasks did: an efficiency would compare part of a job to all of it
_PART_RUN: Final = frozenset({"running", "interrupted", "stopped"})


def _numbers(store: Store, state: str) -> dict[str, float | None]:
    """The run's times and efficiency as numbers, beside the text of `wall_time`/`efficiency`
    (kept for scripts that read them): Unix seconds, seconds, a ratio; None when unknown."""
    efficiency = None if state in _PART_RUN else _number(store.get_meta("efficiency"))
    return {
        "started_at_unix": _unix(store.get_meta("started_at")),
        "finished_at_unix": _unix(store.get_meta("finished_at")),
        "wall_time_s": _number(store.get_meta("wall_time_s")),
        "efficiency_ratio": efficiency,
    }


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _unix(text: str | None) -> float | None:
    """A journal time (Unix seconds; an ISO 8601 text in folders of earlier versions)."""
    number = _number(text)
    if number is not None or not text:
        return number
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _video_problems(folder: Path, records: list[TaskRecord]) -> list[dict[str, str]]:
    found = []
    for record in records:
        if record.state is TaskState.DONE and (problem := video_problem(folder, record, full=True)):
            found.append({"task": record.id, "path": problem.path, "problem": problem.problem})
    return found


def print_status(console: Console, data: dict[str, Any]) -> None:
    """The human form of `status_data` (its text made terminal-safe)."""
    data = terminal_safe_data(data)
    console.print(Text(data["run_folder"], style="bold"))
    facts = [f"manifest {data['manifest']}", f"endpoint {data['endpoint']}"]
    facts += [f"{name} {data[name]}" for name in ("account", "shard") if data[name]]
    facts.append(f"started {data['started_at']}")
    console.print(Text("  ·  ".join(facts), style="dim"))
    style = {"running": "cyan", "finished": "green", "interrupted": "bold yellow", "stopped": "yellow"}
    console.print(Text(data["state_detail"], style=style.get(data["state"], "")))
    console.print(_counts_line(data))
    cost = f"{data['cost']:.2f} {data['currency'] or ''}".strip()
    console.print(Text(f"Cost {cost}  ·  wall time {data['wall_time']}  ·  efficiency {data['efficiency']}"))
    if len(data["accounts"]) > 1:
        console.print(_accounts_table(data["accounts"], data["currency"] or ""))
    if data["possible_double_charges"]:
        console.print(_double_charges_line(data["possible_double_charges"]))
    if "video_problems" in data:
        console.print(_video_problems_text(data["video_problems"]))
    if data["failures_by_code"]:
        console.print(_failures_table(data["failures_by_code"]))
    _print_tasks(console, data)


def _accounts_table(accounts: dict[str, dict[str, Any]], currency: str) -> Table:
    """What each account sent: its tasks by state and its spend."""
    table = Table(title="Per account", title_justify="left", box=None, pad_edge=False)
    for column in ("account", "tasks", "cost"):
        table.add_column(column, justify="right" if column == "cost" else "left")
    for name, share in accounts.items():
        counts = " · ".join(f"{state} {count}" for state, count in sorted(share["counts"].items()))
        table.add_row(name, counts, f"{share['cost']:.2f} {currency}".strip())
    return table


def _video_problems_text(problems: list[dict[str, str]]) -> Text:
    if not problems:
        return Text("Every done video is present, with the size and SHA-256 recorded.", style="green")
    text = Text(f"{len(problems)} done video(s) are not as recorded:", style="red")
    for item in problems:
        verb = "is" if item["problem"] == "missing" else "has"
        text.append(f"\n  {item['task']}: {item['path']} {verb} {item['problem']}")
    text.append("\n`runner run` (same manifest) downloads them again while DashScope still has them.")
    return text


def _is_problem(row: dict[str, Any], problem_values: set[str]) -> bool:
    return row["state"] in problem_values or bool(row["double_charge_task_ids"])


def _double_charges_line(charges: dict[str, list[str]]) -> Text:
    line = Text(f"Possible double charges: {len(charges)} task(s) ", style="yellow")
    line.append("were sent again after an uncertain submission; DashScope tasks that may have been theirs: ")
    line.append("; ".join(f"{task}: {' '.join(ids)}" for task, ids in charges.items()))
    line.append(" ('?': a task the list could not show)")
    return line


def _counts_line(data: dict[str, Any]) -> Text:
    line = Text(f"{data['total']} tasks: ")
    parts = [(TaskState(s), n) for s, n in data["counts"].items()]
    parts.sort(key=lambda part: _STATE_ORDER.index(part[0]))
    for index, (state, count) in enumerate(parts):
        if index:
            line.append(" · ", style="dim")
        line.append(f"{state.value} {count}", style=_STATE_STYLES.get(state, "cyan"))
    return line


def _failures_by_code(records: list[TaskRecord]) -> dict[str, dict[str, Any]]:
    failures: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.state not in PROBLEM_STATES:
            continue
        code = record.error_code or record.state.value
        entry = failures.setdefault(code, {"count": 0, "sample_task": record.id, "sample_message": None})
        entry["count"] += 1
        if entry["sample_message"] is None and record.error_message:
            entry["sample_message"] = record.error_message
            entry["sample_task"] = record.id
    return dict(sorted(failures.items(), key=lambda item: (-item[1]["count"], item[0])))


def _failures_table(failures: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Problems by code", title_justify="left", expand=False)
    table.add_column("code", style="red")
    table.add_column("tasks", justify="right")
    table.add_column("for example")
    for code, entry in failures.items():
        sample = f"{entry['sample_task']}: {entry['sample_message'] or '(no message)'}"
        table.add_row(Text(code), str(entry["count"]), Text(sample))
    return table


def _print_tasks(console: Console, data: dict[str, Any]) -> None:
    tasks = data["tasks"]
    hidden = data["total"] - len(tasks)
    if tasks:
        title = "Tasks" if data["tasks_listed"] == "all" else "Tasks with problems"
        table = Table(title=title, title_justify="left")
        table.add_column("id", overflow="fold")
        table.add_column("state")
        table.add_column("tries", justify="right")
        table.add_column("seed", justify="right")
        table.add_column("prompt")
        table.add_column("error or video")
        for row in tasks:
            table.add_row(*_task_cells(row))
        console.print(table)
    if not data["total"]:
        console.print("The journal holds no tasks.")
    elif hidden:
        lead = "No problems. " if not tasks else ""
        console.print(Text(f"{lead}{hidden} other tasks not listed; --all lists every task.", style="dim"))


def _cut(text: str, width: int) -> str:
    """One line of at most `width` characters, with an ellipsis when something was cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _task_cells(row: dict[str, Any]) -> tuple[str | Text, ...]:
    state = TaskState(row["state"])
    prompt = _cut(row["prompt"] or "", _PROMPT_WIDTH)
    if row["error_code"] or row["error_message"]:
        error = f"{row['error_code'] or ''}: {row['error_message'] or ''}".strip(": ")
        outcome = Text(_cut(error, _ERROR_WIDTH), style="red")
    else:
        outcome = Text(row["video_path"] or "", style="dim")
    return (
        Text(row["id"]),
        Text(state.value, style=_STATE_STYLES.get(state, "cyan")),
        str(row["attempts"]),
        "" if row["seed"] is None else str(row["seed"]),
        Text(prompt),
        outcome,
    )


COMMANDS: list[click.Command] = [status]
