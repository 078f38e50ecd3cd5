"""The simulated service's state and its operations, independent of HTTP.

`Simulator` owns the clock, the task board, the quotas, the uploads, the stills its videos
are made from and the ledger. The routes in app.py parse requests and render replies; every
decision is made here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import replace
from typing import Any

from runner.simulator.clock import Clock, ScaledClock, WallTime
from runner.simulator.config import SimConfig
from runner.simulator.draws import draw_task, seeded_uuid
from runner.simulator.errors import ApiError
from runner.simulator.faults import FaultPlan
from runner.simulator.ledger import Ledger
from runner.simulator.media import decode_data_url
from runner.simulator.memory import Recollection, TaskMemory
from runner.simulator.models import ModelSpec, model_table
from runner.simulator.quota import RateBook
from runner.simulator.scenes import Scene
from runner.simulator.stills import StillStore
from runner.simulator.tasks import Task, TaskBoard
from runner.simulator.uploads import UploadStore
from runner.simulator.validation import validate_create
from runner.simulator.video import CLIP_FPS, VideoLayout, clip_bytes, clip_size
from runner.simulator.views import render_ledger

__all__ = ["THROTTLED", "Simulator", "canonical_sha256"]

THROTTLED = "Requests rate limit exceeded, please try again later."
_CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."
_SIM_MARKER = re.compile(r"\s*\[sim-(?:fail|time):[^\]]*\]")  # directives to the simulator, not scenery


def canonical_sha256(body: Any) -> str:
    """sha256 of json.dumps(body, sort_keys=True, separators=(",", ":"))."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Simulator:
    """The fake DashScope account: tasks, quotas, uploads, faults and the ledger."""

    def __init__(
        self, config: SimConfig, clock: Clock | None = None, memory: TaskMemory | None = None
    ) -> None:
        """`memory`: a file that keeps the tasks for the next process's simulator, which takes
        them up and continues this one's timeline (with the real-time clock only)."""
        self.config = config
        self.models: dict[str, ModelSpec] = model_table(config.models)
        self.memory = memory if clock is None else None
        recalled = self.memory.recall(config, self.models) if self.memory is not None else None
        seed = recalled.seed if recalled else config.seed
        self.seed: int = secrets.randbelow(2**31) if seed is None else seed
        started = time.time()
        self._origin = recalled.origin if recalled else started  #: Unix time when the clock read 0
        elapsed = (started - self._origin) / config.time_scale  # it kept running while no process did
        self.clock: Clock = clock or ScaledClock(config.time_scale, elapsed)
        epoch = recalled.epoch if recalled else config.epoch if config.epoch is not None else started
        self.wall = WallTime(epoch, config.utc_offset_hours)
        self.faults = FaultPlan(config.faults, self.seed)
        self._url_secret = hashlib.sha256(f"url-secret:{self.seed}".encode()).digest()
        self._generation = -1  # bumped by every reset, so ids never repeat after one
        self.remembered = 0  #: tasks taken up from the memory file
        self._forget()
        if recalled:
            self._take_up(recalled)
        elif self.memory is not None:
            self.memory.begin(config, self.seed, epoch, self._origin)

    def reset(self) -> None:
        """Forget every task, upload, quota and counter (the clock keeps running).

        Draws restart (the same seed replays the same run) but ids do not repeat.
        """
        self._forget()
        if self.memory is not None:  # a new timeline for the next process, too
            self.memory.begin(self.config, self.seed, self.wall.epoch, self._origin)

    def _forget(self) -> None:
        config = self.config
        self._generation += 1
        self.board = TaskBoard(self.models, config.timing)
        self.rates = RateBook()
        self.ledger_data = Ledger()
        self.uploads = UploadStore(
            self.seed, config.upload_policy_ttl_s, config.upload_ttl_s, config.upload_max_file_mb
        )
        self.stills = StillStore(on_new=self.memory.still if self.memory is not None else None)
        self._numbers: dict[str, int] = {}
        self._submissions = 0
        self._request_ids = 0
        self._videos: dict[str, tuple[str, int]] = {}

    def _take_up(self, recalled: Recollection) -> None:
        """Replay a remembered timeline: the same tasks in the same lanes, at the same times."""
        cancels = iter(sorted(recalled.cancels, key=lambda cancel: cancel[1]))
        pending = next(cancels, None)
        for task in recalled.tasks:
            while pending is not None and pending[1] <= task.submit:
                self.board.cancel(self.board.tasks[pending[0]], pending[1])
                pending = next(cancels, None)
            self.board.advance(task.submit)
            self.board.add(task)
            self.ledger_data.count_body(task.body_sha256)
            self.board.advance(task.submit)
        for task_id, at in ([pending] if pending else []) + list(cancels):
            self.board.cancel(self.board.tasks[task_id], at)
        self.uploads.objects.update(recalled.uploads)
        for still in recalled.stills:
            self.stills.add(still, remembered=True)
        self._submissions = max((task.index for task in recalled.tasks), default=0)
        self._generation += 1  # new request and task ids never repeat remembered ones
        self.remembered = len(recalled.tasks)

    # -- time, ids, auth ---------------------------------------------------------------

    def now(self) -> float:
        """Current simulated time, with every lane brought up to it."""
        now = self.clock.now()
        self.board.advance(now)
        return now

    def new_request_id(self) -> str:
        """A fresh request id (deterministic under the seed)."""
        self._request_ids += 1
        return seeded_uuid(self.seed, "request", self._generation, self._request_ids)

    def next_number(self, endpoint: str) -> int:
        """The 1-based count of requests to `endpoint` including this one."""
        self._numbers[endpoint] = self._numbers.get(endpoint, 0) + 1
        return self._numbers[endpoint]

    def check_auth(self, authorization: str | None) -> None:
        """Raise 401 InvalidApiKey unless the Bearer key is the configured one."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "InvalidApiKey", "No API-key provided.")
        expected = self.config.api_key
        if expected is not None and not hmac.compare_digest(key, expected):
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")

    def take_task_token(self, endpoint: str, now: float) -> None:
        """Raise 429 if the task endpoints' rate (shared or per endpoint) is exhausted."""
        name = "tasks" if self.config.task_rate_scope == "shared" else f"tasks:{endpoint}"
        rate = self.config.task_endpoint_rate
        if not self.rates.try_take(name, rate, None, now):
            raise ApiError(429, "Throttling.RateQuota", THROTTLED)

    # -- create ------------------------------------------------------------------------

    def create(self, body: Any, segment: str, oss_enabled: bool, request_id: str) -> Task:
        """Validate, enforce the model's quotas and queue a task; raise ApiError to refuse."""
        now = self.now()
        request = validate_create(
            body,
            segment,
            oss_enabled,
            self.models,
            self.config,
            lambda url, model: self.uploads.resolve(url, model, now),
            self._still_of,
        )
        spec = request.spec
        if not self.rates.try_take(f"submit:{spec.name}", spec.submit_rate, self.config.burst, now):
            raise ApiError(429, "Throttling.RateQuota", THROTTLED)
        self._check_concurrency(spec, now)
        self._submissions += 1
        index = self._submissions
        draw = draw_task(
            self.seed,
            index,
            self.config.timing,
            request.resolution,
            request.output_seconds,
            self.config.faults.task_failure_rates,
        )
        task = Task(
            index=index,
            task_id=seeded_uuid(self.seed, "task", self._generation, index),
            request_id=request_id,
            request=request,
            body_sha256=canonical_sha256(body),
            submit=now,
            draw=draw,
        )
        self.board.add(task)
        self.ledger_data.count_body(task.body_sha256)
        self.board.advance(now)
        if self.memory is not None:
            self.memory.task(task)
        return task

    def _still_of(self, url: str) -> str | None:
        """The still of an input the simulator holds: a data: URL's image or an upload."""
        if url.startswith("oss://"):
            return self.uploads.still(url)
        decoded = decode_data_url(url) if url.startswith("data:") else None
        return self.stills.from_bytes(decoded[1]) if isinstance(decoded, tuple) else None

    def _check_concurrency(self, spec: ModelSpec, now: float) -> None:
        lane = self.board.lane(spec.name)
        active = lane.active(now)
        if self.config.concurrency_mode == "reject" and active >= spec.concurrency:
            raise ApiError(429, "Throttling.RateQuota", THROTTLED)
        limit = self.config.max_queued
        if limit is not None and active - spec.concurrency >= limit:
            raise ApiError(429, "Throttling.RateQuota", THROTTLED)

    # -- query, cancel -----------------------------------------------------------------

    def find(self, task_id: str, now: float) -> Task | None:
        """The task with this id if it exists and has not expired."""
        task = self.board.tasks.get(task_id)
        if task is None or self.status(task, now) == "UNKNOWN":
            return None
        return task

    def status(self, task: Task, now: float) -> str:
        """The task's wire status at `now` (UNKNOWN once expired)."""
        return task.status(now, self.config.task_ttl_s, self.config.task_expiry_from)

    def cancel(self, task_id: str) -> None:
        """Cancel a PENDING task; raise 400 UnsupportedOperation otherwise."""
        now = self.now()
        task = self.find(task_id, now)
        if task is None and self.config.cancel_unknown == "not_found":
            raise ApiError(404, "NotFound", f"The task {task_id} does not exist.")
        if task is None or not self.board.cancel(task, now):
            raise ApiError(400, "UnsupportedOperation", _CANCEL_REFUSED)
        if self.memory is not None:
            self.memory.cancel(task_id, now)

    def remember_upload(self, key: str) -> None:
        """Keep an accepted upload for the next process's simulator (objects live 48 hours)."""
        if self.memory is not None:
            self.memory.upload(key, self.uploads.objects[key])

    # -- videos ------------------------------------------------------------------------

    def video(self, task: Task) -> VideoLayout:
        """The video layout of a finished task: its clip shows the task's own pictures and prompt,
        in the request's aspect and length."""
        request = task.request
        width, height = clip_size(request.ratio)
        scene = Scene(width, height, frames=round(request.output_seconds * CLIP_FPS))
        if self.config.video_content == "scene":
            caption = _SIM_MARKER.sub("", request.prompt or "").strip()
            first, last = self.stills.get(request.first_still), self.stills.get(request.last_still)
            scene = replace(scene, caption=caption, first=first, last=last)
        return VideoLayout(task.task_id, self.config.video_bytes, clip_bytes(scene))

    def video_facts(self, task: Task) -> tuple[str, int]:
        """sha256 and size of a task's video, computed once."""
        if task.task_id not in self._videos:
            layout = self.video(task)
            self._videos[task.task_id] = (layout.sha256(), layout.size)
        return self._videos[task.task_id]

    def url_expires(self, task: Task) -> int:
        """Unix time at which the task's video URL stops working."""
        assert task.end is not None
        return int(self.wall.unix(task.end + self.config.url_ttl_s))

    def signature(self, task_id: str, expires: int) -> str:
        """The URL signature for a task's video and expiry."""
        message = f"{task_id}:{expires}".encode()
        return hmac.new(self._url_secret, message, hashlib.sha256).hexdigest()[:28]

    def ledger(self) -> dict[str, Any]:
        """Everything the simulator recorded, as plain JSON-ready data."""
        return render_ledger(self)
