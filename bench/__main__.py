"""`python -m bench`: run the benchmark sections, print the summary, write json and BENCHMARKS.md.

python -m bench                    # the full record (about 3 hours on 2 cores), writes BENCHMARKS.md
python -m bench --smoke            # tiny sizes, under a minute (CI); writes into --results only
python -m bench --only efficiency  # one section (efficiency, realtime, sdk, scale, downloads, accounts)
python -m bench --results DIR --write PATH
python -m bench --report-only      # rebuild BENCHMARKS.md from bench/results/*.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import accounts, downloads, efficiency, realtime, scale, sdk_compare
from bench.notes import INTRO, NOTES
from bench.report import SECTIONS, load_results, machine, markdown, summary_rows

ROOT = Path(__file__).resolve().parent.parent
SCALE_TASKS: tuple[int, ...] = (10_000, 100_000)  #: `runner run` sizes of the scale section (--scale-tasks)


def _efficiency(smoke: bool) -> list[dict[str, Any]]:
    rows = []
    for scenario in efficiency.matrix(smoke):
        row = efficiency.run_scenario(scenario)
        print(f"  {row['name']}: LB/makespan {row['efficiency']:.3f}, {row['wall_s']:.0f} s", flush=True)
        rows.append(row)
    return rows


RUNNERS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "efficiency": _efficiency,
    "realtime": realtime.run_section,
    "sdk": sdk_compare.run_section,
    "scale": lambda smoke: scale.run_section(smoke, SCALE_TASKS),
    "downloads": downloads.run_section,
    "accounts": accounts.run_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this section (repeatable)"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results", help="json output folder")
    parser.add_argument(
        "--write", type=Path, help="markdown report path (default BENCHMARKS.md unless --smoke)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild the table and report from the json"
    )
    parser.add_argument(
        "--scale-tasks", type=int, nargs="+", help="run sizes of the scale section (default 10000 100000)"
    )
    args = parser.parse_args(argv)
    if args.scale_tasks:
        global SCALE_TASKS
        SCALE_TASKS = tuple(args.scale_tasks)
    args.results.mkdir(parents=True, exist_ok=True)
    for name in [] if args.report_only else args.only or SECTIONS:
        print(f"[{name}]", flush=True)
        started = time.perf_counter()
        rows = RUNNERS[name](args.smoke)
        data = {
            "section": name,
            "smoke": args.smoke,
            "machine": machine(),
            "rows": rows,
            "wall_s": time.perf_counter() - started,
        }
        (args.results / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    results = load_results(args.results)
    width = max((len(r[0]) for r in summary_rows(results)), default=10)
    for figure, target, value, verdict in summary_rows(results):
        print(f"{figure:<{width}}  {target:<22}  {value:<40}  {verdict.strip('*')}")
    target = args.write or (None if args.smoke else ROOT / "BENCHMARKS.md")
    if target is not None:
        target.write_text(markdown(results, NOTES, INTRO))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
