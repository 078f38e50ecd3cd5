"""The few lines `runner run` ends with: what got done, what failed and why, what was
uncertain, what it cost and took (and the one duration format every output uses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from runner.core import RunSummary

__all__ = ["format_duration", "render_summary", "stop_advice"]


def render_summary(summary: RunSummary) -> str:
    """A few lines for a person: what got done, what failed and why, what it cost and took."""
    lines = [_done_line(summary)]
    if summary.failed:
        codes = ", ".join(f"{count} {code}" for code, count in _by_count(summary.failed_by_code))
        lines.append(f"Failed: {summary.failed}" + (f" ({codes})" if codes else "") + ".")
    other = [
        f"{label}: {count}"
        for label, count in (
            ("Expired", summary.expired),
            ("Cancelled", summary.cancelled),
            ("Not finished", summary.unfinished),
        )
        if count
    ]
    if other:
        lines.append(", ".join(other) + ".")
    if summary.reconciled or summary.resubmitted_after_ambiguity:
        lines.append(
            f"Uncertain submissions: {summary.reconciled} found on the server and adopted, "
            f"{summary.resubmitted_after_ambiguity} confirmed missing and submitted again."
        )
    if summary.possible_double_charges:
        lines.append(_double_charge_line(summary.possible_double_charges))
    lines.extend(
        f"Account {name!r} was taken out of the run: {why} Check its key, balance and access to "
        "the model; its tasks already sent finish on the next run once it works."
        for name, why in summary.dropped_accounts.items()
        if summary.stopped_reason != "account"  # then the error below says it
    )
    lines.append(_cost_line(summary))
    if summary.stopped_reason:
        lines.append(stop_advice(summary.stopped_reason))
    return "\n".join(lines)


#: why a run stopped early, and what to do about it (the tasks in flight stay in the journal)
_STOP_ADVICE: Final = {
    "max-cost": "Stopped: the cost cap (--max-cost or limits.max_cost) was reached. Raise it and run the "
    "same command again to go on; what was paid for is kept.",
    "max-wall-time": "Stopped: the wall-time limit was reached. Run the same command again to go on; "
    "tasks in flight are looked up, not paid for again.",
    "account": "Stopped: DashScope refused the account (the error below says why). Check the API key, "
    "the account's balance and its access to the model, then run the same command again.",
    "interrupted": "Stopped by Ctrl-C or a signal. Run the same command again to resume.",
    "disk-full": "Stopped: the disk is full. Free some space, then run the same command again.",
    "unreachable": "Stopped: DashScope could not be reached. Check the network or proxy, then run the "
    "same command again.",
}


def stop_advice(reason: str) -> str:
    """What stopped the run and what to do next, as one sentence or two."""
    return _STOP_ADVICE.get(reason, f"Stopped early ({reason}); run the same command again to resume.")


def format_duration(seconds: float) -> str:
    """`42.1 s`, `3 min 20 s`, `2 h 05 min`: every duration runner prints reads this way."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _done_line(summary: RunSummary) -> str:
    line = f"Done: {summary.done} of {summary.total} tasks"
    if summary.skipped:
        line += f" ({summary.skipped} already done before this run)"
    return line + "."


def _double_charge_line(charges: Mapping[str, list[str]]) -> str:
    """Which tasks may have been paid twice, naming the DashScope tasks left unclaimed."""
    shown = "; ".join(
        f"{task}: {', '.join(ids) or 'no longer listed'}" for task, ids in list(charges.items())[:5]
    )
    more = f"; and {len(charges) - 5} more (status.csv)" if len(charges) > 5 else ""
    return (
        f"Possible double charges: {len(charges)} task(s) were sent again after an uncertain "
        f"submission the task list could not settle; the DashScope tasks that may be theirs "
        f"('?': one the list could not show): {shown}{more}."
    )


def _cost_line(summary: RunSummary) -> str:
    cost = f"Cost: {summary.cost_this_run:.2f} {summary.currency} this run"
    if round(summary.cost, 2) != round(summary.cost_this_run, 2):
        cost += f" ({summary.cost:.2f} {summary.currency} for the whole folder)"
    parts = [
        cost,
        f"wall time: {format_duration(summary.wall_time_s)}",
    ]
    if summary.efficiency is not None:
        parts.append(f"efficiency: {summary.efficiency:.0%} of the quota's best possible time")
    return ", ".join(parts) + "."


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
