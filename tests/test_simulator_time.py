"""Simulator time: generation-time draws, expiry of tasks and URLs, determinism under a seed."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import pytest
from sim_helpers import AUTH, body, open_sim

from runner.simulator import ManualClock, ScaledClock, SimConfig
from runner.simulator.config import TimingConfig
from runner.simulator.draws import draw_task

pytestmark = pytest.mark.anyio

_DAY = 86_400.0


def _seconds(timing: TimingConfig, n: int = 400, **shape: Any) -> list[float]:
    args = {"resolution": "720P", "duration": 5, **shape}
    return [draw_task(3, i, timing, failure_rates={}, **args).generation_seconds for i in range(n)]


def test_lognormal_draws_center_on_the_median() -> None:
    """Default draws are log-normal around 90 s for 720P/5 s."""
    median = statistics.median(_seconds(TimingConfig()))
    assert 80 < median < 100


def test_generation_time_grows_with_resolution_and_duration() -> None:
    """1080P and longer videos take longer than 480P/5 s on the same draws."""
    timing = TimingConfig(distribution="fixed")
    small = _seconds(timing, 1, resolution="480P")[0]
    large = _seconds(timing, 1, resolution="1080P", duration=10)[0]
    assert small < 90 < large


def test_heavy_distribution_has_a_longer_tail() -> None:
    """The heavy variant's 99th percentile exceeds the log-normal one on the same seed."""
    light = sorted(_seconds(TimingConfig(), 2000))
    heavy = sorted(_seconds(TimingConfig(distribution="heavy", heavy_tail_probability=0.1), 2000))
    assert heavy[1980] > light[1980]


def test_fixed_distribution_is_exactly_the_shaped_median() -> None:
    """distribution=fixed returns the median every time."""
    assert set(_seconds(TimingConfig(distribution="fixed", median_s=60), 20)) == {60.0}


def test_draws_depend_on_seed_and_index_only() -> None:
    """The same (seed, index) gives the same draw; another index gives another."""
    timing = TimingConfig()
    first = draw_task(5, 1, timing, "720P", 5, {"InternalError": 0.5})
    assert first == draw_task(5, 1, timing, "720P", 5, {"InternalError": 0.5})
    assert first != draw_task(5, 2, timing, "720P", 5, {"InternalError": 0.5})


async def _run(seed: int) -> dict[str, Any]:
    config = SimConfig.profile("chaos", seed=seed, epoch=0.0)
    async with open_sim(config) as h:
        for i in range(12):
            await h.submit(body(prompt=f"p{i}"))
            h.clock.advance(0.4)
        h.clock.advance(5000)
        return h.sim.ledger()


async def test_same_seed_gives_the_same_run() -> None:
    """Two simulators with the same seed produce identical ledgers; another seed differs."""
    first, second, other = await _run(11), await _run(11), await _run(12)
    assert first == second
    assert first["submissions"] != other["submissions"]


async def test_task_expires_to_unknown_after_24_hours() -> None:
    """A task is UNKNOWN 24 h after submission, and vanishes from the list."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        h.clock.advance(_DAY - 1)
        assert await h.status(task_id) == "SUCCEEDED"
        h.clock.advance(1)
        assert await h.status(task_id) == "UNKNOWN"
        assert (await h.client.get("/tasks", headers=AUTH)).json()["total"] == 0
        assert h.sim.ledger()["submissions"][0]["expired"] is True


async def test_expiry_can_count_from_the_end_time() -> None:
    """With task_expiry_from=end a task stays visible 24 h after it finished."""
    async with open_sim(task_expiry_from="end", timing={"distribution": "fixed"}) as h:
        task_id = await h.submit_id()
        h.clock.advance(_DAY + 10)
        assert await h.status(task_id) == "SUCCEEDED"


async def test_video_url_expires_with_an_oss_access_denied_body() -> None:
    """After end_time + 24 h the video URL answers 403 AccessDenied 'Request has expired.'."""
    async with open_sim(task_expiry_from="end", timing={"distribution": "fixed"}) as h:
        task_id = await h.submit_id()
        h.clock.advance(600)
        url = (await h.query(task_id))["output"]["video_url"]
        assert (await h.client.get(url)).status_code == 200
        h.clock.advance(_DAY)
        expired = await h.client.get(url)
        assert expired.status_code == 403
        assert expired.headers["content-type"].startswith("application/xml")
        assert "<Code>AccessDenied</Code>" in expired.text and "Request has expired." in expired.text


async def test_expired_url_body_can_be_json() -> None:
    """download_error_format=json renders storage errors as JSON."""
    async with open_sim(url_ttl_s=10.0, download_error_format="json") as h:
        task_id = await h.submit_id()
        h.clock.advance(600)
        url = (await h.query(task_id))["output"]["video_url"]
        h.clock.advance(600)
        assert (await h.client.get(url)).json()["Code"] == "AccessDenied"


async def test_video_url_expires_query_is_end_plus_ttl() -> None:
    """The Expires query of video_url is the unix end time plus url_ttl_s."""
    async with open_sim(epoch=1_000_000.0) as h:
        task_id = await h.submit_id()
        h.clock.advance(3600)
        url = (await h.query(task_id))["output"]["video_url"]
        end = h.sim.ledger()["submissions"][0]["end_time"]
        assert f"Expires={int(1_000_000 + end + _DAY)}&" in url


async def test_running_past_max_run_fails_with_timeout() -> None:
    """A task whose generation would exceed max_run_s FAILS with InternalError.Timeout then."""
    async with open_sim(timing={"max_run_s": 50.0, "dispatch_delay_s": (0.0, 0.0)}) as h:
        task_id = await h.submit_id(body(prompt="slow [sim-time:60]"))
        h.clock.advance(49)
        assert await h.status(task_id) == "RUNNING"
        h.clock.advance(1)
        output = (await h.query(task_id))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", "InternalError.Timeout")


async def test_an_injected_timeout_fails_after_a_short_simulated_time() -> None:
    """[sim-fail:InternalError.Timeout] fails after injected_timeout_s (60 s), not max_run_s (3 h)."""
    async with open_sim(timing={"dispatch_delay_s": (0.0, 0.0)}) as h:
        task_id = await h.submit_id(body(prompt="x [sim-fail:InternalError.Timeout]"))
        h.clock.advance(59)
        assert await h.status(task_id) == "RUNNING"
        h.clock.advance(1)
        output = (await h.query(task_id))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", "InternalError.Timeout")


async def test_prompt_markers_fix_outcome_and_time() -> None:
    """[sim-fail:CODE] fails the task with CODE; [sim-time:N] fixes its run time."""
    async with open_sim(timing={"dispatch_delay_s": (0.0, 0.0)}) as h:
        failing = await h.submit_id(body(prompt="x [sim-fail:IPInfringementSuspect]"))
        timed = await h.submit_id(body(prompt="y [sim-time:30]"))
        h.clock.advance(30)
        assert await h.status(timed) == "SUCCEEDED"
        h.clock.advance(600)
        output = (await h.query(failing))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", "IPInfringementSuspect")
        assert "end_time" in output


def test_scaled_clock_compresses_time() -> None:
    """time_scale=0.001 turns 20 ms of real time into about 20 simulated seconds."""
    clock = ScaledClock(0.001)
    start = clock.now()
    time.sleep(0.02)
    assert 15 < clock.now() - start < 200


def test_manual_clock_cannot_go_backward() -> None:
    """A ManualClock refuses negative advances."""
    clock = ManualClock(5.0)
    clock.advance(1.5)
    assert math.isclose(clock.now(), 6.5)
    with pytest.raises(ValueError, match="backward"):
        clock.advance(-1)
