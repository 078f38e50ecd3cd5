"""The baseline: a batch run with the official `dashscope` SDK, the way its documentation teaches.

`VideoSynthesis.async_call` then `VideoSynthesis.wait` for each task, in a thread pool sized
to the concurrency quota, then the video streamed to disk with httpx. No retries beyond what
the SDK does itself: a task whose call or wait fails is counted as failed.

    python bench/sdk_baseline.py URL TASKS.json OUT_DIR --workers 5

TASKS.json: [{"id", "model", "prompt", "img_url", "parameters": {...}}]. Prints one JSON
line: {"done": n, "failed": n, "errors": {...}, "videos": {id: {"task_id", "path"}}}.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dashscope
import httpx
from dashscope import VideoSynthesis

__all__ = ["run_one"]


def run_one(task: dict[str, Any], out: Path) -> dict[str, Any]:
    """Submit, wait, download one task; its outcome."""
    try:
        submitted = VideoSynthesis.async_call(
            model=task["model"], prompt=task["prompt"], img_url=task["img_url"], **task["parameters"]
        )
        if submitted.status_code != 200:
            return {"id": task["id"], "error": f"submit {submitted.status_code} {submitted.code}"}
        result = VideoSynthesis.wait(submitted)
        if result.status_code != 200 or result.output.task_status != "SUCCEEDED":
            return {"id": task["id"], "error": f"task {result.output.task_status} {result.code}"}
        path = out / f"{task['id']}.mp4"
        with httpx.stream("GET", result.output.video_url, timeout=60) as response:
            response.raise_for_status()
            with path.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        return {"id": task["id"], "task_id": result.output.task_id, "path": str(path)}
    except Exception as error:  # the baseline counts every failure, whatever it is
        return {"id": task["id"], "error": type(error).__name__}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("tasks", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=5)
    args = parser.parse_args()
    dashscope.base_http_api_url = args.url
    dashscope.api_key = "sk-sim-local"
    tasks = json.loads(args.tasks.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(lambda t: run_one(t, args.out), tasks))
    errors = Counter(o["error"] for o in outcomes if "error" in o)
    videos = {o["id"]: {"task_id": o["task_id"], "path": o["path"]} for o in outcomes if "path" in o}
    print(
        json.dumps({"done": len(videos), "failed": sum(errors.values()), "errors": errors, "videos": videos})
    )


if __name__ == "__main__":
    main()
