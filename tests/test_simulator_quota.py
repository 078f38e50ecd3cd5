"""Simulator quotas: fair submit buckets, concurrency caps (queue or reject), task endpoints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import AUTH, body, open_sim

from runner.simulator.quota import TokenBucket

pytestmark = pytest.mark.anyio


@given(
    rate=st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 20.0, 100.0]),
    start=st.floats(min_value=0, max_value=1e6),
)
def test_bucket_never_rejects_a_client_at_exactly_the_rate(rate: float, start: float) -> None:
    """Requests spaced exactly 1/rate apart are never throttled, whatever the start time."""
    bucket = TokenBucket(rate)
    assert all(bucket.try_take(start + i / rate) for i in range(500))


def test_bucket_allows_one_burst_then_throttles() -> None:
    """A full bucket admits `burst` requests at one instant and refuses the next."""
    bucket = TokenBucket(5.0)
    assert [bucket.try_take(10.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.try_take(10.2)


def test_bucket_burst_is_configurable() -> None:
    """burst=1 smooths: two requests at the same instant get one token."""
    bucket = TokenBucket(2.0, burst=1.0)
    assert [bucket.try_take(0.0), bucket.try_take(0.0), bucket.try_take(0.5)] == [True, False, True]


async def test_submit_over_rate_is_throttling_rate_quota() -> None:
    """The 6th wan2.6 submission within one instant is 429 Throttling.RateQuota."""
    async with open_sim() as h:
        codes = [(await h.submit(body(prompt=f"p{i}"))).status_code for i in range(6)]
        assert codes == [200] * 5 + [429]
        throttled = await h.submit(body())
        assert throttled.json()["code"] == "Throttling.RateQuota"
        assert h.sim.ledger()["throttled"] == {"create": 2}


async def test_wan22_rate_is_two_per_second() -> None:
    """wan2.2 models allow 2 submissions per second."""
    async with open_sim() as h:
        codes = [(await h.submit(body("wan2.2-i2v-flash"))).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


async def test_smooth_client_at_quota_is_never_rejected() -> None:
    """A client submitting every 0.2 s to a 5/s model is never throttled over 200 submits."""
    async with open_sim() as h:
        for i in range(200):
            assert (await h.submit(body(prompt=f"p{i}"))).status_code == 200
            h.clock.advance(0.2)


async def test_queue_mode_never_runs_more_than_the_quota() -> None:
    """In queue mode surplus tasks wait PENDING; never more than 2 run at once for wan2.2."""
    async with open_sim() as h:
        ids = []
        for i in range(8):
            ids.append(await h.submit_id(body("wan2.2-i2v-plus", prompt=f"p{i}")))
            h.clock.advance(0.5)
        for _ in range(200):
            statuses = [await h.status(t) for t in ids]
            assert statuses.count("RUNNING") <= 2
            h.clock.advance(13)
        assert [await h.status(t) for t in ids] == ["SUCCEEDED"] * 8
        ledger = h.sim.ledger()
        assert ledger["peak_running"] == {"wan2.2-i2v-plus": 2}
        spans = sorted((s["scheduled_time"], s["end_time"]) for s in ledger["submissions"])
        for start, _ in spans:
            assert sum(1 for s, e in spans if s <= start < e) <= 2


async def test_queued_tasks_start_when_a_slot_frees() -> None:
    """A queued task's scheduled time is the end time of the task whose slot it takes."""
    async with open_sim(timing={"distribution": "fixed", "dispatch_delay_s": (0.0, 0.0)}) as h:
        first = await h.submit_id(body("wan2.2-i2v-plus"))
        second = await h.submit_id(body("wan2.2-i2v-plus", prompt="b"))
        h.clock.advance(1)
        third = await h.submit_id(body("wan2.2-i2v-plus", prompt="c"))
        assert await h.status(third) == "PENDING"
        h.clock.advance(10_000)
        by_id = {s["task_id"]: s for s in h.sim.ledger()["submissions"]}
        assert by_id[third]["scheduled_time"] == min(by_id[first]["end_time"], by_id[second]["end_time"])


async def test_reject_mode_refuses_beyond_concurrency() -> None:
    """With concurrency_mode=reject the third active wan2.2 task is 429."""
    async with open_sim(concurrency_mode="reject") as h:
        await h.submit_id(body("wan2.2-i2v-plus"))
        await h.submit_id(body("wan2.2-i2v-plus", prompt="b"))
        h.clock.advance(1.0)
        refused = await h.submit(body("wan2.2-i2v-plus", prompt="c"))
        assert refused.status_code == 429
        h.clock.advance(7200)
        assert (await h.submit(body("wan2.2-i2v-plus", prompt="d"))).status_code == 200


async def test_max_queued_bounds_the_backlog() -> None:
    """With max_queued=1, a wan2.2 model accepts 2 running + 1 queued and refuses the 4th."""
    async with open_sim(max_queued=1, burst=10.0) as h:
        codes = [(await h.submit(body("wan2.2-i2v-plus", prompt=f"{i}"))).status_code for i in range(4)]
        assert codes == [200, 200, 200, 429]


async def test_model_overrides_change_quotas() -> None:
    """A models override raises wan2.6-i2v-flash to 10 per second."""
    async with open_sim(models={"wan2.6-i2v-flash": {"submit_rate": 10.0}}) as h:
        codes = [(await h.submit(body(prompt=f"{i}"))).status_code for i in range(11)]
        assert codes == [200] * 10 + [429]


async def test_task_endpoints_share_twenty_per_second() -> None:
    """Query, list and cancel share 20 requests/s by default; the 21st is 429."""
    async with open_sim() as h:
        codes = [(await h.client.get("/tasks/x", headers=AUTH)).status_code for _ in range(15)]
        codes += [(await h.client.get("/tasks", headers=AUTH)).status_code for _ in range(6)]
        assert codes == [200] * 20 + [429]
        assert (await h.client.get("/tasks/x", headers=AUTH)).json()["code"] == "Throttling.RateQuota"


async def test_task_endpoint_budgets_can_be_separate() -> None:
    """With task_rate_scope=per_endpoint, list has its own 20/s beside query."""
    async with open_sim(task_rate_scope="per_endpoint") as h:
        queries = [(await h.client.get("/tasks/x", headers=AUTH)).status_code for _ in range(20)]
        lists = [(await h.client.get("/tasks", headers=AUTH)).status_code for _ in range(20)]
        assert set(queries) == {200} and set(lists) == {200}


async def test_retry_after_header_is_a_switch() -> None:
    """retry_after_header=true adds Retry-After to 429 replies; off by default."""
    async with open_sim(retry_after_header=True, request_id_header=True) as h:
        for i in range(5):
            await h.submit(body(prompt=f"{i}"))
        refused = await h.submit(body())
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["x-request-id"] == refused.json()["request_id"]
    async with open_sim() as h:
        for i in range(5):
            await h.submit(body(prompt=f"{i}"))
        assert "retry-after" not in (await h.submit(body())).headers
