"""One list call in place of a GET per running task (docs/performance.md).

While nothing of a model waits queued on the server, the poller looks at its running
tasks tightly (a finished task's slot is idle until we notice). With two or more of them
running, one `GET /tasks?model_name=M&start_time=...` shows every one of them for the
price of one request, so the tight looks are shared: the request count no longer grows
with the concurrency quota. The list only says which tasks changed; the result (video
URL, usage, times) still comes from the task's own GET.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Final

from runner.api import DashScopeClient
from runner.engine.ratelimit import Pacer

__all__ = ["SWEEP_MIN_RUNNING", "list_statuses"]

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
