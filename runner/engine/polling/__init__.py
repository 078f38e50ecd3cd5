"""The poll scheduler and what it needs: when to look, one list call for many, how a task ended.

poller     the loop: a next-look time per task, within the task-endpoint budget
watches    what is known of each task in flight; per model: in flight, backlogged
timing     when to look, from what finished tasks of the same shape took
estimates  the server's clock against ours, and the durations learned
sweeps     one list call for every running task of a model
ends       a task's end, journalled as DashScope reported it
"""

from __future__ import annotations

from runner.engine.polling.poller import Poller, PollListener

__all__ = ["PollListener", "Poller"]
