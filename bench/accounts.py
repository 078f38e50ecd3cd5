"""Section 5: makespan against the number of accounts, driven by one process or by K shards.

For K in ACCOUNTS, K `runner sim serve` processes act as K accounts (wan2.6-i2v-flash, 5/s
and 5 at once each); a manifest lists them under `accounts:`. Two ways to drive them:
one `runner run M` (every account in one process, the next task to whichever account frees
a slot first), and K processes running `runner run M --shard i/K` side by side, shard i on
account i. The makespan runs from the start of the first process to the end of the last; LB
is the lower bound of the same generation times on the K accounts' quotas pooled (K x 5 at
once, K x 5/s); CPU time and peak memory show what driving the accounts costs.

    python -m bench.accounts          # the section alone, printed
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

import yaml

from bench.processes import SIM_KEY, Measured, measure, serve
from runner.core.efficiency import makespan_lower_bound

__all__ = ["run_section", "summary_rows", "table"]

ACCOUNTS: Final = (1, 2, 4, 8)
TASKS: Final = 200
SCALE: Final = 0.02  #: real seconds per server second: 90 s tasks take about 1.8 s
QUOTA: Final = 5  #: wan2.6-i2v-flash: 5 submissions/s, 5 at once


def _manifest(urls: list[str], count: int) -> dict[str, Any]:
    return {
        "name": "accounts",
        "model": "wan2.6-i2v-flash",
        "defaults": {"resolution": "720P", "duration": 5, "audio": False},
        "accounts": [
            {"name": f"a{i}", "endpoint": url, "api_key_env": f"BENCH_KEY_{i}"} for i, url in enumerate(urls)
        ],
        "tasks": [
            {
                "id": f"t{i:04d}",
                "prompt": f"A harbour at dawn, take {i}",
                "img_url": f"https://img.example/{i}.png",
            }
            for i in range(count)
        ],
    }


def run_accounts(accounts: int, count: int, *, one_process: bool) -> dict[str, Any]:
    """One row: K accounts and `count` tasks, in one process or in K shards (one per account)."""
    settings = {"seed": 5, "time_scale": SCALE, "video_bytes": 64 * 1024}
    processes = 1 if one_process else accounts
    with tempfile.TemporaryDirectory(prefix="bench-accounts-") as tmp, ExitStack() as stack:
        sims = [stack.enter_context(serve(settings | {"seed": 5 + i})) for i in range(accounts)]
        manifest = Path(tmp) / "accounts.yaml"
        manifest.write_text(yaml.safe_dump(_manifest([sim.url for sim in sims], count)))
        env = {f"BENCH_KEY_{i}": SIM_KEY for i in range(accounts)}
        runs: list[Measured | None] = [None] * processes
        started = time.perf_counter()
        threads = [
            threading.Thread(target=_run_part, args=(runs, i, processes, manifest, Path(tmp), env))
            for i in range(processes)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        makespan = time.perf_counter() - started
        ledgers = [sim.ledger() for sim in sims]
    done = [run for run in runs if run is not None]
    durations = [
        (s["end_time"] - s["scheduled_time"]) * SCALE
        for ledger in ledgers
        for s in ledger["submissions"]
        if s["scheduled_time"] is not None and s["end_time"] is not None
    ]
    pool = accounts * QUOTA
    return {
        "mode": "one process" if one_process else "shards",
        "accounts": accounts,
        "tasks": count,
        "created": sum(len(ledger["submissions"]) for ledger in ledgers),
        "makespan_s": makespan,
        "lb_s": makespan_lower_bound(durations, pool, pool / SCALE),
        "peak_running": [max(ledger["peak_running"].values(), default=0) for ledger in ledgers],
        "cpu_s_per_process": sum(run.cpu_s for run in done) / len(done),
        "cpu_s_total": sum(run.cpu_s for run in done),
        "peak_mb_per_process": max(run.peak_mb for run in done),
        "exits": [run.returncode for run in done],
    }


def _run_part(
    runs: list[Measured | None], index: int, count: int, manifest: Path, tmp: Path, env: dict[str, str]
) -> None:
    """Process `index` of `count`: the whole manifest when alone, else shard `index/count`."""
    command = [sys.executable, "-m", "runner", "run", str(manifest)]
    if count > 1:
        command += ["--shard", f"{index}/{count}"]
    runs[index] = measure([*command, "--out", str(tmp / "out"), "--no-progress"], env=env)


def run_section(smoke: bool) -> list[dict[str, Any]]:
    rows = []
    for one_process in (True, False):
        for accounts in (1, 2) if smoke else ACCOUNTS:
            if accounts == 1 and not one_process:
                continue  # one shard of one account is the one-process run
            row = run_accounts(accounts, 8 if smoke else TASKS, one_process=one_process)
            print(
                f"  {accounts} accounts, {row['mode']}: makespan {row['makespan_s']:.1f} s, "
                f"LB {row['lb_s']:.1f} s",
                flush=True,
            )
            rows.append(row)
    return rows


def summary_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Every task created once, and the makespan shrinking with each account added."""
    rows = [{"mode": "shards", **row} for row in data["rows"]]  # earlier records: shards only
    once = all(row["created"] == row["tasks"] and set(row["exits"]) == {0} for row in rows)
    result = [
        (
            "Accounts: every task created once, every run exit 0",
            "yes",
            "yes" if once else "no",
            _verdict(once),
        )
    ]
    for mode in ("one process", "shards"):
        chosen = [row for row in rows if row["mode"] == mode or row["accounts"] == 1]
        if len(chosen) < 2:
            continue
        spans = [row["makespan_s"] for row in chosen]
        faster = all(later < earlier for earlier, later in itertools.pairwise(spans))
        first, last = chosen[0], chosen[-1]
        speedup = f"{first['makespan_s'] / last['makespan_s']:.1f}x with {last['accounts']} accounts"
        result.append(
            (f"Accounts ({mode}): makespan falls with each account added", "yes", speedup, _verdict(faster))
        )
    return result


def table(data: dict[str, Any]) -> str:
    rows = [{"mode": "shards", **row} for row in data["rows"]]
    header = ["Accounts", "Driven by", "Tasks", "Makespan (s)", "LB (s)", "LB/makespan"]
    header += ["Peak running per account", "CPU, all processes (s)", "Peak MB per process"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        driven = "1 process" if r["mode"] == "one process" else f"{r['accounts']} shard processes"
        cells = [
            str(r["accounts"]),
            driven,
            str(r["tasks"]),
            f"{r['makespan_s']:.1f}",
            f"{r['lb_s']:.1f}",
            f"{r['lb_s'] / r['makespan_s']:.3f}",
            ", ".join(str(p) for p in r["peak_running"]),
            f"{r.get('cpu_s_total', r['cpu_s_per_process'] * len(r['exits'])):.2f}",
            f"{r['peak_mb_per_process']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


if __name__ == "__main__":
    for result in run_section(smoke="--smoke" in sys.argv):
        print(result)
