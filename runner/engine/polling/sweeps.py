"""One list call in place of a GET per task in flight (docs/performance.md).

While nothing of a model waits queued on the server, the poller looks at its tasks in
flight tightly (a finished task's slot is idle until we notice). With two or more of them,
one `GET /tasks?model_name=M&start_time=...` shows every one of them for the price of one
request, so the tight looks are shared: the request count no longer grows with the
concurrency quota. The list says which tasks started (journalled as running from it) and
which ended; the result (video URL, usage, the server's times) comes from the task's own GET.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Final

from runner.api import DashScopeClient
from runner.core import TaskRecord, server_seconds
from runner.engine.polling.estimates import ClockMap
from runner.engine.polling.watches import Watch
from runner.engine.ratelimit import Pacer

__all__ = ["SWEEP_MIN_RUNNING", "list_statuses", "plan_sweep"]

SWEEP_MIN_RUNNING: Final = 2  #: with fewer running tasks, one GET costs no more than one list
_PAGE_SIZE: Final = 100
_MARGIN_S: Final = 1.0  #: the list's times have whole seconds


async def list_statuses(
    client: DashScopeClient, pacer: Pacer, model: str, since: float, wanted: Collection[str]
) -> dict[str, str]:
    """The listed status of each task id in `wanted` (created at or after server time `since`).

    The caller has already paced the first page; later pages are paced here. Ids the list
    does not show are missing from the answer.
    """
    start = datetime.fromtimestamp(since - _MARGIN_S, tz=UTC).strftime("%Y%m%d%H%M%S")
    found: dict[str, str] = {}
    page_no = 1
    while True:
        page = await client.list_tasks(model=model, start=start, page_no=page_no, page_size=_PAGE_SIZE)
        found.update((task.task_id, task.status) for task in page.tasks if task.task_id in wanted)
        if len(found) == len(wanted) or page_no >= page.total_page or not page.tasks:
            return found
        page_no += 1
        await pacer.wait()


def plan_sweep(
    watches: list[Watch], records: dict[str, TaskRecord], clock_map: ClockMap
) -> tuple[list[Watch], list[Watch], float]:
    """Which tasks one list call can show: (those, the others, the server time they were all
    created at or after). A task can be listed once it has a task id and a creation time, its
    own (journalled from a GET) or, for a task not looked at yet, the server's clock at its
    send; the others need their own GET."""
    members, unknown, created = [], [], []
    for watch in watches:
        record = records[watch.task]
        since = server_seconds(record.submit_time)
        if since is None and watch.sent_local is not None:
            since = clock_map.to_server(watch.sent_local)
        if record.task_id is None or since is None:
            unknown.append(watch)
        else:
            members.append(watch)
            created.append(since)
    return members, unknown, min(created, default=0.0)
