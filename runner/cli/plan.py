"""`runner plan MANIFEST`: what a run would do, cost and take, without contacting any server
(the plan itself: runner.session.plans, shared with `runner.plan`).

(`--check-urls` is the one exception: it asks each remote media URL's host for a HEAD.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import anyio
import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner.cli.options import manifest_options
from runner.cli.terminal import terminal_safe
from runner.manifest import Manifest
from runner.outputs import format_duration
from runner.planning import Disposition, Plan, UrlCheck, check_urls, remote_urls
from runner.session import ManifestOptions, plan_run, simulator_time_scale

__all__ = ["COMMANDS", "plan"]

F = TypeVar("F", bound=Callable[..., Any])

_STYLES = {
    Disposition.NEW: "green",
    Disposition.CHANGED: "yellow",
    Disposition.IN_FLIGHT: "cyan",
    Disposition.FAILED: "red",
    Disposition.DONE: "dim",
}
_LABELS = {d: d.value.replace("_", " ") for d in Disposition}


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))  # the loader explains a folder
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("outputs"),
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON for scripts.")
@click.option("--all", "show_all", is_flag=True, help="List every task (default: the first 50).")
@click.option(
    "--check-urls",
    "check_remote",
    is_flag=True,
    help="HEAD each distinct http(s) image/audio URL; exit 1 if any fails.",
)
@manifest_options
def plan(
    manifest: Path, out: Path, as_json: bool, show_all: bool, check_remote: bool, **options: Any
) -> None:
    """Show what `runner run MANIFEST` would do: tasks, what is already done, cost and time.

    Contacts no server and writes nothing. Exits 1 listing every problem when the
    manifest is not valid. With --check-urls, asks each remote media URL's host (never
    DashScope) whether it serves an image or audio file, and exits 1 if one does not.
    """
    planned = plan_run(manifest, cast(ManifestOptions, options | {"out": out}))
    loaded, result, folder = planned.manifest, planned.plan, planned.folder
    checked = anyio.run(check_urls_of, loaded) if check_remote else None
    if as_json:
        data = planned.to_dict()
        if checked is not None:
            data["url_check"] = [dataclasses.asdict(check) for check in checked]
        click.echo(json.dumps(data, indent=2))
    else:
        _print_plan(Console(highlight=False), loaded, result, folder, planned.has_journal, show_all)
        if checked is not None:
            _print_url_check(checked)
    if checked is not None and any(check.problem for check in checked):
        raise SystemExit(1)


async def check_urls_of(manifest: Manifest) -> list[UrlCheck]:
    """The URL check of every distinct remote media URL of `manifest`."""
    return await check_urls(remote_urls(manifest.specs))


def _print_url_check(checked: list[UrlCheck]) -> None:
    bad = [check for check in checked if check.problem]
    click.echo(f"\nURL check: {len(checked)} distinct remote URLs, {len(bad)} with problems.")
    for check in bad:
        click.echo(f"  {check.kind} {check.url}: {check.problem}")


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _print_plan(
    console: Console, manifest: Manifest, result: Plan, folder: Path, has_journal: bool, show_all: bool
) -> None:
    count = len(result.tasks)
    part = manifest.part
    shard = f" (shard {part.shard} of {part.manifest_tasks:,})" if part and part.shard else ""
    console.print(
        f"[bold]{manifest.name}[/bold]: {count:,} task{'s' if count != 1 else ''}{shard}"
        f" from {manifest.source} → {folder}  (endpoint {result.endpoint.name})"
    )
    console.print(_task_table(result, show_all, console.width))
    shown = len(result.tasks) if show_all else min(len(result.tasks), 50)
    if shown < count:
        console.print(f"… and {count - shown:,} more (use --all to list every task)")
    console.print(_status_line(result, has_journal))
    console.print(_cost_table(result))
    _print_wall_time(console, result)
    _print_caps(console, manifest, result)
    for line in [*manifest.warnings, *result.notes]:
        console.print(Text(f"note: {terminal_safe(line)}", style="yellow"))


def _task_table(result: Plan, show_all: bool, width: int) -> Table:
    tasks = result.tasks if show_all else result.tasks[:50]
    model_w = max((len(t.spec.model) for t in tasks), default=5)
    seed_w = max([4, *(len(str(t.spec.seed)) for t in tasks if t.spec.seed is not None)])
    fixed = 6 * 3 + model_w + 5 + 4 + seed_w + 9  # separators with padding, and the short columns
    longest_id = max((len(t.spec.id) for t in tasks), default=2)
    id_w = min(longest_id, max(16, (width - fixed) * 3 // 5))
    prompt_w = max(8, width - fixed - id_w)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id", no_wrap=True, overflow="ellipsis", width=id_w)
    table.add_column("model", no_wrap=True, width=model_w)
    table.add_column("res", no_wrap=True, width=5)
    table.add_column("dur", justify="right", no_wrap=True, width=4)
    table.add_column("seed", justify="right", no_wrap=True, width=seed_w)
    table.add_column("status", no_wrap=True, width=9)
    table.add_column("prompt", no_wrap=True, overflow="ellipsis", width=prompt_w)
    for task in tasks:
        spec = task.spec
        prompt = Text(terminal_safe(" ".join((spec.prompt or "").split())), no_wrap=True, overflow="ellipsis")
        table.add_row(
            spec.id,
            spec.model,
            spec.resolution,
            _DURATION_WORDS.get(spec.duration, f"{spec.duration}s"),
            "" if spec.seed is None else str(spec.seed),
            Text(_LABELS[task.disposition], style=_STYLES[task.disposition]),
            prompt,
        )
    return table


#: the durations that are not a length: the model chooses (wan3.0), the input's (video editing)
_DURATION_WORDS: Final = {-1: "auto", 0: "keep"}


def _status_line(result: Plan, has_journal: bool) -> str:
    if not has_journal:
        return f"No run folder yet: all {len(result.tasks):,} tasks are new."
    parts = [f"{n:,} {_LABELS[d]}" for d, n in result.counts.items() if n]
    line = "Journal: " + ", ".join(parts) + "."
    failed = result.counts[Disposition.FAILED]
    if failed:
        line += f" The {failed:,} failed run again only with --retry-failed."
    return line


def _cost_table(result: Plan) -> Table:
    table = Table(title=f"Estimated cost ({result.currency})", title_justify="left", show_edge=False)
    for name, justify in (
        ("model", "left"),
        ("resolution", "left"),
        ("tasks", "right"),
        ("billed s", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("cost", justify="right")
    for line in result.costs:
        table.add_row(
            line.model, line.resolution, f"{line.tasks:,}", f"{line.seconds:,.0f}", f"{line.cost:,.2f}"
        )
    table.add_row("total", "", f"{result.to_run:,}", "", Text(f"{result.total_cost:,.2f}", style="bold"))
    if result.counts[Disposition.FAILED]:
        table.add_row(
            "retry failed", "", f"{result.counts[Disposition.FAILED]:,}", "", f"{result.retry_cost:,.2f}"
        )
    return table


def _print_wall_time(console: Console, result: Plan) -> None:
    if not result.estimates:
        console.print("Nothing to run.")
        return
    simulated = result.endpoint.is_simulator
    where = " on DashScope" if simulated else ""
    console.print(f"Estimated wall time{where}: about [bold]{format_duration(result.wall_s)}[/bold]")
    for e in result.estimates:
        console.print(
            f"  {e.model}: {e.tasks:,} task{'' if e.tasks == 1 else 's'}, {e.submit_rate:g} submits/s,"
            f" {e.concurrency} at once"
            f" → {format_duration(e.wall_s)}"
        )
    if len(result.estimates) > 1:
        console.print(
            "  Each model's tasks run within that model's own quota, side by side; the run takes as"
            " long as its slowest model."
        )
    if simulated:  # the same simulated seconds, compressed
        scale = simulator_time_scale("default")
        console.print(
            f"Estimated wall time on the built-in simulator at its default speed (time scale {scale:g}): "
            f"about [bold]{format_duration(result.wall_s * scale)}[/bold]"
        )


def _print_caps(console: Console, manifest: Manifest, result: Plan) -> None:
    limits = manifest.limits
    if limits.max_cost is not None and result.total_cost > limits.max_cost:
        console.print(
            Text(
                f"max_cost {_money(limits.max_cost, result.currency)} is below the estimate; "
                "the run would stop early (exit 4) and resume next time.",
                style="yellow",
            )
        )
    scale = simulator_time_scale("default") if result.endpoint.is_simulator else 1.0
    if limits.max_wall_time is not None and result.wall_s * scale > limits.max_wall_time:
        console.print(
            Text(
                f"max_wall_time {format_duration(limits.max_wall_time)} is below the estimate; "
                "the run would stop early (exit 4) and resume next time.",
                style="yellow",
            )
        )


COMMANDS: list[click.Command] = [plan]
