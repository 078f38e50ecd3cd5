"""What an embedded simulator remembers between processes: its tasks, in an append-only file.

DashScope keeps a task for 24 hours whatever happens to the client. The simulator built into
`runner run` lives in the client's process, so without this file a run stopped with tasks in
flight (Ctrl-C, a crash, a kill) would find them unknown when resumed. With it, the next
process's simulator continues the same timeline: the same seed, the same clock (simulated
time kept running while no process did), every accepted task with its draw, every cancel and
every file in the temporary storage, and the stills its videos are made from.

The file is JSON lines: a header (seed, where simulated time 0 lies in Unix time, a fingerprint
of the rest of the configuration), then one line per accepted task, cancel, upload or still.
A line is flushed as it is written, so a killed process loses nothing it accepted. A file
written under another configuration is not used: the simulator starts afresh and rewrites it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runner.simulator.config import SimConfig
from runner.simulator.draws import TaskDraw
from runner.simulator.errors import Problem
from runner.simulator.models import ModelSpec
from runner.simulator.tasks import Task
from runner.simulator.uploads import StoredObject
from runner.simulator.validation import CreateRequest

__all__ = ["Recollection", "TaskMemory"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Recollection:
    """What a memory file held: the timeline to continue and the events to replay, in order."""

    seed: int
    epoch: float  #: Unix time of simulated time 0 (WallTime's epoch)
    origin: float  #: Unix time at which the scaled clock read 0
    tasks: list[Task]
    cancels: list[tuple[str, float]]  #: (task id, simulated time) of each accepted cancel
    uploads: dict[str, StoredObject]  #: files uploaded to the temporary storage, by key
    stills: list[bytes]  #: the pictures videos are made from (stills.py)


class TaskMemory:
    """The append-only file of one embedded simulator's tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def recall(self, config: SimConfig, models: dict[str, ModelSpec]) -> Recollection | None:
        """The remembered timeline, or None (no file, unreadable, or another configuration)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            header = json.loads(lines[0]) if lines else {}
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if header.get("version") != _VERSION or header.get("config") != _fingerprint(config):
            return None
        if config.seed is not None and header.get("seed") != config.seed:
            return None
        tasks: list[Task] = []
        cancels: list[tuple[str, float]] = []
        uploads: dict[str, StoredObject] = {}
        stills: list[bytes] = []
        for entry in _entries(lines[1:]):  # a line cut short by a kill ends the file
            if "cancel" in entry:
                cancels.append((str(entry["cancel"]), float(entry["at"])))
            elif "upload" in entry:
                uploads[str(entry["upload"])] = _stored(entry)
            elif "still" in entry:
                stills.append(base64.b64decode(entry["jpeg"]))
            else:
                tasks.append(_task(entry, models))
        seed, epoch, origin = int(header["seed"]), float(header["epoch"]), float(header["origin"])
        return Recollection(seed, epoch, origin, tasks, cancels, uploads, stills)

    def begin(self, config: SimConfig, seed: int, epoch: float, origin: float) -> None:
        """Start a fresh file for a new timeline (replacing any other)."""
        self.close()
        header = {
            "version": _VERSION,
            "seed": seed,
            "epoch": epoch,
            "origin": origin,
            "config": _fingerprint(config),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")

    def task(self, task: Task) -> None:
        """Remember an accepted task."""
        request = dataclasses.asdict(task.request) | {"spec": task.request.spec.name}
        self._append(
            {
                "index": task.index,
                "task_id": task.task_id,
                "request_id": task.request_id,
                "body_sha256": task.body_sha256,
                "submit": task.submit,
                "request": request,
                "draw": dataclasses.asdict(task.draw),
            }
        )

    def cancel(self, task_id: str, at: float) -> None:
        """Remember an accepted cancel."""
        self._append({"cancel": task_id, "at": at})

    def upload(self, key: str, stored: StoredObject) -> None:
        """Remember an accepted upload (its first bytes, which is all the simulator keeps)."""
        head = base64.b64encode(stored.head).decode()
        entry = {"upload": key, "head": head, "size": stored.size, "model": stored.model}
        self._append(entry | {"at": stored.uploaded, "still": stored.still})

    def still(self, name: str, jpeg: bytes) -> None:
        """Remember a still a video is made from (each once)."""
        self._append({"still": name, "jpeg": base64.b64encode(jpeg).decode()})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()  # in the kernel: a killed process loses nothing it accepted


def _fingerprint(config: SimConfig) -> str:
    """Everything that shapes the timeline except the seed (a replay must see the same rules)."""
    text = repr(dataclasses.replace(config, seed=None))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _entries(lines: list[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        yield entry


def _stored(entry: dict[str, Any]) -> StoredObject:
    head = base64.b64decode(entry["head"])
    still = entry.get("still")  # a file from before stills has none
    return StoredObject(
        head,
        int(entry["size"]),
        str(entry["model"]),
        float(entry["at"]),
        None if still is None else str(still),
    )


def _task(entry: dict[str, Any], models: dict[str, ModelSpec]) -> Task:
    fields = dict(entry["request"])
    deferred = fields.pop("deferred")
    fields.setdefault("output_seconds", float(fields["duration"]))  # a file from before output shapes
    request = CreateRequest(
        **(fields | {"spec": models[fields["spec"]]}),
        deferred=Problem(**deferred) if deferred else None,
    )
    return Task(
        index=int(entry["index"]),
        task_id=str(entry["task_id"]),
        request_id=str(entry["request_id"]),
        request=request,
        body_sha256=str(entry["body_sha256"]),
        submit=float(entry["submit"]),
        draw=TaskDraw(**entry["draw"]),
    )
