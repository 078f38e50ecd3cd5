"""`--format jsonl`: one result per line, in the spirit of batch-API result files.

    results.jsonl              one line per task, in manifest order
    videos/<id>.mp4
    inputs/<sha16>.<ext>       the inputs the lines name
    export.json

Each line pairs the request with what came back, as a batch API's output file does:
`custom_id` (the task id), `request` (model, prompts, inputs, every parameter sent),
`response` (DashScope's task and request ids, the prompt as the model used it, usage, times,
cost) or null, `video` (path, sha256, size and the probed facts) or null, and `error` (code
and message) or null. Paths are relative to the folder; times are UTC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from runner.outputs.export.folder import Placer
from runner.outputs.export.rows import INPUT_COLUMNS, ExportRow, Selection
from runner.outputs.videos import VIDEOS_DIR

__all__ = ["RESULTS_NAME", "result_line", "write_jsonl"]

RESULTS_NAME: Final = "results.jsonl"
_VIDEO_FACTS: Final = ("width", "height", "fps", "frames", "video_duration", "codec", "has_audio")


def write_jsonl(stage: Path, run_dir: Path, selection: Selection, placer: Placer) -> None:
    """Write results.jsonl and the files it names into `stage`."""
    with (stage / RESULTS_NAME).open("w", encoding="utf-8") as handle:
        for row in selection.rows:
            for relative in row.inputs:
                placer.place(run_dir / relative, stage / relative)
            if row.video is not None:
                placer.place(row.video, stage / VIDEOS_DIR / f"{row.spec.id}.mp4")
            handle.write(json.dumps(result_line(row), ensure_ascii=False) + "\n")


def result_line(row: ExportRow) -> dict[str, Any]:
    """One task as a result line (see the module's docstring)."""
    data, record = row.data, row.record
    response = None
    if record.task_id is not None:
        response = {
            "task_id": record.task_id,
            "request_id": record.request_id,
            "task_status": "SUCCEEDED" if row.video is not None else data["state"].upper(),
            "actual_prompt": record.actual_prompt,
            "usage": record.usage,
            "submit_time": data["submit_time"],
            "scheduled_time": data["scheduled_time"],
            "end_time": data["end_time"],
            "cost": record.cost,
            "attempts": record.attempts,
        }
    video = None
    if row.video is not None:
        path = f"{VIDEOS_DIR}/{row.spec.id}.mp4"
        video = {"path": path, "sha256": record.video_sha256, "size": record.video_size}
        video |= {name: data[name] for name in _VIDEO_FACTS}
    error = (
        None if record.error_code is None else {"code": record.error_code, "message": record.error_message}
    )
    return {
        "custom_id": row.spec.id,
        "key": row.spec.key,
        "source": data["source"],
        "request": {
            "model": row.spec.model,
            "prompt": row.spec.prompt,
            "negative_prompt": row.spec.negative_prompt,
            "inputs": {
                name: data[name] for name in (*INPUT_COLUMNS, "img_sha256", "audio_sha256") if data[name]
            },
            "parameters": dict(row.spec.parameters),
            "variant": row.spec.variant,
        },
        "response": response,
        "video": video,
        "error": error,
        "meta": dict(row.spec.meta),
    }
