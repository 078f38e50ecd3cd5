"""Simulator fault injection: every kind, by script, window and rate, deterministic by seed."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from sim_helpers import AUTH, body, open_sim

from runner.simulator import SimConfig, SimulatedDisconnect

pytestmark = pytest.mark.anyio


def _script(endpoint: str, kind: str, nth: int = 1, **faults: Any) -> dict[str, Any]:
    return {"faults": {"script": [{"endpoint": endpoint, "nth": nth, "kind": kind}], **faults}}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("500", 500, "InternalError"),
        ("503", 503, "ModelUnavailable"),
        ("504", 504, "RequestTimeOut"),
        ("429", 429, "Throttling.RateQuota"),
    ],
)
@pytest.mark.parametrize("endpoint", ["create", "query", "list", "cancel", "upload_policy"])
async def test_scripted_http_errors_on_any_endpoint(kind: str, status: int, code: str, endpoint: str) -> None:
    """A scripted fault answers that request with its status and a JSON error body."""
    async with open_sim(**_script(endpoint, kind)) as h:
        requests = {
            "create": lambda: h.submit(body()),
            "query": lambda: h.client.get("/tasks/x", headers=AUTH),
            "list": lambda: h.client.get("/tasks", headers=AUTH),
            "cancel": lambda: h.client.post("/tasks/x/cancel", headers=AUTH),
            "upload_policy": lambda: h.client.get(
                "/uploads?action=getPolicy&model=wan2.6-i2v-flash", headers=AUTH
            ),
        }
        response = await requests[endpoint]()
        assert response.status_code == status and response.json()["code"] == code
        assert (await requests[endpoint]()).status_code != status or endpoint == "cancel"
        assert h.sim.ledger()["faults"] == {kind: 1}


async def test_dropped_connection_is_a_transport_error_and_not_processed() -> None:
    """A drop raises an httpx transport error; the create was not processed."""
    async with open_sim(**_script("create", "drop")) as h:
        with pytest.raises(httpx.TransportError):
            await h.submit(body())
        ledger = h.sim.ledger()
        assert ledger["submissions"] == [] and ledger["requests"]["create"] == {"0": 1}


async def test_lost_reply_creates_the_task_but_drops_the_answer() -> None:
    """A lost reply leaves an accepted task (in ledger and list) while the client sees a drop."""
    async with open_sim(**_script("create", "lost_reply")) as h:
        with pytest.raises(SimulatedDisconnect):
            await h.submit(body())
        entry = h.sim.ledger()["submissions"][0]
        assert entry["reply_lost"] is True
        listing = (await h.client.get("/tasks", headers=AUTH)).json()
        assert [row["task_id"] for row in listing["data"]] == [entry["task_id"]]


async def test_lost_reply_can_be_a_504() -> None:
    """lost_reply_mode=504 answers 504 although the task exists and counts against quota."""
    async with open_sim(**_script("create", "lost_reply", lost_reply_mode="504")) as h:
        response = await h.submit(body())
        assert response.status_code == 504
        assert len(h.sim.ledger()["submissions"]) == 1


async def test_429_storm_window_rejects_everything_inside_it() -> None:
    """Every create inside a storm window is 429; before and after it they pass."""
    storm = {"faults": {"windows": [{"kind": "429", "start": 10.0, "end": 20.0}]}}
    async with open_sim(**storm) as h:
        assert (await h.submit(body(prompt="a"))).status_code == 200
        h.clock.advance(10)
        assert [(await h.submit(body())).status_code for _ in range(3)] == [429] * 3
        assert (await h.client.get("/tasks", headers=AUTH)).status_code == 200
        h.clock.advance(10)
        assert (await h.submit(body(prompt="b"))).status_code == 200
        assert h.sim.ledger()["throttled"] == {"create": 3}


async def test_slow_response_lets_simulated_time_pass() -> None:
    """A slow fault holds the reply for slow_seconds of simulated time, then answers normally."""
    async with open_sim(**_script("query", "slow", slow_seconds=42.0)) as h:
        response = await h.client.get("/tasks/x", headers=AUTH)
        assert response.status_code == 200 and h.clock.now() == 42.0


@pytest.mark.parametrize("code", ["InternalError", "InternalError.Timeout", "DataInspectionFailed"])
async def test_task_level_failures_by_code(code: str) -> None:
    """A task failure rate of 1 FAILS every task with that code and its message."""
    async with open_sim(faults={"task_failure_rates": {code: 1.0}}) as h:
        task_id = await h.submit_id()
        h.clock.advance(20_000)
        output = (await h.query(task_id))["output"]
        assert (output["task_status"], output["code"]) == ("FAILED", code)
        assert output["message"] and "video_url" not in output


async def _video_url(h: Any) -> str:
    task_id = await h.submit_id()
    h.clock.advance(7200)
    return str((await h.query(task_id))["output"]["video_url"])


async def test_truncated_download_breaks_mid_body() -> None:
    """A truncated download promises the full length, sends part, then breaks the connection."""
    async with open_sim(**_script("download", "truncate")) as h:
        url = await _video_url(h)
        with pytest.raises(httpx.RemoteProtocolError):
            await h.client.get(url)
        assert (await h.client.get(url)).status_code == 200
        assert h.sim.ledger()["downloads"]["truncated"] == 1


async def test_reset_download_breaks_before_the_body() -> None:
    """A reset download fails with a transport error before any video byte."""
    async with open_sim(**_script("download", "reset")) as h:
        url = await _video_url(h)
        with pytest.raises(httpx.TransportError):
            await h.client.get(url)
        assert h.sim.ledger()["downloads"]["reset"] == 1


async def test_expired_url_fault_answers_access_denied() -> None:
    """An expired-URL fault answers 403 AccessDenied although the URL is still valid."""
    async with open_sim(**_script("download", "expired")) as h:
        url = await _video_url(h)
        response = await h.client.get(url)
        assert response.status_code == 403 and "Request has expired." in response.text
        assert (await h.client.get(url)).status_code == 200


async def test_rates_outside_listed_endpoints_do_not_apply() -> None:
    """Request fault rates only hit the endpoints listed in faults.endpoints."""
    async with open_sim(faults={"http_500_rate": 1.0, "endpoints": ["list"]}) as h:
        assert (await h.submit(body())).status_code == 200
        assert (await h.client.get("/tasks", headers=AUTH)).status_code == 500


async def test_chaos_profile_mixes_faults_deterministically() -> None:
    """The chaos profile injects several fault kinds, identically for the same seed."""

    async def run() -> dict[str, int]:
        async with open_sim(SimConfig.profile("chaos", seed=3)) as h:
            for i in range(300):
                with contextlib.suppress(httpx.TransportError):
                    await h.client.get(f"/tasks/{i}", headers=AUTH)
                h.clock.advance(0.1)
            return dict(h.sim.ledger()["faults"])

    first = await run()
    assert first == await run()
    assert {"500", "503", "drop", "slow"} <= set(first)
    assert sum(first.values()) < 60
