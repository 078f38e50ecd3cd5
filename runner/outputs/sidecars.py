"""Sidecars: `videos/<id>.json` beside each video, its provenance as plain JSON.

The request (local inputs by path and hash, data: URLs by mime and hash, never their bytes),
the DashScope task and request ids, the prompt as the model used it, usage, times, cost,
the video's hash and size, and the endpoint that made it: enough to rebuild a lost journal
(runner.engine.rebuild) and to cite the video in a dataset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from runner import __version__
from runner.core import MediaRef, TaskRecord, TaskSpec
from runner.outputs.durable import DISK_FULL_ERRNOS, atomic_write
from runner.outputs.videos import VIDEOS_DIR, check_task_name, disk_full_error

__all__ = ["media_provenance", "sidecar_data", "write_sidecar"]


def write_sidecar(run_dir: Path, spec: TaskSpec, record: TaskRecord, endpoint: str | None = None) -> Path:
    """Write `videos/<task>.json`, the video's provenance, atomically; returns its path.
    `endpoint`: the identity of the service that made it (runner.core.catalog.Endpoint.identity).
    DownloadError(disk_full=True) when the disk is full (no `.part` is left)."""
    check_task_name(spec.id)
    path = run_dir / VIDEOS_DIR / f"{spec.id}.json"
    data = sidecar_data(spec, record) | {"endpoint": endpoint}
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    try:
        with atomic_write(path) as part:
            part.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        if exc.errno not in DISK_FULL_ERRNOS:
            raise
        raise disk_full_error(run_dir, f"the sidecar of task {spec.id!r}") from exc
    return path


def sidecar_data(spec: TaskSpec, record: TaskRecord) -> dict[str, Any]:
    """The provenance of one task as plain JSON data (no data: bytes, no signed URLs)."""
    return {
        "id": spec.id,
        "key": spec.key,
        "runner_version": __version__,
        "request": {
            "model": spec.model,
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "media": [{"type": item.role, **media_provenance(item.ref)} for item in spec.media],
            "image": None if spec.image is None else media_provenance(spec.image),
            "audio": None if spec.audio is None else media_provenance(spec.audio),
            "parameters": dict(spec.parameters),
            "variant": spec.variant,
        },
        "meta": dict(spec.meta),
        "source": spec.location,
        "task_id": record.task_id,
        "request_id": record.request_id,
        "account": record.account,
        "orig_prompt": record.orig_prompt,
        "actual_prompt": record.actual_prompt,
        "usage": record.usage,
        "submit_time": record.submit_time,
        "scheduled_time": record.scheduled_time,
        "end_time": record.end_time,
        "attempts": record.attempts,
        "video": {"path": record.video_path, "sha256": record.video_sha256, "size": record.video_size},
        "cost": record.cost,
    }


def media_provenance(media: MediaRef) -> dict[str, Any]:
    """How an input is recorded: local files by path and hash, data: URLs by mime and hash only."""
    if media.path is not None:
        return {"path": media.path, "sha256": media.sha256, "size": media.size, "mime": media.mime}
    url = media.url or ""
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or media.mime
        return {"data_url": True, "mime": mime, "sha256": hashlib.sha256(url.encode()).hexdigest()}
    return {"url": url}
