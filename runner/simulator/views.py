"""Wire bodies built from state: task query output, the task list, the ledger (usage: usage.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.simulator.errors import ApiError
from runner.simulator.usage import usage

if TYPE_CHECKING:
    from runner.simulator.state import Simulator
    from runner.simulator.tasks import Task

__all__ = ["list_body", "query_output", "render_ledger"]

_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
_DAY = 86_400.0


def query_output(sim: Simulator, task: Task, now: float, base_url: str) -> dict[str, Any]:
    """The `output` (and `usage`) of GET /tasks/{id} for a known, unexpired task."""
    status = sim.status(task, now)
    output: dict[str, Any] = {"task_id": task.task_id, "task_status": status}
    output["submit_time"] = sim.wall.stamp(task.submit)
    if task.scheduled is not None:
        output["scheduled_time"] = sim.wall.stamp(task.scheduled)
    finished = task.finished_at()
    if status in ("SUCCEEDED", "FAILED", "CANCELED") and finished is not None:
        output["end_time"] = sim.wall.stamp(finished)
    if status == "FAILED" and task.failure is not None:
        output["code"], output["message"] = task.failure
    if status != "SUCCEEDED":
        return {"output": output}
    request = task.request
    if request.prompt is not None:
        output["orig_prompt"] = request.prompt
        if request.prompt_extend and task.spec.rules.actual_prompt:
            output["actual_prompt"] = f"{request.prompt} Cinematic lighting, smooth camera motion."
    output["video_url"] = video_url(sim, task, base_url)
    return {"output": output, "usage": usage(task)}


def video_url(sim: Simulator, task: Task, base_url: str) -> str:
    """The signed, expiring download URL on the host the request came in on."""
    expires = sim.url_expires(task)
    signature = sim.signature(task.task_id, expires)
    return (
        f"{base_url}_oss/videos/{task.task_id}.mp4?Expires={expires}"
        f"&OSSAccessKeyId=LTAI5tSimulatorKeyId&Signature={signature}"
    )


def list_body(sim: Simulator, query: dict[str, str], now: float) -> dict[str, Any]:
    """GET /tasks: filters, a window of at most 24 h, paging (docs/dashscope-api.md)."""
    start, end = _window(sim, query, now)
    page_no = _positive(query, "page_no", 1)
    page_size = min(_positive(query, "page_size", 10), sim.config.list_max_page_size)
    status = query.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, "InvalidParameter", f"Unknown status filter {status!r}.")
    rows = []
    for task in reversed(sim.board.tasks.values()):  # newest first: tasks are kept in creation order
        if task.submit < start:
            break
        current = sim.status(task, now)
        if current == "UNKNOWN" or task.submit > end:
            continue
        if query.get("task_id") not in (None, task.task_id):
            continue
        if query.get("model_name") not in (None, task.spec.name):
            continue
        if status is not None and current != status:
            continue
        rows.append(_list_row(sim, task, current))
    total = len(rows)
    page = rows[(page_no - 1) * page_size : page_no * page_size]
    return {
        "total": total,
        "total_page": -(-total // page_size),
        "page_no": page_no,
        "page_size": page_size,
        "data": page,
    }


def _list_row(sim: Simulator, task: Task, status: str) -> dict[str, Any]:
    spec = task.spec
    row: dict[str, Any] = {
        "api_key_id": "sim-api-key-1",
        "caller_parent_id": "sim-account",
        "caller_uid": "sim-account",
        "gmt_create": sim.wall.millis(task.submit),
        "model_name": spec.name,
        "region": sim.config.region,
        "request_id": task.request_id,
        "status": status,
        "task_id": task.task_id,
        "user_api_unique_key": f"apikey:v1:aigc:{spec.path_segment}:video-synthesis:{spec.name}",
    }
    if task.scheduled is not None:
        row["start_time"] = sim.wall.millis(task.scheduled)
    finished = task.finished_at()
    if status in ("SUCCEEDED", "FAILED", "CANCELED") and finished is not None:
        row["end_time"] = sim.wall.millis(finished)
    return row


def _window(sim: Simulator, query: dict[str, str], now: float) -> tuple[float, float]:
    """The [start, end] filter in simulated seconds; one bound given means the other ±24 h."""
    try:
        start = sim.wall.parse_compact(query["start_time"]) if "start_time" in query else None
        end = sim.wall.parse_compact(query["end_time"]) if "end_time" in query else None
    except ValueError:
        raise ApiError(
            400, "InvalidParameter", "start_time and end_time must be formatted YYYYMMDDhhmmss."
        ) from None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - _DAY
    if end is None:
        end = start + _DAY
    if end - start > _DAY + 1:
        raise ApiError(
            400, "InvalidParameter", "The time window between start_time and end_time exceeds 24 hours."
        )
    return start, end + 1.0  # the compact format has whole seconds: include the last one


def _positive(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, "InvalidParameter", f"{name} must be a positive integer, got {text!r}.")
    return int(text)


def render_ledger(sim: Simulator) -> dict[str, Any]:
    """The ledger: every accepted submission plus the counters (shape in the package docs)."""
    now = sim.now()
    submissions = []
    for task in sorted(sim.board.tasks.values(), key=lambda t: t.index):
        status = task.live_status(now)
        entry: dict[str, Any] = {
            "index": task.index,
            "task_id": task.task_id,
            "model": task.spec.name,
            "request_sha256": task.body_sha256,
            "prompt": task.request.prompt,
            "submit_time": task.submit,
            "dispatch_delay_s": task.draw.dispatch_delay,
            "scheduled_time": task.scheduled,
            "end_time": task.finished_at() if status in ("SUCCEEDED", "FAILED", "CANCELED") else None,
            "status": status,
            "expired": sim.status(task, now) == "UNKNOWN",
            "code": task.failure[0] if status == "FAILED" and task.failure else None,
            "reply_lost": task.reply_lost,
            "video_sha256": None,
            "video_bytes": None,
        }
        if status == "SUCCEEDED":
            entry["video_sha256"], entry["video_bytes"] = sim.video_facts(task)
        submissions.append(entry)
    return {
        "now": now,
        "epoch": sim.wall.epoch,
        "seed": sim.seed,
        "time_scale": sim.config.time_scale,
        "submissions": submissions,
        "peak_running": sim.board.peaks(),
        **sim.ledger_data.summary(),
    }
